// Names of the places two responses can differ: "status", "header:<name>", "body" (text or binary
// as a whole) and JSON paths such as "$.items[3].id". Also the ignore-list matcher for JSON paths.

/** One step into a JSON value: an object key or an array index. */
export type Segment = string | number;

const PLAIN_KEY = /^[A-Za-z_$][\w$-]*$/;

/** The path text for an object key: ".name" when plain, otherwise ["odd key"]. */
export function keyStep(key: string): string {
  return PLAIN_KEY.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/**
 * Results are aggregated per field over many requests; array positions are folded to [*] so that
 * "$.items[0].id" and "$.items[7].id" count as one field ("$.items[*].id").
 */
export const ANY_INDEX = '[*]';

type PatternStep = { readonly key: string } | { readonly index: number } | { readonly any: true };

/** Parses "$.a.b[0][*].c" or "a.b" (a leading "$." is optional) into steps; undefined if malformed. */
export function parseFieldPattern(text: string): PatternStep[] | undefined {
  let s = text.trim();
  if (s.startsWith('$')) s = s.slice(1);
  const steps: PatternStep[] = [];
  const re = /\.?([^.[\]\s]+)|\[(\d+|\*)\]|\["((?:[^"\\]|\\.)*)"\]/y;
  let i = 0;
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    if (!m) return undefined;
    if (m[1] !== undefined) steps.push({ key: m[1] });
    else if (m[2] === '*') steps.push({ any: true });
    else if (m[2] !== undefined) steps.push({ index: Number(m[2]) });
    else steps.push({ key: JSON.parse(`"${m[3]}"`) as string });
    i = re.lastIndex;
  }
  return steps.length > 0 ? steps : undefined;
}

/** Matches JSON paths against the ignore list: a pattern ignores its field and everything below it. */
export class IgnoreMatcher {
  private readonly patterns: PatternStep[][];

  constructor(patterns: readonly string[]) {
    this.patterns = patterns.map(parseFieldPattern).filter((p): p is PatternStep[] => p !== undefined);
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** True when `segs` (the path from the root) is at or below an ignored field. */
  matches(segs: readonly Segment[]): boolean {
    outer: for (const p of this.patterns) {
      if (p.length > segs.length) continue;
      for (let i = 0; i < p.length; i++) {
        const step = p[i];
        const seg = segs[i];
        if ('any' in step) {
          if (typeof seg !== 'number') continue outer;
        } else if ('index' in step) {
          if (seg !== step.index) continue outer;
        } else if (seg !== step.key) continue outer;
      }
      return true;
    }
    return false;
  }
}
