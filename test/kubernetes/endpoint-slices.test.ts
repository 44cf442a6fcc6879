// EndpointSlices are where a Service's endpoints come from in Kubernetes mode, as for kube-proxy and
// istiod: the slice's port (not the Pod's declared containerPort), its ready/serving/terminating
// conditions, slices kept by another controller; Pods only lend labels (targetRef) to subsets.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podObject } from '../helpers/fake-kube-apiserver.js';
import { get, published, startCluster } from '../helpers/kube-cluster.js';
import { startEchoServer } from '../helpers/servers.js';

type Json = Record<string, unknown> & { metadata: Record<string, unknown> };

const service = (name: string, spec: Record<string, unknown>): Json => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'default' },
  spec,
});

interface SliceEndpoint {
  ip: string;
  pod?: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

/** A slice another controller maintains (not kube-controller-manager's). */
const slice = (name: string, svc: string, port: number, eps: SliceEndpoint[]): Json => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: {
    name,
    namespace: 'default',
    labels: {
      'kubernetes.io/service-name': svc,
      'endpointslice.kubernetes.io/managed-by': 'lb-controller.example.com',
    },
  },
  addressType: 'IPv4',
  ports: [{ name: 'http', port, protocol: 'TCP' }],
  endpoints: eps.map((e) => ({
    addresses: [e.ip],
    conditions: { ready: e.ready, serving: e.serving, terminating: e.terminating },
    ...(e.pod ? { targetRef: { kind: 'Pod', namespace: 'default', name: e.pod } } : {}),
  })),
});

test("the slice's port wins over the Pod's declared containerPort (numeric targetPort)", async () => {
  const [target, declared] = await Promise.all([startEchoServer(), startEchoServer()]);
  const c = await startCluster([
    service('httpbin', {
      selector: { app: 'httpbin' },
      ports: [{ name: 'http', port: 8000, targetPort: target.port }],
    }),
    // The pod names its port "http" but on another number: Kubernetes still sends to targetPort.
    podObject('httpbin-1', { labels: { app: 'httpbin' }, ports: { http: declared.port } }) as Json,
  ]);
  try {
    for (let i = 0; i < 3; i++) assert.equal((await get(c.umbra, `/t/${i}`)).status, 200);
    assert.equal(target.requests.length, 3);
    assert.equal(declared.requests.length, 0);
  } finally {
    await c.close();
    await Promise.all([target.close(), declared.close()]);
  }
});

test('a slice kept by another controller: its port change moves traffic; not-ready endpoints get none', async () => {
  const [a, b, notReady] = await Promise.all([startEchoServer(), startEchoServer(), startEchoServer()]);
  const c = await startCluster([
    service('httpbin', { ports: [{ name: 'http', port: 8000 }] }), // no selector: the slice is all there is
    slice('httpbin-lb', 'httpbin', a.port, [{ ip: '127.0.0.1' }]),
    slice('httpbin-lb-2', 'httpbin', notReady.port, [{ ip: '127.0.0.1', ready: false, serving: false }]),
  ]);
  try {
    for (let i = 0; i < 3; i++) assert.equal((await get(c.umbra, `/a/${i}`)).status, 200);
    assert.equal(a.requests.length, 3);
    assert.equal(notReady.requests.length, 0, 'a not-ready endpoint gets no traffic');

    const moved = c.api.apply(slice('httpbin-lb', 'httpbin', b.port, [{ ip: '127.0.0.1' }]));
    await published(c.umbra, [
      {
        kind: 'EndpointSlice',
        name: 'httpbin-lb',
        rv: String((moved.metadata as Json['metadata']).resourceVersion),
      },
    ]);
    for (let i = 0; i < 3; i++) assert.equal((await get(c.umbra, `/b/${i}`)).status, 200);
    assert.equal(b.requests.length, 3, "the slice's new port has the traffic");
    assert.equal(a.requests.length, 3, 'nothing more to the old port');
    assert.equal(notReady.requests.length, 0);
  } finally {
    await c.close();
    await Promise.all([a.close(), b.close(), notReady.close()]);
  }
});

test('no ready endpoint: serving-and-terminating ones take the traffic (KEP-1669), never a non-serving one', async () => {
  const [draining, dead] = await Promise.all([startEchoServer(), startEchoServer()]);
  const c = await startCluster([
    service('httpbin', { ports: [{ name: 'http', port: 8000 }] }),
    slice('s1', 'httpbin', draining.port, [
      { ip: '127.0.0.1', ready: false, serving: true, terminating: true },
    ]),
    slice('s2', 'httpbin', dead.port, [{ ip: '127.0.0.1', ready: false, serving: false, terminating: true }]),
  ]);
  try {
    for (let i = 0; i < 2; i++) assert.equal((await get(c.umbra, `/d/${i}`)).status, 200);
    assert.equal(draining.requests.length, 2);
    assert.equal(dead.requests.length, 0);
  } finally {
    await c.close();
    await Promise.all([draining.close(), dead.close()]);
  }
});

test('subsets select slice endpoints by the labels of the Pod their targetRef names', async () => {
  const [v1, v2] = await Promise.all([startEchoServer(), startEchoServer()]);
  const vs: Json = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'httpbin', namespace: 'default' },
    spec: { hosts: ['httpbin'], http: [{ route: [{ destination: { host: 'httpbin', subset: 'v2' } }] }] },
  };
  const dr: Json = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'httpbin', namespace: 'default' },
    spec: {
      host: 'httpbin',
      subsets: [
        { name: 'v1', labels: { version: 'v1' } },
        { name: 'v2', labels: { version: 'v2' } },
      ],
    },
  };
  const c = await startCluster([
    service('httpbin', { ports: [{ name: 'http', port: 8000 }] }),
    // The pods' own ports are irrelevant (and wrong here): only their labels count.
    podObject('p1', { labels: { version: 'v1' }, ports: { http: 1 } }) as Json,
    podObject('p2', { labels: { version: 'v2' }, ports: { http: 1 } }) as Json,
    slice('a', 'httpbin', v1.port, [{ ip: '127.0.0.1', pod: 'p1' }]),
    slice('b', 'httpbin', v2.port, [{ ip: '127.0.0.1', pod: 'p2' }]),
    vs,
    dr,
  ]);
  try {
    const v2Cluster = [...c.umbra.state.table.clusters.values()].find((x) => x.subset === 'v2');
    assert.deepEqual(
      v2Cluster?.endpoints.map((e) => `${e.workload} ${e.port}`),
      [`default/p2 ${v2.port}`],
    );
    for (let i = 0; i < 3; i++) assert.equal((await get(c.umbra, `/s/${i}`)).status, 200);
    assert.equal(v2.requests.length, 3);
    assert.equal(v1.requests.length, 0);
  } finally {
    await c.close();
    await Promise.all([v1.close(), v2.close()]);
  }
});
