// One access-log line per proxied request and per mirror, in the spirit of Envoy's default
// format. Lines are batched and written once per event-loop turn to keep the hot path cheap.

import type { AccessLogEntry } from '../model/data-plane-events.js';

export type { AccessLogEntry };

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
        ? jsonLine({
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

/**
 * Every control character (C0, DEL, C1 — NEL among them) and the Unicode line and paragraph
 * separators: a field holding one could otherwise start a forged line for a log reader.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

function hex(c: string): string {
  const n = c.charCodeAt(0);
  return n > 0xff ? `\\u${n.toString(16).padStart(4, '0')}` : `\\x${n.toString(16).padStart(2, '0')}`;
}

function q(s: string): string {
  if (!s) return '"-"';
  return `"${s.replace(/["\\]/g, (c) => `\\${c}`).replace(CONTROL, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : hex(c)))}"`;
}

/** JSON.stringify leaves DEL, C1 and U+2028/9 as they are; escape them as JSON does C0. */
function jsonLine(v: unknown): string {
  return JSON.stringify(v).replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A bare field (method, path): control characters escaped, nothing else. */
function esc(s: string): string {
  return s.replace(CONTROL, hex);
}

/** [start] "METHOD PATH PROTO" STATUS FLAGS BYTES_IN BYTES_OUT DURATION "UA" "REQ-ID" "AUTHORITY" "UPSTREAM" route=… [mirror=…] */
function textLine(e: AccessLogEntry): string {
  const kind = e.mirror ? ` mirror=${e.mirror}` : '';
  return `[${new Date(e.start).toISOString()}] "${esc(e.method)} ${esc(e.path)} ${esc(e.protocol)}" ${e.status} ${e.flags} ${e.bytesIn} ${e.bytesOut} ${Math.round(e.durationMs)} ${q(e.userAgent)} ${q(e.requestId)} ${q(e.authority)} ${q(e.upstream)} route=${e.route}${kind}`;
}
