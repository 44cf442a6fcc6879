// Compares two captured responses — status, headers (minus hop-by-hop, volatile and ignored ones)
// and body (JSON field by field, text as text, binary or over-budget bodies by size and hash).

import { createHash } from 'node:crypto';
import type { CompareSettings } from '../model/route-table.js';
import { bodyKind, decodeBody, headerValue, mediaType, type Headers } from './body-kind.js';
import { IgnoreMatcher } from './field-path.js';
import { diffJson, shortValue, type FieldDiff } from './json-diff.js';
import { firstDifferentLine, splitLines } from './text-diff.js';

/** A response as the comparison holds it. */
export interface CapturedResponse {
  readonly status: number;
  readonly headers: Headers;
  /** The body when retained; null when only its size and hash were kept (or it was too large). */
  readonly body: Buffer | null;
  /** Bytes received (the whole body, also when not retained). */
  readonly size: number;
  /** Hex SHA-256 of the body when it was not retained because of the memory budget. */
  readonly sha256?: string;
  /** Larger than maxBodyBytes: the body cannot be compared. */
  readonly truncated: boolean;
  /** Over the global memory budget: compared by size and hash only. */
  readonly hashOnly: boolean;
  /** From the start of the primary request to the end of this response. */
  readonly latencyMs: number;
}

/** How the bodies of a pair were compared. */
export type BodyMode = 'json' | 'text' | 'binary' | 'hash' | 'truncated';

export interface ResponseDiff {
  readonly diffs: FieldDiff[];
  readonly mode: BodyMode;
  /** The diff stopped early (too many differences). */
  readonly capped: boolean;
}

/** Headers that differ between any two responses for reasons that say nothing about the version. */
const ALWAYS_IGNORED = [
  'date',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'x-envoy-upstream-service-time',
  'age',
];

/** CompareSettings prepared once per table (cached by identity, never per request). */
export interface CompiledCompare {
  readonly ignoreHeaders: ReadonlySet<string>;
  readonly ignore: IgnoreMatcher;
  readonly maxBodyBytes: number;
}

const compiled = new WeakMap<CompareSettings, CompiledCompare>();

export function compileCompare(s: CompareSettings): CompiledCompare {
  let c = compiled.get(s);
  if (!c) {
    c = {
      ignoreHeaders: new Set([...ALWAYS_IGNORED, ...s.ignoreHeaders.map((h) => h.toLowerCase())]),
      ignore: new IgnoreMatcher(s.ignoreFields),
      maxBodyBytes: s.maxBodyBytes,
    };
    compiled.set(s, c);
  }
  return c;
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function sizeAndHash(r: CapturedResponse): string {
  return `${r.size} bytes, sha256 ${(r.sha256 ?? (r.body ? sha256(r.body) : '?')).slice(0, 16)}`;
}

/** Parsed JSON, or a marker when the text is not JSON. */
const NOT_JSON = Symbol('not-json');
function parseJson(b: Buffer): unknown {
  try {
    return JSON.parse(b.toString('utf8'));
  } catch {
    return NOT_JSON;
  }
}

/**
 * The primary is compared twice per request (with the candidate, and with the baseline): its
 * decoded body and parsed JSON are kept for the second time. Weak: gone with the response.
 */
const decodedCache = new WeakMap<CapturedResponse, Buffer>();
const parsedCache = new WeakMap<CapturedResponse, unknown>();

function decoded(r: CapturedResponse, body: Buffer, limit: number): Buffer {
  let d = decodedCache.get(r);
  if (!d) decodedCache.set(r, (d = decodeBody(body, r.headers, limit) ?? body));
  return d;
}

function parsed(r: CapturedResponse, body: Buffer): unknown {
  if (parsedCache.has(r)) return parsedCache.get(r);
  const v = parseJson(body);
  parsedCache.set(r, v);
  return v;
}

function diffHeaders(a: Headers, b: Headers, ignored: ReadonlySet<string>, out: FieldDiff[]): void {
  const names = new Set<string>();
  for (const k of Object.keys(a)) names.add(k.toLowerCase());
  for (const k of Object.keys(b)) names.add(k.toLowerCase());
  for (const name of names) {
    if (ignored.has(name)) continue;
    const va = headerValue(a, name);
    const vb = headerValue(b, name);
    if (va === vb) continue;
    const field = `header:${name}`;
    if (va === undefined) out.push({ path: field, field, kind: 'added', other: shortValue(vb) });
    else if (vb === undefined) out.push({ path: field, field, kind: 'removed', primary: shortValue(va) });
    else out.push({ path: field, field, kind: 'changed', primary: shortValue(va), other: shortValue(vb) });
  }
}

/** Differences between the primary `a` and another response `b` (a candidate or a baseline). */
export function diffResponses(a: CapturedResponse, b: CapturedResponse, c: CompiledCompare): ResponseDiff {
  const diffs: FieldDiff[] = [];
  if (a.status !== b.status)
    diffs.push({
      path: 'status',
      field: 'status',
      kind: 'changed',
      primary: String(a.status),
      other: String(b.status),
    });
  diffHeaders(a.headers, b.headers, c.ignoreHeaders, diffs);
  if (a.truncated || b.truncated) return { diffs, mode: 'truncated', capped: false };
  if (a.hashOnly || b.hashOnly || !a.body || !b.body) {
    const ha = a.sha256 ?? (a.body ? sha256(a.body) : '');
    const hb = b.sha256 ?? (b.body ? sha256(b.body) : '');
    if (a.size !== b.size || ha !== hb)
      diffs.push({
        path: 'body',
        field: 'body',
        kind: 'changed',
        primary: sizeAndHash(a),
        other: sizeAndHash(b),
      });
    return { diffs, mode: 'hash', capped: false };
  }
  const limit = c.maxBodyBytes * 8;
  const ba = decoded(a, a.body, limit);
  const bb = decoded(b, b.body, limit);
  const kind = bodyKind(mediaType(a.headers), ba);
  if (kind === 'json') {
    const ja = parsed(a, ba);
    const jb = parsed(b, bb);
    if (ja !== NOT_JSON && jb !== NOT_JSON) {
      const r = diffJson(ja, jb, c.ignore);
      diffs.push(...r.diffs);
      return { diffs, mode: 'json', capped: r.capped };
    }
    if (ja !== NOT_JSON || jb !== NOT_JSON) {
      diffs.push({
        path: 'body',
        field: 'body',
        kind: 'type',
        primary: ja === NOT_JSON ? 'not JSON' : 'JSON',
        other: jb === NOT_JSON ? 'not JSON' : 'JSON',
      });
      return { diffs, mode: 'json', capped: false };
    }
  }
  if (kind !== 'binary') {
    if (!ba.equals(bb)) {
      const la = splitLines(ba.toString('utf8'));
      const lb = splitLines(bb.toString('utf8'));
      const i = firstDifferentLine(la, lb);
      if (i < 0)
        diffs.push({
          path: 'body',
          field: 'body',
          kind: 'changed',
          primary: `${ba.length} bytes`,
          other: `${bb.length} bytes (same lines; line endings differ)`,
        });
      else
        diffs.push({
          path: 'body',
          field: 'body',
          kind: 'changed',
          primary: `line ${i + 1}: ${shortValue(la[i] ?? '')}`,
          other: `line ${i + 1}: ${shortValue(lb[i] ?? '')}`,
        });
    }
    return { diffs, mode: 'text', capped: false };
  }
  if (!ba.equals(bb))
    diffs.push({
      path: 'body',
      field: 'body',
      kind: 'changed',
      primary: `${ba.length} bytes, sha256 ${sha256(ba).slice(0, 16)}`,
      other: `${bb.length} bytes, sha256 ${sha256(bb).slice(0, 16)}`,
    });
  return { diffs, mode: 'binary', capped: false };
}
