// What every request of one Umbra process shares: the route table source, upstream pools and
// endpoint state, the mirror writer and its budgets, the access log and observers. Each request is
// owned by its own ProxiedRequest (proxied-request.ts); this class only hands requests to it.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MirrorPolicy, RouteTable, VirtualHost } from '../model/route-table.js';
import { AccessLog } from './access-log.js';
import type { RequestObserver } from '../model/data-plane-events.js';
import { MirrorBodyBudget, type BodyTee } from './body-tee.js';
import { DEFAULT_DOWNSTREAM, type DownstreamOptions } from './downstream-options.js';
import { Http1Downstream, type DownstreamStream } from './downstream-stream.js';
import { MirrorWriter, type MirrorRequest } from './mirror.js';
import { MirrorMarker, MIRROR_MARKER, MIRROR_PROOF } from './mirror-marker.js';
import { pathNormalizer, type PathNormalizer } from './path-normalize.js';
import { ProxiedRequest } from './proxied-request.js';
import { Upstreams } from './upstreams.js';

export interface ProxyOptions {
  /** Total bytes of request bodies buffered for all mirrors together. */
  readonly mirrorBodyBudget: number;
  readonly accessLog?: (s: string) => void;
  readonly accessLogFormat?: 'text' | 'json';
  /** Client-side limits and policies (header limits, timeouts, XFF trust, path normalisation). */
  readonly downstream?: Partial<DownstreamOptions>;
}

/** Where the data plane reads the route table in service (the runtime's ConfigState is one). */
export interface TableSource {
  readonly table: RouteTable;
  on(event: 'swap', listener: (t: RouteTable) => void): unknown;
}

/** Finds the virtual host for a request on one listener. */
export type VhostResolver = (table: RouteTable, authority: string) => VirtualHost | undefined;

export type { RequestObserver };

/** The primary's response, as a comparison sees it (only requests mirrored with compare on). */
export interface PrimaryCapture {
  start(status: number, headers: Record<string, string | string[] | undefined>): void;
  data(chunk: Buffer): void;
  /** The response is complete; `trailers` (gRPC's status) are compared with the headers. */
  end(trailers?: Record<string, string | string[] | undefined>): void;
  /** The primary failed (no complete response): nothing to compare against. */
  fail(): void;
}

/**
 * Where admitted copies are recorded (MirrorPolicy `record`, issue 16; src/record/start.ts sets it).
 * `record` is called for each admitted copy of a policy with `record` set, before the body flows.
 */
export interface CopyRecordSink {
  record(policy: MirrorPolicy, copy: MirrorRequest, body: BodyTee | undefined): void;
  close(): Promise<void>;
}

export class Proxy {
  readonly upstreams = new Upstreams();
  readonly mirrors: MirrorWriter;
  readonly budget: MirrorBodyBudget;
  readonly log: AccessLog;
  observer?: RequestObserver;
  /** Client-side limits every listener of this proxy applies (listener.ts reads them too). */
  readonly downstream: DownstreamOptions;
  readonly normalizePath: PathNormalizer;
  /** Shadow comparison (issue 9): a capture only for requests mirrored with compare on. */
  comparison?: {
    begin(
      requestId: string,
      route: string,
      method: string,
      path: string,
      admitted: readonly MirrorPolicy[],
    ): PrimaryCapture | undefined;
  };
  /** Recording of admitted copies (issue 16). */
  recorder?: CopyRecordSink;

  constructor(
    readonly tables: TableSource,
    opts: ProxyOptions,
  ) {
    this.mirrors = new MirrorWriter(this.upstreams, new MirrorMarker());
    this.budget = new MirrorBodyBudget(opts.mirrorBodyBudget);
    this.log = new AccessLog(opts.accessLog, opts.accessLogFormat);
    this.downstream = { ...DEFAULT_DOWNSTREAM, ...opts.downstream };
    this.normalizePath = pathNormalizer(this.downstream.pathNormalization);
    this.mirrors.observer = (m) =>
      this.log.enabled &&
      this.log.log({
        start: Date.now() - m.durationMs,
        method: m.req.method,
        path: m.req.path,
        protocol: 'HTTP/1.1',
        status: m.status,
        flags: m.flag,
        // Seen from the copy, like the primary's line: what was sent to the mirror, what came back.
        bytesIn: m.bodyBytesSent,
        bytesOut: m.bytesIn,
        durationMs: m.durationMs,
        upstream: m.upstream,
        authority: m.authority,
        requestId: m.req.requestId,
        userAgent: String(m.req.headersIn['user-agent'] ?? ''),
        route: '-',
        mirror: m.policy.name,
      });
    tables.on('swap', (t: RouteTable) => this.upstreams.retain(t));
  }

  /** An HTTP/1.1 request from node's server. */
  handle(req: IncomingMessage, res: ServerResponse, resolve: VhostResolver): void {
    this.handleStream(new Http1Downstream(req, res), resolve);
  }

  /** A request on any downstream protocol: the lifecycle owns it from here to its log line. */
  handleStream(ds: DownstreamStream, resolve: VhostResolver): void {
    const r = new ProxiedRequest(this, ds);
    ds.owner = r;
    r.run(resolve);
  }

  /**
   * The mirrors that get a copy of this request (sampled, capped, breaker). A request that is
   * itself a copy made by Umbra — the marker with a valid proof — is never copied again.
   */
  admitMirrors(mirrors: readonly MirrorPolicy[], ds: DownstreamStream): MirrorPolicy[] | undefined {
    const isCopy = this.isCopy(ds);
    let admitted: MirrorPolicy[] | undefined;
    for (const m of mirrors)
      if (this.mirrors.admit(m, ds.method, isCopy, ds.headers)) (admitted ??= []).push(m);
    return admitted;
  }

  isCopy(ds: DownstreamStream): boolean {
    return ds.headers[MIRROR_MARKER] !== undefined && this.mirrors.marker.isCopy(ds.headers);
  }

  /** The marker and proof of a genuine copy, forwarded on with it (so a chain of Umbras stops it). */
  copyMarker(ds: DownstreamStream): readonly string[] | undefined {
    if (!this.isCopy(ds)) return undefined;
    return [MIRROR_MARKER, String(ds.headers[MIRROR_MARKER]), MIRROR_PROOF, String(ds.headers[MIRROR_PROOF])];
  }

  async close(): Promise<void> {
    this.log.flush();
    await Promise.all([this.upstreams.close(), this.recorder?.close()]);
  }
}
