// Gateway API HTTPS listeners end to end (issue 15): three HTTPS listeners on one port, chosen by
// SNI — a wildcard, an exact name, and one whose Secret is missing — with Secrets written as
// `kubectl create secret tls --dry-run=client -o yaml` prints them. Real TLS handshakes verified
// against the test CA, curl over HTTPS, the mirror to v2, the broken listener's status, rotation
// of a Secret for new connections, plaintext refused, and Secret data never shown by the admin API.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { startHttpbin } from '../../src/workloads/httpbin.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { freePort, waitFor } from '../helpers/servers.js';
import { createTestCa, tlsSecretYaml } from '../helpers/tls-certs.js';
import { startTestUmbra, workloadEntry } from '../helpers/umbra.js';
import { handshake, plaintextRequest } from './tls-probe.js';
import { readFileSync } from 'node:fs';

const run = promisify(execFile);
const seed = (f: string) => readFileSync(join(REPO_ROOT, 'examples/seed', f), 'utf8');

const gateway = (port: number) => `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: umbra}
spec: {controllerName: umbra.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  gatewayClassName: umbra
  listeners:
  - name: wildcard
    hostname: "*.example.test"
    port: ${port}
    protocol: HTTPS
    tls: {mode: Terminate, certificateRefs: [{name: wildcard-cert}]}
  - name: other
    hostname: other.test
    port: ${port}
    protocol: HTTPS
    tls: {certificateRefs: [{kind: Secret, group: "", name: other-cert}]}
  - name: broken
    hostname: broken.test
    port: ${port}
    protocol: HTTPS
    tls: {certificateRefs: [{name: missing-cert}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: httpbin-edge}
spec:
  parentRefs: [{name: edge}]
  rules:
  - filters:
    - type: RequestMirror
      requestMirror: {backendRef: {name: httpbin-v2, port: 80}}
    backendRefs: [{name: httpbin-v1, port: 80}]
`;

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

async function curl(port: number, host: string, caFile: string, extra: string[] = []) {
  const { stdout } = await run('curl', [
    '-sS',
    '--max-time',
    '10',
    '--cacert',
    caFile,
    '--resolve',
    `${host}:${port}:127.0.0.1`,
    '-w',
    '\n%{http_code} %{http_version}',
    ...extra,
    `https://${host}:${port}/headers`,
  ]);
  const nl = stdout.lastIndexOf('\n');
  const [code, version] = stdout.slice(nl + 1).split(' ');
  return { body: JSON.parse(stdout.slice(0, nl)) as { headers: Record<string, string> }, code, version };
}

test('Gateway HTTPS listeners: SNI, certificates from Secrets, broken listener, mirror, rotation', async (t) => {
  const ca = createTestCa();
  const wildcard = ca.issue(['*.example.test']);
  const other = ca.issue(['other.test']);
  const v1Lines: string[] = [];
  const v2Lines: string[] = [];
  const v1 = await startHttpbin({ name: 'httpbin-v1', log: (l) => v1Lines.push(l) });
  const v2 = await startHttpbin({ name: 'httpbin-v2', log: (l) => v2Lines.push(l) });
  const port = await freePort();
  const umbra = await startTestUmbra({
    'service.yaml': seed('service.yaml'),
    'route-services.yaml': seed('gateway-api-route-v1.yaml').split('\n---\n').slice(0, 2).join('\n---\n'),
    'workloads.yaml':
      workloadEntry('httpbin-v1', v1.port, { app: 'httpbin', version: 'v1' }) +
      '---\n' +
      workloadEntry('httpbin-v2', v2.port, { app: 'httpbin', version: 'v2' }),
    'wildcard-cert.yaml': tlsSecretYaml('wildcard-cert', wildcard),
    'other-cert.yaml': tlsSecretYaml('other-cert', other),
    'gateway.yaml': gateway(port),
  });
  const caPath = join(umbra.dir, 'ca.crt');
  writeFileSync(caPath, ca.certPem);
  try {
    await umbra.gateways.settled();
    assert.deepEqual([...umbra.gateways.bound.keys()], [`https://127.0.0.1:${port}`]);

    // Each name gets its own certificate, valid for it under the test CA.
    const a = await handshake(port, 'a.example.test', ca.certPem);
    assert.equal(a.authorized, true);
    assert.equal(a.cert.subjectaltname, 'DNS:*.example.test');
    assert.equal(a.alpn, 'h2'); // the client offers h2 and http/1.1; Umbra prefers h2
    assert.match(a.protocol ?? '', /^TLSv1\.[23]$/);
    // Gateway API wildcards cover several labels (listener precedence), though X.509 ones cover one.
    const deep = await handshake(port, 'x.y.example.test', ca.certPem, ['http/1.1'], false);
    assert.equal(deep.cert.subjectaltname, 'DNS:*.example.test');
    const o = await handshake(port, 'other.test', ca.certPem);
    assert.equal(o.authorized, true);
    assert.equal(o.cert.subjectaltname, 'DNS:other.test');
    // The listener whose Secret is missing serves nothing; an unknown name gets no certificate either.
    await assert.rejects(handshake(port, 'broken.test', ca.certPem));
    await assert.rejects(handshake(port, 'unknown.test', ca.certPem));
    // TLS 1.1 and older are refused.
    await assert.rejects(
      run('curl', [
        '-sS',
        '--max-time',
        '10',
        '--tlsv1.1',
        '--tls-max',
        '1.1',
        '-k',
        '--resolve',
        `a.example.test:${port}:127.0.0.1`,
        `https://a.example.test:${port}/`,
      ]),
    );

    // curl over HTTPS with HTTP/1.1 and with HTTP/2 (ALPN), the answer from v1, the copy to v2.
    const r = await curl(port, 'a.example.test', caPath, ['--http1.1']);
    assert.equal(r.code, '200');
    assert.equal(r.version, '1.1');
    assert.equal(r.body.headers.Host, `a.example.test:${port}`);
    await waitFor(() => v2Lines.some((l) => l.includes(`host=a.example.test-shadow:${port}`)), 10_000);
    assert.ok(v1Lines.some((l) => l.includes(`host=a.example.test:${port}`)));
    const r2 = await curl(port, 'other.test', caPath, ['--http2']);
    assert.equal(r2.code, '200');
    assert.equal(r2.version, '2');
    assert.equal(r2.body.headers.Host, `other.test:${port}`);
    // The access log names the TLS version and the SNI of each request that came over TLS.
    await waitFor(
      () => umbra.accessLines.some((l) => l.includes('HTTP/2.0" 200') && l.includes('sni="other.test"')),
      10_000,
    );
    assert.ok(
      umbra.accessLines.some((l) => /HTTP\/1\.1" 200 .* tls=TLSv1\.[23] sni="a\.example\.test"/.test(l)),
      umbra.accessLines.join('\n'),
    );
    await waitFor(() => v2Lines.some((l) => l.includes(`host=other.test-shadow:${port}`)), 10_000);

    // Plaintext HTTP on the TLS port is never answered as HTTP.
    const plain = await plaintextRequest(port, 'a.example.test');
    assert.doesNotMatch(plain, /^HTTP\//);

    // Status: the broken listener says why; the Gateway is programmed with the other two.
    const res = await request(`${umbra.adminUrl}/apis/resources?kind=Gateway&name=edge`);
    const gw = (
      (await res.body.json()) as {
        items: {
          status: { listeners: { name: string; conditions: Condition[] }[]; conditions: Condition[] };
        }[];
      }
    ).items[0];
    const cond = (l: string, t: string) =>
      gw.status.listeners.find((x) => x.name === l)!.conditions.find((c) => c.type === t)!;
    assert.equal(cond('broken', 'ResolvedRefs').status, 'False');
    assert.equal(cond('broken', 'ResolvedRefs').reason, 'InvalidCertificateRef');
    assert.match(cond('broken', 'ResolvedRefs').message, /Secret default\/missing-cert does not exist/);
    assert.equal(cond('broken', 'Programmed').status, 'False');
    assert.equal(cond('wildcard', 'ResolvedRefs').status, 'True');
    assert.equal(cond('other', 'Programmed').status, 'True');
    assert.equal(gw.status.conditions.find((c) => c.type === 'Programmed')!.status, 'True');

    // Secret data is never shown.
    const sres = await request(`${umbra.adminUrl}/apis/resources?kind=secret&name=wildcard-cert`);
    const stext = await sres.body.text();
    assert.match(stext, /REDACTED/);
    assert.ok(!stext.includes(Buffer.from(wildcard.keyPem).toString('base64').slice(0, 40)));
    assert.ok(!stext.includes('PRIVATE KEY'));

    // Rotation: a new certificate in the Secret reaches new connections without a restart.
    const rotated = ca.issue(['*.example.test']);
    const t0 = Date.now();
    umbra.write('wildcard-cert.yaml', tlsSecretYaml('wildcard-cert', rotated));
    const after = await waitFor(
      async () => {
        const h = await handshake(port, 'a.example.test', ca.certPem);
        return h.cert.serialNumber !== a.cert.serialNumber ? h : undefined;
      },
      15_000,
      50,
    );
    const rotatedMs = Date.now() - t0;
    assert.equal(after.authorized, true);
    assert.equal(
      after.cert.fingerprint256,
      new (await import('node:crypto')).X509Certificate(rotated.certPem).fingerprint256,
    );
    t.diagnostic(`rotated certificate served to a new connection after ${rotatedMs} ms`);
    // The port was never closed: the same listener, and the other name still has its own certificate.
    assert.deepEqual([...umbra.gateways.bound.keys()], [`https://127.0.0.1:${port}`]);
    assert.equal((await handshake(port, 'other.test', ca.certPem)).cert.subjectaltname, 'DNS:other.test');

    // Fixing the broken listener's Secret brings it up, again without a restart.
    umbra.write('missing-cert.yaml', tlsSecretYaml('missing-cert', ca.issue(['broken.test'])));
    const fixed = await waitFor(
      () => handshake(port, 'broken.test', ca.certPem).catch(() => undefined),
      15_000,
      50,
    );
    assert.equal(fixed.cert.subjectaltname, 'DNS:broken.test');
  } finally {
    await umbra.close();
    await Promise.all([v1.close(), v2.close()]);
    ca.close();
  }
});
