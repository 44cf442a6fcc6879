// Istio's standard request metrics (istio_requests_total, istio_request_duration_milliseconds,
// istio_request_bytes, istio_response_bytes) with Istio's label names, so the Istio Grafana
// dashboards and Kiali read Umbra unchanged (https://istio.io/latest/docs/reference/config/metrics/).
// Umbra reports as a client-side proxy (reporter="source"); copies are told apart by mirror="true".

import type { Cluster, Endpoint, RouteTable } from '../model/route-table.js';
import {
  CollectedMetric,
  histogramValues,
  newHistogram,
  observe,
  type HistogramState,
  type Labels,
} from './series.js';

/** Envoy's default histogram bounds, which Istio's duration metric uses (ms). */
export const DURATION_BUCKETS_MS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
];
/** Body sizes: powers of ten from 1 B to 1 GB. */
export const SIZE_BUCKETS_BYTES: readonly number[] = [
  1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000,
];

/** Who Umbra reports as the source of the traffic it proxies. */
export interface SourceIdentity {
  readonly workload: string;
  readonly namespace: string;
  readonly app?: string;
  readonly version?: string;
}

interface IstioSeries {
  readonly labels: Labels;
  requests: number;
  readonly duration: HistogramState;
  readonly requestBytes: HistogramState;
  readonly responseBytes: HistogramState;
}

/** One destination (cluster endpoint) and the series of each outcome, primary [0] and mirror [1]. */
interface Destination {
  readonly base: Labels;
  readonly outcomes: [Map<number, Map<string, IstioSeries>>, Map<number, Map<string, IstioSeries>>];
}

const UNKNOWN = 'unknown';

/** Istio derives a Pod's workload from its owner; a ReplicaSet pod "web-v1-5d8f7-x2x7q" belongs to "web-v1". */
function workloadName(e: Endpoint): { name: string; namespace: string } {
  const slash = e.workload.indexOf('/');
  const namespace = slash === -1 ? UNKNOWN : e.workload.slice(0, slash);
  let name = slash === -1 ? e.workload : e.workload.slice(slash + 1);
  const named = e.labels['service.istio.io/workload-name'];
  const hash = e.labels['pod-template-hash'];
  if (named) name = named;
  else if (hash && name.includes(`-${hash}-`)) name = name.slice(0, name.lastIndexOf(`-${hash}-`));
  return { name, namespace };
}

function sourceLabels(s: SourceIdentity): Record<string, string> {
  return {
    reporter: 'source',
    source_workload: s.workload,
    source_workload_namespace: s.namespace,
    source_principal: UNKNOWN,
    source_app: s.app ?? s.workload,
    source_version: s.version ?? UNKNOWN,
    source_canonical_service: s.app ?? s.workload,
    source_canonical_revision: s.version ?? 'latest',
    source_cluster: UNKNOWN,
  };
}

function destinationLabels(cluster: Cluster | undefined, e: Endpoint | undefined): Record<string, string> {
  const l = e?.labels ?? {};
  const w = e ? workloadName(e) : { name: UNKNOWN, namespace: UNKNOWN };
  const app = l['app'] ?? l['app.kubernetes.io/name'];
  const version = l['version'] ?? l['app.kubernetes.io/version'];
  return {
    destination_workload: w.name,
    destination_workload_namespace: e ? w.namespace : (cluster?.service.namespace ?? UNKNOWN),
    destination_principal: UNKNOWN,
    destination_app: app ?? UNKNOWN,
    destination_version: version ?? UNKNOWN,
    destination_service: cluster?.service.fqdn ?? UNKNOWN,
    destination_service_name: cluster?.service.name ?? UNKNOWN,
    destination_service_namespace: cluster?.service.namespace ?? UNKNOWN,
    destination_canonical_service: l['service.istio.io/canonical-name'] ?? app ?? (e ? w.name : UNKNOWN),
    destination_canonical_revision: l['service.istio.io/canonical-revision'] ?? version ?? 'latest',
    destination_cluster: UNKNOWN,
  };
}

export class IstioRequestMetrics {
  /** Every series ever seen, by its label values: counters survive reloads. */
  private readonly series = new Map<string, IstioSeries>();
  /** Cluster name → "address:port" → destination; rebuilt lazily after each table swap. */
  private byCluster = new Map<string, Map<string, Destination>>();
  private readonly unknown: Destination;
  private readonly source: Record<string, string>;

  constructor(
    private readonly table: () => RouteTable,
    source: SourceIdentity,
  ) {
    this.source = sourceLabels(source);
    this.unknown = this.destination(undefined, undefined);
  }

  /** After a table swap: clusters and endpoints may have changed (series stay). */
  tableChanged(): void {
    this.byCluster = new Map();
  }

  private destination(cluster: Cluster | undefined, e: Endpoint | undefined): Destination {
    return {
      base: {
        ...this.source,
        ...destinationLabels(cluster, e),
        request_protocol: 'http',
        grpc_response_status: '',
        // Istio fills this from the destination's view and reports "unknown" from the source; Umbra
        // knows its own upstream connection: "mutual_tls" when it presents a client certificate.
        connection_security_policy: cluster?.tls?.mode === 'MUTUAL' ? 'mutual_tls' : UNKNOWN,
      },
      outcomes: [new Map(), new Map()],
    };
  }

  private destinationFor(clusterName: string | undefined, upstream: string): Destination {
    if (clusterName === undefined) return this.unknown;
    let eps = this.byCluster.get(clusterName);
    if (!eps) this.byCluster.set(clusterName, (eps = new Map()));
    let d = eps.get(upstream);
    if (!d) {
      const c = this.table().clusters.get(clusterName);
      const e = c?.endpoints.find((x) => `${x.address}:${x.port}` === upstream);
      eps.set(upstream, (d = this.destination(c, e)));
    }
    return d;
  }

  private seriesFor(
    d: Destination,
    mirrored: boolean,
    status: number,
    flags: string,
    grpcStatus?: string,
  ): IstioSeries {
    if (grpcStatus !== undefined) return this.grpcSeries(d, mirrored, status, flags, grpcStatus);
    const byStatus = d.outcomes[mirrored ? 1 : 0];
    let byFlags = byStatus.get(status);
    if (!byFlags) byStatus.set(status, (byFlags = new Map()));
    let s = byFlags.get(flags);
    if (!s) {
      const labels: Labels = {
        ...d.base,
        response_code: String(status),
        response_flags: flags,
        mirror: mirrored ? 'true' : 'false',
      };
      s = this.seriesOf(labels);
      byFlags.set(flags, s);
    }
    return s;
  }

  /** gRPC requests: request_protocol "grpc" and their grpc-status (not cached by status: rarer). */
  private grpcSeries(
    d: Destination,
    mirrored: boolean,
    status: number,
    flags: string,
    grpcStatus: string,
  ): IstioSeries {
    const labels: Labels = {
      ...d.base,
      request_protocol: 'grpc',
      grpc_response_status: grpcStatus,
      response_code: String(status),
      response_flags: flags,
      mirror: mirrored ? 'true' : 'false',
    };
    return this.seriesOf(labels);
  }

  /** The series with exactly these labels, made on first use. */
  private seriesOf(labels: Labels): IstioSeries {
    const key = Object.values(labels).join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      s = {
        labels,
        requests: 0,
        duration: newHistogram(DURATION_BUCKETS_MS),
        requestBytes: newHistogram(SIZE_BUCKETS_BYTES),
        responseBytes: newHistogram(SIZE_BUCKETS_BYTES),
      };
      this.series.set(key, s);
    }
    return s;
  }

  /** One finished request (primary or copy). `cluster` undefined: no upstream was chosen (NR, UH, local reply). */
  record(
    cluster: string | undefined,
    upstream: string,
    mirrored: boolean,
    status: number,
    flags: string,
    requestBytes: number,
    responseBytes: number,
    durationMs: number,
    /** Set for gRPC requests: their grpc-status ("" when the response had none). */
    grpcStatus?: string,
  ): void {
    const s = this.seriesFor(this.destinationFor(cluster, upstream), mirrored, status, flags, grpcStatus);
    s.requests++;
    observe(s.duration, DURATION_BUCKETS_MS, durationMs);
    observe(s.requestBytes, SIZE_BUCKETS_BYTES, requestBytes);
    observe(s.responseBytes, SIZE_BUCKETS_BYTES, responseBytes);
  }

  metrics(): CollectedMetric[] {
    const all = () => this.series.values();
    const hist = (
      name: string,
      help: string,
      pick: (s: IstioSeries) => HistogramState,
      bounds: readonly number[],
    ) =>
      new CollectedMetric(name, help, 'histogram', (out) => {
        for (const s of all()) histogramValues(name, s.labels, bounds, pick(s), out);
      });
    return [
      new CollectedMetric(
        'istio_requests_total',
        'Requests handled by Umbra (Istio standard metric); mirror="true" for copies',
        'counter',
        (out) => {
          for (const s of all()) out.push({ value: s.requests, labels: { ...s.labels } });
        },
      ),
      hist(
        'istio_request_duration_milliseconds',
        'Request duration in milliseconds (Istio standard metric)',
        (s) => s.duration,
        DURATION_BUCKETS_MS,
      ),
      hist(
        'istio_request_bytes',
        'Request body size in bytes (Istio standard metric)',
        (s) => s.requestBytes,
        SIZE_BUCKETS_BYTES,
      ),
      hist(
        'istio_response_bytes',
        'Response body size in bytes (Istio standard metric)',
        (s) => s.responseBytes,
        SIZE_BUCKETS_BYTES,
      ),
    ];
  }
}
