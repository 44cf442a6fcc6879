// Compiled string matchers shared by Istio and Gateway API routes. Regexes use RE2 semantics
// (re2js, linear time) because both Istio and the Gateway API specify RE2 and a backtracking
// engine would let one config line stall the proxy (ReDoS).

import type { RE2JS } from 're2js';
import { re2 } from './re2.js';

export type MatcherKind = 'exact' | 'prefix' | 'segment-prefix' | 'regex';

export interface Matcher {
  readonly kind: MatcherKind;
  readonly value: string;
  test(input: string): boolean;
}

export function exact(value: string, ignoreCase = false): Matcher {
  if (ignoreCase) {
    const v = value.toLowerCase();
    return { kind: 'exact', value, test: (s) => s.toLowerCase() === v };
  }
  return { kind: 'exact', value, test: (s) => s === value };
}

export function prefix(value: string, ignoreCase = false): Matcher {
  if (ignoreCase) {
    const v = value.toLowerCase();
    return { kind: 'prefix', value, test: (s) => s.toLowerCase().startsWith(v) };
  }
  return { kind: 'prefix', value, test: (s) => s.startsWith(value) };
}

/**
 * Gateway API PathPrefix: matches whole path segments, so "/v2" matches "/v2" and "/v2/x" but not
 * "/v2example"; a trailing "/" in the prefix is ignored (HTTPPathMatch, gateway.networking.k8s.io/v1).
 */
export function segmentPrefix(value: string): Matcher {
  const p = value.length > 1 && value.endsWith('/') ? value.slice(0, -1) : value;
  if (p === '/') return { kind: 'segment-prefix', value, test: (s) => s.startsWith('/') };
  return {
    kind: 'segment-prefix',
    value,
    test: (s) => s.startsWith(p) && (s.length === p.length || s.charCodeAt(p.length) === 47) /* / */,
  };
}

/** Thrown only by compileRegex so callers can turn a bad pattern into a config issue. */
export class RegexSyntaxError extends Error {}

/** Full-match RE2 regex (Istio and Gateway API regexes must match the whole value). */
export function regex(pattern: string, ignoreCase = false): Matcher {
  const re = compileRegex(pattern, ignoreCase);
  return { kind: 'regex', value: pattern, test: (s) => re.matches(s) };
}

/**
 * Largest compiled program accepted. RE2 runs in linear time, but the constant is the program size:
 * chained counted repetitions ("[a-z]{1000}" ×30) make every request's match cost thousands of
 * steps per byte. Istio sets Envoy's re2.max_program_size.error_level to this value.
 */
export const MAX_REGEX_PROGRAM_SIZE = 32_768;

export function compileRegex(pattern: string, ignoreCase = false): RE2JS {
  let re: RE2JS;
  try {
    const RE2 = re2();
    re = RE2.compile(pattern, ignoreCase ? RE2.CASE_INSENSITIVE : 0);
  } catch (e) {
    throw new RegexSyntaxError(`not a valid RE2 regular expression: ${(e as Error).message}`);
  }
  const size = re.programSize();
  if (size > MAX_REGEX_PROGRAM_SIZE)
    throw new RegexSyntaxError(
      `regular expression too large: its RE2 program has ${size} instructions; the limit is ${MAX_REGEX_PROGRAM_SIZE}`,
    );
  return re;
}
