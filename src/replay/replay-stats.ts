// What a replay counts per target — sent, statuses by class, errors by code, latencies — and the
// summary printed at the end (percentiles, achieved rate).

export class TargetStats {
  sent = 0;
  readonly classes: Record<string, number> = {};
  readonly errors: Record<string, number> = {};
  private readonly latencies: number[] = [];

  constructor(readonly name: string) {}

  ok(status: number, latencyMs: number): void {
    this.sent++;
    const cls = `${Math.floor(status / 100)}xx`;
    this.classes[cls] = (this.classes[cls] ?? 0) + 1;
    this.latencies.push(latencyMs);
  }

  failed(err: unknown): void {
    const code = errorCode(err);
    this.errors[code] = (this.errors[code] ?? 0) + 1;
  }

  get errorCount(): number {
    return Object.values(this.errors).reduce((a, b) => a + b, 0);
  }

  /** Nearest-rank percentile of the latencies in ms (0 when nothing was answered). */
  percentile(p: number): number {
    if (this.latencies.length === 0) return 0;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
    return sorted[rank - 1];
  }

  toJSON(): Record<string, unknown> {
    return {
      target: this.name,
      sent: this.sent,
      statuses: this.classes,
      errors: this.errors,
      latencyMs: {
        p50: round(this.percentile(50)),
        p90: round(this.percentile(90)),
        p99: round(this.percentile(99)),
        max: round(this.percentile(100)),
      },
    };
  }
}

/** undici's stable error code, or the system one (ECONNREFUSED), or the error's name. */
export function errorCode(err: unknown): string {
  let e: unknown = err;
  for (let i = 0; i < 3 && e; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return (err as Error)?.name ?? 'Error';
}

const round = (x: number) => Math.round(x * 10) / 10;

export interface ReplaySummary {
  /** Requests chosen to be sent (after filters and the limit). */
  readonly selected: number;
  readonly problems: number;
  readonly elapsedMs: number;
  readonly targets: readonly TargetStats[];
  /** Requests whose body was recorded only in part (sent with what was kept). */
  readonly truncatedBodies: number;
  /** Requests that started behind schedule because every connection was busy. */
  readonly late: number;
}

export function formatSummary(s: ReplaySummary): string {
  const lines: string[] = [];
  const secs = s.elapsedMs / 1000;
  for (const t of s.targets) {
    const classes = Object.entries(t.classes)
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    const errors = Object.entries(t.errors)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    lines.push(
      `${t.name}: sent ${t.sent}/${s.selected}` +
        ` (${classes || 'no answers'}${errors ? `; errors: ${errors}` : ''})`,
      `  latency ms: p50 ${round(t.percentile(50))}, p90 ${round(t.percentile(90))}, p99 ${round(t.percentile(99))}, max ${round(t.percentile(100))}`,
    );
  }
  const rate = secs > 0 ? s.targets[0].sent / secs : 0;
  lines.push(`elapsed ${secs.toFixed(2)} s, achieved ${rate.toFixed(1)} req/s`);
  if (s.late > 0)
    lines.push(`${s.late} request(s) started behind schedule: all --concurrency requests were in flight`);
  if (s.truncatedBodies > 0)
    lines.push(
      `${s.truncatedBodies} request(s) had a truncated body in the recording and were sent with what was kept`,
    );
  if (s.problems > 0)
    lines.push(`${s.problems} line(s) or entries could not be read and were skipped (listed above)`);
  return `${lines.join('\n')}\n`;
}
