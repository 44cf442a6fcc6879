// Percentages as parts per million, the unit Istio translates to for Envoy's
// runtime_fraction (pilot truncates value*10000; see docs/architecture.md, "Semantics the code relies on").

export const PPM_ALL = 1_000_000;

/** Istio `Percent.value` (double in [0,100]) → ppm with truncation, as istiod does. */
export function percentToPpm(value: number): number {
  return Math.min(PPM_ALL, Math.max(0, Math.trunc(value * 10_000)));
}

/** Gateway API `fraction` (numerator/denominator) → ppm. */
export function fractionToPpm(numerator: number, denominator: number): number {
  if (denominator <= 0) return 0;
  return Math.min(PPM_ALL, Math.trunc((numerator * PPM_ALL) / denominator));
}

/** A uniform draw: true for `ppm` out of every million calls on average. */
export function sampled(ppm: number): boolean {
  if (ppm >= PPM_ALL) return true;
  if (ppm <= 0) return false;
  return Math.random() * PPM_ALL < ppm;
}
