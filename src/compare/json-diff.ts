// Field-by-field difference of two parsed JSON documents: objects by key (order does not matter,
// as in JSON), arrays by position, scalars by value and type. Bounded in depth and in output.

import { ANY_INDEX, keyStep, type IgnoreMatcher, type Segment } from './field-path.js';

export type DiffKind = 'changed' | 'added' | 'removed' | 'type';

/** One difference between the primary's response and another one. */
export interface FieldDiff {
  /** Where, concretely: "$.items[3].id", "header:content-type", "status", "body". */
  readonly path: string;
  /** The aggregated field (array positions folded to [*]): what rates are counted for. */
  readonly field: string;
  /** changed: both have it; added: only the other side; removed: only the primary; type: JSON types differ. */
  readonly kind: DiffKind;
  /** Short renderings of the values (JSON text, cut at VALUE_MAX characters). */
  readonly primary?: string;
  readonly other?: string;
}

const VALUE_MAX = 160;
/** Deeper than this the remaining subtree is compared as a whole (a guard against stack abuse). */
const MAX_DEPTH = 64;

export function shortValue(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > VALUE_MAX ? `${s.slice(0, VALUE_MAX - 1)}…` : s;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Structural equality without recursion, for subtrees below MAX_DEPTH (JSON.parse allows any depth). */
function sameValue(x: unknown, y: unknown): boolean {
  const stack: [unknown, unknown][] = [[x, y]];
  while (stack.length > 0) {
    const [a, b] = stack.pop()!;
    if (a === b) continue;
    const ta = typeOf(a);
    if (ta !== typeOf(b)) return false;
    if (ta === 'array') {
      const aa = a as unknown[];
      const ab = b as unknown[];
      if (aa.length !== ab.length) return false;
      for (let i = 0; i < aa.length; i++) stack.push([aa[i], ab[i]]);
    } else if (ta === 'object') {
      const oa = a as Record<string, unknown>;
      const ob = b as Record<string, unknown>;
      const ka = Object.keys(oa);
      if (ka.length !== Object.keys(ob).length) return false;
      for (const k of ka) {
        if (!Object.hasOwn(ob, k)) return false;
        stack.push([oa[k], ob[k]]);
      }
    } else return false;
  }
  return true;
}

export interface JsonDiffResult {
  readonly diffs: FieldDiff[];
  /** True when the diff stopped at `max` differences. */
  readonly capped: boolean;
}

/** Differences between `a` (primary) and `b`, at most `max` of them; ignored paths are skipped. */
export function diffJson(
  a: unknown,
  b: unknown,
  ignore: IgnoreMatcher | undefined,
  max = 200,
): JsonDiffResult {
  const out: FieldDiff[] = [];
  const segs: Segment[] = [];
  const skip = ignore && !ignore.empty ? ignore : undefined;
  let capped = false;

  const push = (d: FieldDiff): boolean => {
    if (out.length >= max) {
      capped = true;
      return false;
    }
    out.push(d);
    return true;
  };

  const walk = (x: unknown, y: unknown, path: string, field: string): boolean => {
    if (skip && segs.length > 0 && skip.matches(segs)) return true;
    const tx = typeOf(x);
    const ty = typeOf(y);
    if (tx !== ty) return push({ path, field, kind: 'type', primary: shortValue(x), other: shortValue(y) });
    if (tx === 'object') {
      if (segs.length >= MAX_DEPTH)
        return (
          sameValue(x, y) ||
          push({ path, field, kind: 'changed', primary: shortValue(x), other: shortValue(y) })
        );
      const ox = x as Record<string, unknown>;
      const oy = y as Record<string, unknown>;
      for (const k of Object.keys(ox)) {
        const step = keyStep(k);
        segs.push(k);
        const ok = Object.hasOwn(oy, k)
          ? walk(ox[k], oy[k], path + step, field + step)
          : (skip !== undefined && skip.matches(segs)) ||
            push({ path: path + step, field: field + step, kind: 'removed', primary: shortValue(ox[k]) });
        segs.pop();
        if (!ok) return false;
      }
      for (const k of Object.keys(oy)) {
        if (Object.hasOwn(ox, k)) continue;
        const step = keyStep(k);
        segs.push(k);
        const ok =
          (skip !== undefined && skip.matches(segs)) ||
          push({ path: path + step, field: field + step, kind: 'added', other: shortValue(oy[k]) });
        segs.pop();
        if (!ok) return false;
      }
      return true;
    }
    if (tx === 'array') {
      if (segs.length >= MAX_DEPTH)
        return (
          sameValue(x, y) ||
          push({ path, field, kind: 'changed', primary: shortValue(x), other: shortValue(y) })
        );
      const ax = x as unknown[];
      const ay = y as unknown[];
      const n = Math.max(ax.length, ay.length);
      const f = field + ANY_INDEX;
      for (let i = 0; i < n; i++) {
        const p = `${path}[${i}]`;
        segs.push(i);
        const ok =
          i < ax.length && i < ay.length
            ? walk(ax[i], ay[i], p, f)
            : (skip !== undefined && skip.matches(segs)) ||
              (i < ax.length
                ? push({ path: p, field: f, kind: 'removed', primary: shortValue(ax[i]) })
                : push({ path: p, field: f, kind: 'added', other: shortValue(ay[i]) }));
        segs.pop();
        if (!ok) return false;
      }
      return true;
    }
    return x === y || push({ path, field, kind: 'changed', primary: shortValue(x), other: shortValue(y) });
  };

  walk(a, b, '$', '$');
  return { diffs: out, capped };
}
