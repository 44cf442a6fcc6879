// Converts duration strings from resources to milliseconds: Go/Istio style ("1h2m3.5s", "100ms",
// "250us") and the Gateway API's subset of it (GEP-2257). Validation happens at load time.

const UNIT_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 1e-6,
};
const PART = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g;

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDurationMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === '0') return 0;
  let total = 0;
  let consumed = 0;
  for (const m of t.matchAll(PART)) {
    if (m.index !== consumed) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]];
    consumed += m[0].length;
  }
  return consumed === t.length && consumed > 0 ? total : undefined;
}
