// Diffy's noise cancellation: a field that differs between the primary and a baseline (a second
// instance of the primary's version) is noise; a candidate difference is reported only when its
// rate clearly exceeds that field's noise rate.

export type Verdict = 'difference' | 'noise' | 'minor';

export interface Thresholds {
  /** Minimum excess of the candidate rate over the noise rate (fraction: 0.03 = 3 points). */
  readonly absolute: number;
  /** Minimum excess as a share of the candidate rate itself (fraction). */
  readonly relative: number;
}

export interface FieldRates {
  /** Share of compared requests in which the candidate differed from the primary on this field. */
  readonly differenceRate: number;
  /** Share of requests with a baseline response in which the baseline differed on this field. */
  readonly noiseRate: number;
  /** False when no baseline response was ever seen: the noise rate is unknown, taken as 0. */
  readonly noiseMeasured: boolean;
}

/**
 * difference: reported as a real change; noise: explained by the baseline's own variation;
 * minor: under the absolute threshold with no noise seen (rare, and not worth a headline).
 */
export function verdict(r: FieldRates, t: Thresholds): Verdict {
  const excess = r.differenceRate - r.noiseRate;
  if (r.differenceRate > 0 && excess >= t.absolute && excess >= t.relative * r.differenceRate)
    return 'difference';
  return r.noiseRate > 0 ? 'noise' : 'minor';
}

export function rates(
  differences: number,
  compared: number,
  noise: number,
  withBaseline: number,
): FieldRates {
  return {
    differenceRate: compared > 0 ? differences / compared : 0,
    noiseRate: withBaseline > 0 ? noise / withBaseline : 0,
    noiseMeasured: withBaseline > 0,
  };
}
