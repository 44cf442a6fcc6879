// Exponential backoff with jitter for reconnecting informers, so a restarted API server is not hit
// by every replica at the same instant (the "equal jitter" variant: half fixed, half random).

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 };

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly o: BackoffOptions = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {}

  /** The next delay: initial·2^n capped at max, then jittered into [d/2, d]. */
  next(): number {
    const d = Math.min(this.o.maxMs, this.o.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(d / 2 + (this.random() * d) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }

  get failures(): number {
    return this.attempt;
  }
}
