// One access-log line per proxied request and per mirror, in the spirit of Envoy's default
// format. Lines are batched and written once per event-loop turn to keep the hot path cheap.

export interface AccessLogEntry {
  readonly start: number; // epoch ms
  readonly method: string;
  readonly path: string;
  readonly protocol: string;
  readonly status: number;
  readonly flags: string;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly durationMs: number;
  readonly upstream: string;
  readonly authority: string;
  readonly requestId: string;
  readonly userAgent: string;
  readonly route: string;
  /** The mirror's name for mirror lines; undefined for the primary. */
  readonly mirror?: string;
}

export type LogFormat = 'text' | 'json';

export class AccessLog {
  private pending: string[] = [];
  private scheduled = false;

  constructor(
    private readonly write: ((s: string) => void) | undefined,
    private readonly format: LogFormat = 'text',
  ) {}

  get enabled(): boolean {
    return this.write !== undefined;
  }

  log(e: AccessLogEntry): void {
    if (!this.write) return;
    this.pending.push(
      this.format === 'json'
        ? JSON.stringify({
            ...e,
            start: new Date(e.start).toISOString(),
            kind: e.mirror ? 'mirror' : 'primary',
          })
        : textLine(e),
    );
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0 || !this.write) return;
    const out = this.pending.join('\n') + '\n';
    this.pending = [];
    this.write(out);
  }
}

function q(s: string): string {
  return `"${s ? s.replace(/["\\\n\r]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\${c}`)) : '-'}"`;
}

/** [start] "METHOD PATH PROTO" STATUS FLAGS BYTES_IN BYTES_OUT DURATION "UA" "REQ-ID" "AUTHORITY" "UPSTREAM" route=… [mirror=…] */
function textLine(e: AccessLogEntry): string {
  const kind = e.mirror ? ` mirror=${e.mirror}` : '';
  return `[${new Date(e.start).toISOString()}] "${e.method} ${e.path} ${e.protocol}" ${e.status} ${e.flags} ${e.bytesIn} ${e.bytesOut} ${Math.round(e.durationMs)} ${q(e.userAgent)} ${q(e.requestId)} ${q(e.authority)} ${q(e.upstream)} route=${e.route}${kind}`;
}
