// One place `umbra replay` sends to: an undici pool for the target's origin, the request as it is
// put on the wire (Host, header overrides, hop-by-hop headers left out), and the response read
// to its end — kept up to a limit when it is to be compared, otherwise only counted.

import { Pool } from 'undici';
import type { ReplayRequest } from './replay-request.js';

/** Never replayed: connection-level headers (RFC 9110 §7.6.1), the length (the body sets it), and
 *  Umbra's copy marker and its proof (a replay is new traffic: a marked request would not be
 *  mirrored again). */
const NOT_REPLAYED = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'content-length',
  'x-umbra-mirror',
  'x-umbra-mirror-proof',
]);

export interface HeaderOverride {
  readonly name: string;
  /** undefined removes the header. */
  readonly value?: string;
}

export interface SendOptions {
  /** Send the recorded Host instead of the target's. */
  readonly keepHost: boolean;
  readonly overrides: readonly HeaderOverride[];
  readonly timeoutMs: number;
}

export interface TargetResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The body when kept (compare mode and within the limit). */
  readonly body: Buffer | null;
  readonly size: number;
  readonly truncated: boolean;
  readonly latencyMs: number;
}

/** The header list a replayed request carries, flat [name, value, …] as undici takes it. */
export function replayHeaders(req: ReplayRequest, hostHeader: string, o: SendOptions): string[] {
  const drop = new Set(o.overrides.map((x) => x.name));
  const out: string[] = ['host', o.keepHost ? req.authority : hostHeader];
  for (const [n, v] of req.headers) {
    const name = n.toLowerCase();
    if (!NOT_REPLAYED.has(name) && !drop.has(name)) out.push(name, v);
  }
  for (const x of o.overrides) {
    if (x.value === undefined) continue;
    if (x.name === 'host') out[1] = x.value;
    else out.push(x.name, x.value);
  }
  return out;
}

export class ReplayTarget {
  private readonly pool: Pool;
  private readonly prefix: string;
  readonly hostHeader: string;

  constructor(
    readonly url: URL,
    connections: number,
    private readonly o: SendOptions,
  ) {
    this.pool = new Pool(url.origin, {
      connections,
      headersTimeout: o.timeoutMs,
      bodyTimeout: o.timeoutMs,
    });
    // A target URL with a path ("http://host/base") puts every recorded path under it.
    this.prefix = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
    this.hostHeader = url.host;
  }

  get name(): string {
    return this.url.origin + this.prefix;
  }

  /** Sends one request; resolves with the response, rejects with undici's error (code set). */
  async send(req: ReplayRequest, keepBytes: number): Promise<TargetResponse> {
    const started = performance.now();
    const r = await this.pool.request({
      method: req.method,
      path: this.prefix + req.path,
      headers: replayHeaders(req, this.hostHeader, this.o),
      body: req.body.length > 0 ? req.body : undefined,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    for await (const c of r.body) {
      const chunk = c as Buffer;
      size += chunk.length;
      if (size <= keepBytes) chunks.push(chunk);
      else if (keepBytes > 0) truncated = true;
    }
    return {
      status: r.statusCode,
      headers: r.headers,
      body: keepBytes > 0 && !truncated ? Buffer.concat(chunks) : null,
      size,
      truncated,
      latencyMs: performance.now() - started,
    };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
