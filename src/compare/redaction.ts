// Keeps secrets out of everything comparison keeps (report examples, samples, the database): the
// headers a MirrorPolicy removes from or sets on the copy, and well-known credentials, are redacted
// in headers, in JSON bodies (under a key of that name, as echo services like httpbin's /headers
// return them), in text bodies ("Name: value" lines), and wherever else their values appear. A body
// field that differs only because the policy removed or changed that header is not a difference.

import type { HeaderOps } from '../model/route-table.js';
import type { FieldDiff } from './json-diff.js';

export const REDACTED = '[redacted]';

/** Always redacted: credentials and session state. */
const SENSITIVE = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-auth-token',
];
const DEFAULT_NAMES: ReadonlySet<string> = withCookies(new Set(SENSITIVE));

/** Values shorter than this are not hunted in free text: "1" or "on" would redact half a page. */
const MIN_SECRET_LENGTH = 6;

/** httpbin's /cookies answers {"cookies": {...}}: a removed Cookie header shows under that key. */
function withCookies(s: Set<string>): Set<string> {
  if (s.has('cookie')) s.add('cookies');
  return s;
}

const cache = new WeakMap<object, { names: ReadonlySet<string>; changed: ReadonlySet<string> }>();

function sets(ops: HeaderOps | undefined): { names: ReadonlySet<string>; changed: ReadonlySet<string> } {
  if (!ops) return { names: DEFAULT_NAMES, changed: new Set() };
  let s = cache.get(ops);
  if (!s) {
    const changed = withCookies(
      new Set([...(ops.remove ?? []), ...(ops.set ?? []).map(([n]) => n)].map((n) => n.toLowerCase())),
    );
    s = { names: withCookies(new Set([...SENSITIVE, ...changed])), changed };
    cache.set(ops, s);
  }
  return s;
}

/** Header (and JSON key) names whose values are never kept, for a mirror policy's header operations. */
export function redactedNames(ops: HeaderOps | undefined): ReadonlySet<string> {
  return sets(ops).names;
}

/** Names the policy removes or overrides on the copy: differences under them are its own doing. */
export function policyChangedNames(ops: HeaderOps | undefined): ReadonlySet<string> {
  return sets(ops).changed;
}

/** The object keys along a field path ("$.headers.Authorization", '$["x-api-key"]', "$.a[*].b"). */
export function pathKeys(path: string): string[] {
  const keys: string[] = [];
  const re = /\.([A-Za-z_$][\w$-]*)|\[("(?:[^"\\]|\\.)*")\]/g;
  for (let m = re.exec(path); m; m = re.exec(path)) {
    if (m[1] !== undefined) keys.push(m[1]);
    else {
      try {
        keys.push(JSON.parse(m[2]) as string);
      } catch {
        // not a key step
      }
    }
  }
  return keys;
}

function underAny(path: string, names: ReadonlySet<string>): boolean {
  if (!path.startsWith('$')) return false;
  return pathKeys(path).some((k) => names.has(k.toLowerCase()));
}

/** Secrets found in one request's responses, to be removed wherever they appear. */
export class SecretValues {
  private readonly values = new Set<string>();

  add(v: string): void {
    const t = v.trim();
    if (t.length < MIN_SECRET_LENGTH) return;
    this.values.add(t);
    // "Bearer abc…", "Basic …": the credential alone may be echoed elsewhere too.
    const sp = t.indexOf(' ');
    if (sp > 0 && t.length - sp - 1 >= MIN_SECRET_LENGTH) this.values.add(t.slice(sp + 1).trim());
    // "a=1; session=xyz": each cookie value.
    for (const part of t.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.length - eq - 1 >= MIN_SECRET_LENGTH) this.values.add(part.slice(eq + 1).trim());
    }
  }

  get size(): number {
    return this.values.size;
  }

  /** `text` with every known secret (and its JSON-escaped form) replaced by [redacted]. */
  scrub(text: string): string {
    if (this.values.size === 0) return text;
    let out = text;
    // Longest first, so a whole "Bearer x" goes before its "x".
    for (const v of [...this.values].sort((a, b) => b.length - a.length)) {
      out = out.split(v).join(REDACTED);
      const escaped = JSON.stringify(v).slice(1, -1);
      if (escaped !== v) out = out.split(escaped).join(REDACTED);
    }
    return out;
  }
}

function collectLeaves(v: unknown, into: SecretValues): void {
  if (typeof v === 'string') into.add(v);
  else if (typeof v === 'number') into.add(String(v));
  else if (Array.isArray(v)) for (const x of v) collectLeaves(x, into);
  else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) collectLeaves(x, into);
}

/**
 * A copy of a parsed JSON value with every value under a redacted key replaced, collecting what
 * was replaced. Iterative depth is bounded by the document (JSON.parse built it); recursion is
 * capped so a hostile nesting cannot overflow the stack.
 */
export function redactJson(v: unknown, names: ReadonlySet<string>, found: SecretValues, depth = 0): unknown {
  if (depth > 64 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => redactJson(x, names, found, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (names.has(k.toLowerCase())) {
      collectLeaves(x, found);
      out[k] = REDACTED;
    } else out[k] = redactJson(x, names, found, depth + 1);
  }
  return out;
}

/** Lines such as "Authorization: Bearer x" or "cookie=…" in text bodies, value redacted. */
export function redactTextLines(text: string, names: ReadonlySet<string>, found: SecretValues): string {
  return text.replace(
    /^([ \t]*["']?)([A-Za-z0-9_-]+)(["']?[ \t]*[:=][ \t]*)(.*)$/gm,
    (all, pre, name, sep, value) => {
      if (!names.has(String(name).toLowerCase()) || !value) return all;
      found.add(String(value));
      return `${pre}${name}${sep}${REDACTED}`;
    },
  );
}

/** Secret values a response carries: its own redacted headers and what its body echoes under redacted keys. */
export function secretsIn(
  headers: Record<string, string | string[] | undefined>,
  body: Buffer | null | undefined,
  names: ReadonlySet<string>,
  into: SecretValues,
): void {
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || !names.has(k.toLowerCase())) continue;
    for (const x of Array.isArray(v) ? v : [v]) into.add(x);
  }
  if (!body || body.length === 0) return;
  const text = body.toString('utf8');
  try {
    redactJson(JSON.parse(text), names, into);
  } catch {
    redactTextLines(text, names, into);
  }
}

/**
 * The differences worth keeping: those under a header name the policy removed or set are dropped
 * (the copy lacked that header because of the policy, so its echo differs); values of redacted
 * names, and known secret values anywhere, are replaced.
 */
export function cleanDiffs(
  diffs: readonly FieldDiff[],
  ops: HeaderOps | undefined,
  secrets: SecretValues,
  extraChanged?: ReadonlySet<string>,
): FieldDiff[] {
  const names = redactedNames(ops);
  const changed = policyChangedNames(ops);
  const out: FieldDiff[] = [];
  for (const d of diffs) {
    if (underAny(d.path, changed) || (extraChanged && underAny(d.path, extraChanged))) continue;
    const secretField =
      (d.field.startsWith('header:') && names.has(d.field.slice(7))) || underAny(d.path, names);
    const clean = (v: string | undefined) =>
      v === undefined ? undefined : secretField ? REDACTED : secrets.scrub(v);
    out.push({ ...d, primary: clean(d.primary), other: clean(d.other) });
  }
  return out;
}
