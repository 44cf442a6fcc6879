// /stats/prometheus: Istio's standard request metrics with Istio's label names (so the Istio
// dashboards and Kiali work unchanged), copies told apart by mirror="true", Umbra's mirror metrics,
// and the JSON a multi-worker primary merges with prom-client's AggregatorRegistry.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { parsePrometheus, scrape, sumOf, type Sample } from '../helpers/mirror-safety.js';
import { routeToV1, twoVersionService, MIRROR_V2 } from '../helpers/mesh-yaml.js';
import { startEchoServer, startStatusServer, waitFor } from '../helpers/servers.js';
import { startTestUmbra } from '../helpers/umbra.js';
import { aggregateMetrics } from '../../src/telemetry/telemetry.js';

/** Istio's standard label set (istio.io/latest/docs/reference/config/metrics). */
const ISTIO_LABELS = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_canonical_service',
  'source_canonical_revision',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_cluster',
  'request_protocol',
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy',
];

function one(samples: readonly Sample[], name: string, match: Record<string, string>): Sample {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v),
  );
  assert.equal(found.length, 1, `${name} ${JSON.stringify(match)}: ${found.length} series`);
  return found[0];
}

test('Istio standard metrics for primaries and copies, with Istio labels', async () => {
  const v1 = await startEchoServer();
  const v2 = await startStatusServer(503, 10);
  const u = await startTestUmbra({
    'mesh.yaml': twoVersionService(v1.port, v2.port),
    'vs.yaml': routeToV1(MIRROR_V2),
  });
  try {
    for (let i = 0; i < 5; i++) {
      const r = await request(`${u.proxyUrl}/post`, {
        method: 'POST',
        body: 'x'.repeat(1500),
        headers: { host: 'app:8000' },
      });
      await r.body.text();
    }
    const missing = await request(`${u.proxyUrl}/`, { headers: { host: 'nowhere.example' } });
    await missing.body.text();
    const c = u.proxy.mirrors.counters.get('app.default|v2')!;
    await waitFor(() => c.completed['5xx'] === 5, 3000);

    const { contentType, samples } = await scrape(u.adminUrl);
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);

    const primary = one(samples, 'istio_requests_total', { mirror: 'false', response_code: '200' });
    assert.equal(primary.value, 5);
    for (const l of ISTIO_LABELS) assert.ok(l in primary.labels, `label ${l}`);
    assert.deepEqual(
      {
        reporter: primary.labels.reporter,
        source_workload: primary.labels.source_workload,
        source_workload_namespace: primary.labels.source_workload_namespace,
        destination_service: primary.labels.destination_service,
        destination_service_name: primary.labels.destination_service_name,
        destination_service_namespace: primary.labels.destination_service_namespace,
        destination_workload: primary.labels.destination_workload,
        destination_workload_namespace: primary.labels.destination_workload_namespace,
        destination_app: primary.labels.destination_app,
        destination_version: primary.labels.destination_version,
        destination_canonical_service: primary.labels.destination_canonical_service,
        destination_canonical_revision: primary.labels.destination_canonical_revision,
        request_protocol: primary.labels.request_protocol,
        response_flags: primary.labels.response_flags,
        connection_security_policy: primary.labels.connection_security_policy,
      },
      {
        reporter: 'source',
        source_workload: 'umbra',
        source_workload_namespace: 'default',
        destination_service: 'app.default.svc.cluster.local',
        destination_service_name: 'app',
        destination_service_namespace: 'default',
        destination_workload: 'app-v1',
        destination_workload_namespace: 'default',
        destination_app: 'app',
        destination_version: 'v1',
        destination_canonical_service: 'app',
        destination_canonical_revision: 'v1',
        request_protocol: 'http',
        response_flags: '-',
        connection_security_policy: 'unknown',
      },
    );

    // The copies: same names, the mirror's destination, told apart by mirror="true".
    const copy = one(samples, 'istio_requests_total', { mirror: 'true' });
    assert.equal(copy.value, 5);
    assert.equal(copy.labels.destination_version, 'v2');
    assert.equal(copy.labels.destination_workload, 'app-v2');
    assert.equal(copy.labels.response_code, '503');

    // Histograms: cumulative buckets ending in +Inf = _count, with Istio's names.
    const m = { mirror: 'false', response_code: '200' };
    assert.equal(one(samples, 'istio_request_duration_milliseconds_count', m).value, 5);
    assert.equal(one(samples, 'istio_request_duration_milliseconds_bucket', { ...m, le: '+Inf' }).value, 5);
    assert.equal(one(samples, 'istio_request_bytes_sum', m).value, 5 * 1500);
    assert.equal(one(samples, 'istio_request_bytes_bucket', { ...m, le: '1000' }).value, 0);
    assert.equal(one(samples, 'istio_request_bytes_bucket', { ...m, le: '10000' }).value, 5);
    assert.equal(one(samples, 'istio_response_bytes_count', m).value, 5);
    // A request no route knows: counted, with an unknown destination and Envoy's NR flag.
    const nr = one(samples, 'istio_requests_total', { response_code: '404' });
    assert.equal(nr.labels.response_flags, 'NR');
    assert.equal(nr.labels.destination_service, 'unknown');

    // Umbra's mirror metrics: the "is v2 safe?" pairs, status classes, latency.
    const mirror = { mirror: 'app.default|v2' };
    assert.equal(
      one(samples, 'umbra_mirror_status_pairs_total', {
        ...mirror,
        primary_class: '2xx',
        mirror_class: '5xx',
      }).value,
      5,
    );
    assert.equal(one(samples, 'umbra_mirror_completed_total', { ...mirror, status_class: '5xx' }).value, 5);
    assert.equal(one(samples, 'umbra_mirror_duration_milliseconds_count', mirror).value, 5);
    assert.equal(one(samples, 'umbra_mirror_sampled_total', mirror).value, 5);
    // Node's process metrics ride along (the RSS the memory test watches).
    assert.ok(sumOf(samples, 'process_resident_memory_bytes') > 0);
  } finally {
    await u.close();
    await v1.close();
    await v2.close();
  }
});

test('metricsJson() of two processes merges into one exposition (multi-worker primary)', async () => {
  const v1 = await startEchoServer();
  const v2 = await startEchoServer();
  const files = { 'mesh.yaml': twoVersionService(v1.port, v2.port), 'vs.yaml': routeToV1(MIRROR_V2) };
  const a = await startTestUmbra(files);
  const b = await startTestUmbra(files);
  try {
    for (const [u, n] of [
      [a, 3],
      [b, 4],
    ] as const) {
      for (let i = 0; i < n; i++)
        await (await request(`${u.proxyUrl}/x`, { headers: { host: 'app:8000' } })).body.text();
      await waitFor(() => u.proxy.mirrors.counters.get('app.default|v2')?.completed['2xx'] === n, 3000);
    }
    const merged = parsePrometheus(
      await aggregateMetrics([await a.telemetry.metricsJson(), await b.telemetry.metricsJson()]),
    );
    assert.equal(sumOf(merged, 'istio_requests_total', { mirror: 'false', response_code: '200' }), 7);
    assert.equal(sumOf(merged, 'istio_requests_total', { mirror: 'true', response_code: '200' }), 7);
    assert.equal(sumOf(merged, 'istio_request_duration_milliseconds_count', { mirror: 'false' }), 7);
    assert.equal(
      sumOf(merged, 'istio_request_duration_milliseconds_bucket', { mirror: 'false', le: '+Inf' }),
      7,
    );
    assert.equal(sumOf(merged, 'umbra_mirror_sent_total', { mirror: 'app.default|v2' }), 7);
    assert.equal(
      sumOf(merged, 'umbra_mirror_status_pairs_total', { primary_class: '2xx', mirror_class: '2xx' }),
      7,
    );
  } finally {
    await a.close();
    await b.close();
    await v1.close();
    await v2.close();
  }
});
