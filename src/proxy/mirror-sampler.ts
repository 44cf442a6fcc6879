// Percentage sampling for mirrors with the spread of a fixed rate: stratified ("jittered") sampling.
// Every 1e6 ppm of accumulated probability holds exactly one sample point at a uniformly random
// place, so each request is copied with probability ppm/1e6 (as Envoy's runtime fraction draws it),
// but over any N requests the count stays within one or two of N·ppm/1e6 instead of wandering by
// √N. The Gateway API conformance check for `percent: 20` (500 requests, ±5 %) then holds on every
// run, where independent draws miss it about half the time.

import { PPM_ALL } from '../model/percent.js';

export class StratifiedSampler {
  /** Accumulated probability so far (ppm units) and the position of the next sample point. */
  private pos = 0;
  private base = 0;
  private point: number;
  /** Points that fell into an earlier request which already had one; paid out next. */
  private owed = 0;

  constructor(
    private readonly ppm: number,
    private readonly random: () => number = Math.random,
  ) {
    this.point = random() * PPM_ALL;
  }

  take(): boolean {
    if (this.ppm >= PPM_ALL) return true;
    if (this.ppm <= 0) return false;
    const end = this.pos + this.ppm;
    let hits = this.owed;
    while (this.point < end) {
      hits++;
      this.base += PPM_ALL;
      this.point = this.base + this.random() * PPM_ALL;
    }
    this.pos = end;
    if (this.base >= 1e12) {
      // Keep the numbers small enough that adding ppm stays exact.
      this.pos -= this.base;
      this.point -= this.base;
      this.base = 0;
    }
    if (hits === 0) return false;
    this.owed = hits - 1;
    return true;
  }
}
