// Objects from the API server as configuration: fields newer than Umbra's schemas are dropped with a
// warning instead of losing the object; real errors leave the object out, reported as ignored; pods
// become workloads only while Running, Ready, addressed and not terminating.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/kubernetes/informer.js';
import { podWorkload, trimPod } from '../../src/kubernetes/pods.js';
import { toResource } from '../../src/kubernetes/to-resource.js';
import { podObject } from '../helpers/fake-kube-apiserver.js';

const service = (spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: {
    name: 'httpbin',
    namespace: 'default',
    resourceVersion: '7',
    uid: 'u1',
    managedFields: [{ manager: 'kubectl' }],
  },
  spec: { ports: [{ name: 'http', port: 8000, targetPort: 80 }], selector: { app: 'httpbin' }, ...spec },
  status: { loadBalancer: {} },
});

test('fields unknown to Umbra (a newer Kubernetes) are dropped with a warning; the object is kept', () => {
  const c = toResource(
    service({
      someFutureField: { enabled: true },
      ports: [{ name: 'http', port: 8000, futurePortField: 1 }],
    }),
  );
  assert.ok(c.resource, JSON.stringify(c.issues));
  assert.equal(c.resource.source.file, 'api-server');
  assert.equal(c.resource.source.lineOf('spec'), undefined);
  assert.equal(c.resource.metadata.resourceVersion, '7');
  const msgs = c.issues.map((i) => `${i.severity} ${i.path}: ${i.message}`).sort();
  assert.deepEqual(msgs, [
    'warning spec.ports[0].futurePortField: field(s) unknown to Umbra ignored: futurePortField',
    'warning spec.someFutureField: field(s) unknown to Umbra ignored: someFutureField',
  ]);
  assert.ok(c.issues.every((i) => i.file === 'api-server' && i.line === undefined));
});

test('an object with a real error is left out and reported as ignored (a warning, not a failed reload)', () => {
  const c = toResource(service({ type: 'Sideways' }));
  assert.equal(c.resource, undefined);
  assert.equal(c.issues.length, 1);
  assert.equal(c.issues[0].severity, 'warning');
  assert.match(c.issues[0].message, /^object ignored: "Sideways" is not one of/);
  assert.equal(c.issues[0].resource, 'Service default/httpbin');
});

test('pods become workloads: pod IP, labels, named TCP container ports, readiness', () => {
  const base = podObject('p', {
    labels: { app: 'a', version: 'v1' },
    ports: { http: 8080, metrics: 9090 },
    ip: '10.1.2.3',
  }) as unknown as KubeObject;
  const w = podWorkload(trimPod(base));
  assert.deepEqual(w, {
    name: 'p',
    namespace: 'default',
    address: '10.1.2.3',
    labels: { app: 'a', version: 'v1' },
    ports: { http: 8080, metrics: 9090 },
    ready: true,
    kind: 'Pod',
  });
  interface PodShape {
    metadata: { deletionTimestamp?: string };
    spec: { containers: { ports: { protocol?: string }[] }[] };
    status: { phase?: string; podIP?: string; conditions: { status: string }[] };
  }
  const variant = (f: (p: PodShape) => void) => {
    const p = structuredClone(base) as unknown as PodShape;
    f(p);
    return podWorkload(trimPod(p as unknown as KubeObject)).ready;
  };
  assert.equal(
    variant((p) => (p.status.conditions[0].status = 'False')),
    false,
    'not Ready',
  );
  assert.equal(
    variant((p) => (p.status.phase = 'Pending')),
    false,
    'not Running',
  );
  assert.equal(
    variant((p) => delete p.status.podIP),
    false,
    'no IP yet',
  );
  assert.equal(
    variant((p) => (p.metadata.deletionTimestamp = '2024-01-01T00:00:00Z')),
    false,
    'terminating',
  );
  assert.equal(
    variant((p) => (p.spec.containers[0].ports[0].protocol = 'UDP')),
    true,
  );
  const udp = structuredClone(base) as unknown as PodShape;
  udp.spec.containers[0].ports[1].protocol = 'UDP';
  assert.deepEqual(podWorkload(trimPod(udp as unknown as KubeObject)).ports, { http: 8080 });
});
