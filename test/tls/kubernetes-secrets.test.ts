// TLS Secrets watched from the API server (issue 15): only kubernetes.io/tls Secrets are listed and
// watched (field selector), a Gateway's HTTPS listener serves the Secret's certificate, and a Secret
// updated in the API server reaches new connections without a restart. The Secret's content never
// appears in Umbra's logs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { parse } from 'yaml';
import { FakeKubeApiServer } from '../helpers/fake-kube-apiserver.js';
import { freePort, waitFor } from '../helpers/servers.js';
import { createTestCa, tlsSecretYaml } from '../helpers/tls-certs.js';
import { startTestUmbra } from '../helpers/umbra.js';
import { handshake } from './tls-probe.js';
import { scratchDir } from '../helpers/scratch.js';

type Json = Record<string, unknown> & { metadata: Record<string, unknown> };

test('kubernetes.io/tls Secrets from the API server: field-selected, served, rotated without a restart', async () => {
  const ca = createTestCa();
  const first = ca.issue(['edge.example.test']);
  const api = await FakeKubeApiServer.start();
  const dir = scratchDir('umbra-kube-tls-');
  const port = await freePort();
  const secret = (pair: { certPem: string; keyPem: string }) => {
    const o = parse(tlsSecretYaml('edge-cert', pair, 'default')) as Json;
    delete o.metadata.creationTimestamp;
    return o;
  };
  api.apply({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'GatewayClass',
    metadata: { name: 'umbra' },
    spec: { controllerName: 'umbra.dev/gateway-controller' },
  });
  api.apply({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'edge', namespace: 'default' },
    spec: {
      gatewayClassName: 'umbra',
      listeners: [
        {
          name: 'https',
          hostname: 'edge.example.test',
          port,
          protocol: 'HTTPS',
          tls: { certificateRefs: [{ name: 'edge-cert' }] },
        },
      ],
    },
  });
  api.apply(secret(first));
  // An Opaque Secret must never reach Umbra.
  api.apply({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'db-password', namespace: 'default' },
    type: 'Opaque',
    data: { password: Buffer.from('hunter2').toString('base64') },
  });
  const umbra = await startTestUmbra(
    {},
    {
      kubernetes: {
        kubeconfig: api.writeKubeconfig(dir),
        writeStatus: false,
        backoff: { initialMs: 20, maxMs: 200 },
      },
    },
  );
  try {
    const lists = api.calls('secrets', false);
    assert.ok(lists.length >= 1);
    for (const r of [...lists, ...api.calls('secrets', true)])
      assert.equal(r.query.get('fieldSelector'), 'type=kubernetes.io/tls');
    assert.deepEqual(
      umbra.state.resources.filter((r) => r.kind === 'Secret').map((r) => r.metadata.name),
      ['edge-cert'],
    );

    await umbra.gateways.settled();
    const h1 = await handshake(port, 'edge.example.test', ca.certPem);
    assert.equal(h1.authorized, true);
    assert.equal(h1.cert.fingerprint256, new X509Certificate(first.certPem).fingerprint256);

    const second = ca.issue(['edge.example.test']);
    api.apply(secret(second));
    const h2 = await waitFor(
      async () => {
        const h = await handshake(port, 'edge.example.test', ca.certPem);
        return h.cert.fingerprint256 !== h1.cert.fingerprint256 ? h : undefined;
      },
      15_000,
      50,
    );
    assert.equal(h2.cert.fingerprint256, new X509Certificate(second.certPem).fingerprint256);

    const everything = umbra.logs.join('\n');
    for (const pem of [first.keyPem, second.keyPem]) {
      assert.ok(!everything.includes(pem.split('\n')[1]));
      assert.ok(!everything.includes(Buffer.from(pem).toString('base64').slice(0, 40)));
    }
  } finally {
    await umbra.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
    ca.close();
  }
});
