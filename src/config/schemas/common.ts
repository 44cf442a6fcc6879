// Schema building blocks shared by every kind: strict objects that name unknown fields with a
// "did you mean" hint, durations, ports, percentages, RE2 regexes, names, labels and header ops.

import { z } from 'zod';
import { compileRegex, RegexSyntaxError } from '../../model/matchers.js';
import { parseDurationMs } from '../duration.js';

// ---------------------------------------------------------------------------------------------
// Unknown fields and "did you mean"

/** Optimal-string-alignment distance (Levenshtein plus adjacent transposition). */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  const d: number[][] = Array.from({ length: m + 1 }, (_, i) => [i, ...new Array<number>(n).fill(0)]);
  for (let j = 0; j <= n; j++) d[0][j] = j;
  for (let i = 1; i <= m; i++) {
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[m][n];
}

/**
 * The closest candidate to `word`, if it is close enough to be a plausible typo. Case and
 * `_`/`-` separators are ignored first (`mirror_percent` → `mirrorPercent`).
 */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const w = norm(word);
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = editDistance(w, norm(c));
    if (dist < bestD) {
      best = c;
      bestD = dist;
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  if (best !== undefined && bestD <= limit) return best;
  // A shortened name ("Prefix" for "PathPrefix") is a likely slip too.
  if (w.length >= 4) return candidates.find((c) => norm(c).includes(w));
  return undefined;
}

/** Marks issues raised for unknown fields so the issue converter can keep their hint. */
export interface IssueParams {
  hint?: string;
  severity?: 'warning' | 'error';
}

/**
 * A strict object: any key outside `shape` is an error naming the key, with a "did you mean"
 * hint. A typo such as `mirrorPercentge` must never be ignored, or it would silently mean the
 * default (100 % mirrored). Implemented with a catch-all so the key's own path is reported.
 */
export function strictObject<T extends z.ZodRawShape>(shape: T): z.ZodObject<T, 'strict'> {
  const known = Object.keys(shape);
  const unknownField = z.unknown().superRefine((_v, ctx) => {
    const key = String(ctx.path[ctx.path.length - 1]);
    const near = didYouMean(key, known);
    const params: IssueParams = {
      hint: near ? `did you mean "${near}"?` : `known fields: ${known.join(', ')}`,
    };
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `unknown field "${key}"`, params });
  });
  return z.object(shape).catchall(unknownField) as unknown as z.ZodObject<T, 'strict'>;
}

/**
 * Runs `check` on the raw value even when `schema` finds type errors elsewhere in it, so
 * cross-field rules (e.g. `mirror` with `mirrors`) are reported together with every other issue
 * of the document. zod's own refinements are skipped once a nested field has the wrong type.
 */
export function withChecks<S extends z.ZodTypeAny>(
  schema: S,
  check: (raw: Record<string, unknown>, ctx: z.RefinementCtx) => void,
): z.ZodEffects<z.ZodAny, z.output<S>, unknown> {
  return z.any().transform((value: unknown, ctx): z.output<S> => {
    if (isRecord(value)) check(value, ctx);
    const r = schema.safeParse(value);
    if (!r.success) {
      for (const issue of r.error.issues) ctx.addIssue(issue as z.IssueData);
      return z.NEVER;
    }
    return r.data;
  });
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when the raw object has the key with a value other than undefined/null. */
export function has(o: Record<string, unknown>, key: string): boolean {
  return o[key] !== undefined && o[key] !== null;
}

export function addError(
  ctx: z.RefinementCtx,
  path: (string | number)[],
  message: string,
  hint?: string,
): void {
  const params: IssueParams = { hint };
  ctx.addIssue({ code: z.ZodIssueCode.custom, path, message, params });
}

/** Exactly one (or, with `allowNone`, at most one) of `keys` must be set on `o`. */
export function oneOf(
  o: Record<string, unknown>,
  keys: readonly string[],
  ctx: z.RefinementCtx,
  opts: { allowNone?: boolean; what?: string } = {},
): void {
  const set = keys.filter((k) => has(o, k));
  if (set.length > 1)
    addError(ctx, [set[1]], `only one of ${keys.join(', ')} may be set; found ${set.join(' and ')}`);
  else if (set.length === 0 && !opts.allowNone)
    addError(ctx, [], `${opts.what ?? 'exactly one'} of ${keys.join(', ')} must be set`);
}

// ---------------------------------------------------------------------------------------------
// Numbers

export const int = (what = 'an integer') =>
  z.number({ invalid_type_error: `must be ${what}` }).int(`must be ${what}`);
export const nonNegativeInt = int('a non-negative integer').min(0, 'must be ≥ 0');
export const positiveInt = int('a positive integer').min(1, 'must be ≥ 1');
export const uint32 = nonNegativeInt.max(4294967295, 'must be ≤ 4294967295');
export const int32 = int().min(-2147483648).max(2147483647);
export const port = int('a port number')
  .min(1, 'port must be between 1 and 65535')
  .max(65535, 'port must be between 1 and 65535');
export const percentInt = int('an integer percentage')
  .min(0, 'must be between 0 and 100')
  .max(100, 'must be between 0 and 100');

/** A double in [0, 100]: NaN and ±Infinity are rejected (Istio `Percent.value`). */
export const percentDouble = z
  .number({ invalid_type_error: 'must be a number between 0 and 100' })
  .superRefine((n, ctx) => {
    if (!Number.isFinite(n)) addError(ctx, [], `must be a finite number between 0 and 100, got ${n}`);
    else if (n < 0 || n > 100) addError(ctx, [], `must be between 0 and 100, got ${n}`);
  });

// ---------------------------------------------------------------------------------------------
// Durations

/** Istio/Go duration string, ≥ 0. Kept as text in the spec; translate converts it. */
export const duration = z
  .string({ invalid_type_error: 'must be a duration string such as "1.5s"' })
  .superRefine((s, ctx) => {
    if (/^\s*-/.test(s)) addError(ctx, [], `duration "${s}" must not be negative`);
    else if (parseDurationMs(s) === undefined)
      addError(ctx, [], `"${s}" is not a duration`, 'use Go syntax such as 100ms, 1.5s, 2m or 1h2m3.5s');
  });

/** Gateway API Duration (GEP-2257): 1–4 parts of up to 5 digits each with h, m, s or ms. */
export const GATEWAY_DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
export const gatewayDuration = z
  .string({ invalid_type_error: 'must be a duration string such as "10s"' })
  .superRefine((s, ctx) => {
    if (!GATEWAY_DURATION.test(s))
      addError(
        ctx,
        [],
        `"${s}" is not a Gateway API duration`,
        'use whole numbers with h, m, s or ms, e.g. 10s or 1m30s (GEP-2257)',
      );
  });

// ---------------------------------------------------------------------------------------------
// Regexes

/** A pattern that must compile as RE2 (Istio and Umbra use RE2 so a route cannot be a ReDoS). */
export const re2 = z.string().superRefine((s, ctx) => {
  try {
    compileRegex(s);
  } catch (e) {
    if (!(e instanceof RegexSyntaxError)) throw e;
    const detail = e.message.replace(/^not a valid RE2 regular expression: /, '');
    addError(ctx, [], `not RE2: ${detail}`, 'RE2 has no look-around and no back-references');
  }
});

// ---------------------------------------------------------------------------------------------
// Names, labels, hosts

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export type NameRule = 'subdomain' | 'label' | 'label1035';

/** Why `name` breaks the Kubernetes naming rule, or undefined when it is fine. */
export function nameProblem(name: string, rule: NameRule): string | undefined {
  switch (rule) {
    case 'label':
      if (name.length > 63 || !DNS_LABEL.test(name))
        return 'must be a DNS-1123 label: at most 63 lower-case letters, digits or "-", starting and ending with a letter or digit';
      return undefined;
    case 'label1035':
      if (name.length > 63 || !DNS1035_LABEL.test(name))
        return 'must be a DNS-1035 label: at most 63 lower-case letters, digits or "-", starting with a letter';
      return undefined;
    default:
      if (name.length > 253 || !DNS_SUBDOMAIN.test(name))
        return 'must be a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit';
      return undefined;
  }
}

export const named = (rule: NameRule) =>
  z.string().superRefine((s, ctx) => {
    const p = nameProblem(s, rule);
    if (p) addError(ctx, [], `"${s}" ${p}`);
  });

export const dnsLabel = named('label');
export const dnsSubdomain = named('subdomain');

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Kubernetes qualified name: optional DNS-subdomain prefix and "/", then a name of ≤ 63 chars. */
export const qualifiedName = z.string().superRefine((s, ctx) => {
  const slash = s.lastIndexOf('/');
  const prefix = slash >= 0 ? s.slice(0, slash) : undefined;
  const name = slash >= 0 ? s.slice(slash + 1) : s;
  if (
    (prefix !== undefined && nameProblem(prefix, 'subdomain')) ||
    name.length > 63 ||
    !QUALIFIED_NAME.test(name)
  )
    addError(
      ctx,
      [],
      `"${s}" is not a valid label or annotation key`,
      'keys are [prefix/]name, name ≤ 63 chars of letters, digits, "-", "_", "."',
    );
});

export const labelValue = z
  .string({ invalid_type_error: 'label values must be strings' })
  .superRefine((s, ctx) => {
    if (s.length > 63 || !LABEL_VALUE.test(s))
      addError(
        ctx,
        [],
        `"${s}" is not a valid label value`,
        'at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit',
      );
  });

export const labelMap = z.record(qualifiedName, labelValue);
export const annotationMap = z.record(
  qualifiedName,
  z.string({ invalid_type_error: 'annotation values must be strings' }),
);

/** Kubernetes metav1.LabelSelector. */
export const labelSelector = strictObject({
  matchLabels: labelMap.optional(),
  matchExpressions: z
    .array(
      strictObject({
        key: qualifiedName,
        operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});

/**
 * A host name as written in routes and services: a DNS name, a short name, or a wildcard
 * (`*`, `*.example.com`). Ports, paths and schemes do not belong here.
 */
const HOST =
  /^(\*|(\*\.)?[A-Za-z0-9_]([-A-Za-z0-9_]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([-A-Za-z0-9_]*[A-Za-z0-9_])?)*\.?)$/;
export const hostName = z.string().superRefine((s, ctx) => {
  if (s.includes('://')) addError(ctx, [], `host "${s}" must not contain a scheme`);
  else if (s.includes('/')) addError(ctx, [], `host "${s}" must not contain a path`);
  else if (/:\d+$/.test(s))
    addError(ctx, [], `host "${s}" must not contain a port`, 'put the port in the port field');
  else if (!HOST.test(s)) addError(ctx, [], `"${s}" is not a valid host name`);
});

/** Gateway API Hostname (RFC 1123, optional leading `*.` label, no IPs, lower case). */
const GW_HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const gatewayHostname = z.string().superRefine((s, ctx) => {
  if (s.length > 253 || !GW_HOSTNAME.test(s))
    addError(
      ctx,
      [],
      `"${s}" is not a valid hostname`,
      'lower-case RFC 1123 name, optionally starting with "*."',
    );
});
export const preciseHostname = z.string().superRefine((s, ctx) => {
  if (s.length > 253 || !GW_HOSTNAME.test(s) || s.startsWith('*'))
    addError(ctx, [], `"${s}" is not a valid hostname`, 'lower-case RFC 1123 name without wildcard');
});

// ---------------------------------------------------------------------------------------------
// HTTP

/** RFC 9110 token: header field names and method names. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
export const headerName = z.string().superRefine((s, ctx) => {
  if (!TOKEN.test(s)) addError(ctx, [], `"${s}" is not a valid HTTP header name`);
});
export const httpMethod = z.string().superRefine((s, ctx) => {
  if (!TOKEN.test(s)) addError(ctx, [], `"${s}" is not a valid HTTP method`);
  else if (s !== s.toUpperCase())
    addError(ctx, [], `method "${s}" must be upper case`, `use "${s.toUpperCase()}"`);
});
export const headerValue = z
  .string({ invalid_type_error: 'header values must be strings' })
  .superRefine((s, ctx) => {
    if (/[\r\n\0]/.test(s)) addError(ctx, [], 'header values must not contain CR, LF or NUL');
  });

/** `{name, value}` list entry used by the Gateway API and Umbra's MirrorPolicy. */
export const nameValue = strictObject({ name: headerName, value: headerValue });

/**
 * Gateway API-style header modifications: set/add lists and a remove list. One header name may
 * appear in only one action (HTTPHeaderFilter).
 */
export const headerListOps = withChecks(
  strictObject({
    set: z.array(nameValue).max(16).optional(),
    add: z.array(nameValue).max(16).optional(),
    remove: z.array(headerName).max(16).optional(),
  }),
  (h, ctx) => {
    const seen = new Map<string, string>();
    const note = (name: unknown, where: (string | number)[]) => {
      if (typeof name !== 'string') return;
      const k = name.toLowerCase();
      const prev = seen.get(k);
      if (prev !== undefined)
        addError(
          ctx,
          where,
          `header "${name}" already has an action (${prev}); only one action per header name is allowed`,
        );
      else seen.set(k, String(where[0]));
    };
    for (const action of ['set', 'add'] as const) {
      const list = h[action];
      if (Array.isArray(list)) list.forEach((x, i) => isRecord(x) && note(x.name, [action, i, 'name']));
    }
    if (Array.isArray(h.remove)) h.remove.forEach((x, i) => note(x, ['remove', i]));
  },
);

/** Checks that `s` is valid base64 (protobuf `bytes` in JSON/YAML). */
export function isBase64(s: string): boolean {
  return (
    /^[A-Za-z0-9+/\-_]*={0,2}$/.test(s.replace(/\s+/g, '')) &&
    s.replace(/\s+/g, '').replace(/=+$/, '').length % 4 !== 1
  );
}
