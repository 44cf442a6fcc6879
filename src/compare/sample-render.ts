// Turns a captured response into what a sample shows: status, headers with secrets redacted (the
// headers the mirror policy strips or overrides on the copy, and well-known credentials), and the
// body as bounded, readable text.

import type { HeaderOps } from '../model/route-table.js';
import { REDACTED, redactedNames, redactJson, redactTextLines, SecretValues } from './redaction.js';
import { bodyKind, decodeBody, mediaType } from './body-kind.js';
import type { CapturedResponse } from './response-diff.js';

/** Bytes of body text kept in a sample. */
export const SAMPLE_BODY_MAX = 4096;
export { REDACTED, redactedNames };

export interface SampleSide {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly kind: 'json' | 'text' | 'binary' | 'not-retained';
  /** Pretty JSON, text, or a description ("2048 bytes, not retained: …"). */
  readonly body: string;
  /** The body text was cut at SAMPLE_BODY_MAX. */
  readonly bodyCut: boolean;
  readonly size: number;
  readonly latencyMs: number;
}

function cut(s: string): { text: string; cut: boolean } {
  return s.length > SAMPLE_BODY_MAX
    ? { text: s.slice(0, SAMPLE_BODY_MAX), cut: true }
    : { text: s, cut: false };
}

/**
 * A response as a sample shows it. `secrets` are the values found in this request's responses
 * (redaction.ts): they are removed from the body text wherever they appear.
 */
export function renderSide(
  r: CapturedResponse,
  ops: HeaderOps | undefined,
  secrets: SecretValues = new SecretValues(),
): SampleSide {
  const names = redactedNames(ops);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) {
    if (v === undefined) continue;
    const name = k.toLowerCase();
    headers[name] = names.has(name) ? REDACTED : secrets.scrub(Array.isArray(v) ? v.join(', ') : v);
  }
  const base = { status: r.status, headers, size: r.size, latencyMs: Math.round(r.latencyMs * 100) / 100 };
  if (r.truncated)
    return {
      ...base,
      kind: 'not-retained',
      body: `${r.size}+ bytes: over the policy's compare.maxBodyBytes, body not compared`,
      bodyCut: false,
    };
  if (!r.body)
    return {
      ...base,
      kind: 'not-retained',
      body: `${r.size} bytes, sha256 ${r.sha256 ?? '?'}: not retained (retained-body memory budget full), compared by size and hash`,
      bodyCut: false,
    };
  const body = decodeBody(r.body, r.headers, SAMPLE_BODY_MAX * 64) ?? r.body;
  const kind = bodyKind(mediaType(r.headers), body);
  if (kind === 'binary')
    return { ...base, kind, body: `${body.length} bytes of binary data`, bodyCut: false };
  let text = body.toString('utf8');
  let parsed = false;
  if (kind === 'json') {
    try {
      text = JSON.stringify(redactJson(JSON.parse(text), names, secrets), null, 2);
      parsed = true;
    } catch {
      // Not valid JSON after all: shown as sent (redacted as text below).
    }
  }
  if (!parsed) text = redactTextLines(text, names, secrets);
  const c = cut(secrets.scrub(text));
  return { ...base, kind, body: c.text, bodyCut: c.cut };
}
