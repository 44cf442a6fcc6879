// The global memory budget for response bodies held for comparison (primary and mirror side).
// Past it, responses are compared by size and hash only, and the report says how often.

export class RetainedBudget {
  used = 0;
  peak = 0;

  constructor(readonly limit: number) {}

  /** Reserves n bytes; false when that would go over the budget (nothing is reserved then). */
  tryReserve(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    if (this.used > this.peak) this.peak = this.used;
    return true;
  }

  release(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
}
