// An Istio Gateway served by `umbra run --labels istio=ingressgateway` (issue 15): an HTTPS server
// with a credentialName Secret and an HTTP server redirecting to it, and the seed's VirtualService
// bound to both the gateway and the mesh (`gateways: [mesh, istio-system/httpbin-gateway]`): the
// seed's routes over HTTPS (curl with the test CA), the mirror to v2, and the mesh unchanged.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startHttpbin } from '../../src/workloads/httpbin.js';
import { loopbackServeArgs, REPO_ROOT, startCli } from '../helpers/cli.js';
import { freePort, waitFor } from '../helpers/servers.js';
import { createTestCa, tlsSecretYaml } from '../helpers/tls-certs.js';
import { workloadEntry } from '../helpers/umbra.js';
import { handshake } from './tls-probe.js';
import { scratchDir } from '../helpers/scratch.js';

const run = promisify(execFile);
const seed = (f: string) => readFileSync(join(REPO_ROOT, 'examples/seed', f), 'utf8');

const gateway = (https: number, http: number) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: httpbin-gateway
  namespace: istio-system
spec:
  selector:
    istio: ingressgateway
  servers:
  - port: {number: ${https}, name: https, protocol: HTTPS}
    hosts: ["*/httpbin.example.test"]
    tls: {mode: SIMPLE, credentialName: httpbin-credential}
  - port: {number: ${http}, name: http, protocol: HTTP}
    hosts: ["httpbin.example.test"]
    tls: {httpsRedirect: true}
`;

/** The seed's mirror.yaml, also bound to the Istio Gateway for the gateway's host name. */
const boundMirror = () =>
  seed('mirror.yaml').replace(
    'spec:\n  hosts:\n  - httpbin\n',
    'spec:\n  hosts:\n  - httpbin\n  - httpbin.example.test\n  gateways:\n  - mesh\n  - istio-system/httpbin-gateway\n',
  );

test('Istio Gateway: HTTPS server with credentialName serves the seed routes and mirrors to v2', async () => {
  const ca = createTestCa();
  const v1Lines: string[] = [];
  const v2Lines: string[] = [];
  const v1 = await startHttpbin({ name: 'httpbin-v1', log: (l) => v1Lines.push(l) });
  const v2 = await startHttpbin({ name: 'httpbin-v2', log: (l) => v2Lines.push(l) });
  const dir = scratchDir('umbra-istio-gw-');
  const cfg = join(dir, 'config');
  mkdirSync(cfg);
  const [listen, admin, https, http] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const files: Record<string, string> = {
    'service.yaml': seed('service.yaml'),
    'destination-rule.yaml': seed('route-v1.yaml').split('\n---\n')[1],
    'mirror.yaml': boundMirror(),
    'workloads.yaml':
      workloadEntry('httpbin-v1', v1.port, { app: 'httpbin', version: 'v1' }) +
      '---\n' +
      workloadEntry('httpbin-v2', v2.port, { app: 'httpbin', version: 'v2' }),
    'credential.yaml': tlsSecretYaml(
      'httpbin-credential',
      ca.issue(['httpbin.example.test']),
      'istio-system',
    ),
    'gateway.yaml': gateway(https, http),
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(cfg, name), text);
  const caFile = join(dir, 'ca.crt');
  writeFileSync(caFile, ca.certPem);
  const umbra = startCli([
    'run',
    '-f',
    cfg,
    '--labels',
    'istio=ingressgateway',
    '--workers',
    '1',
    ...loopbackServeArgs(listen, admin, join(dir, 'state')),
  ]);
  try {
    await umbra.waitForOutput(
      new RegExp(`gateway listener https://127\\.0\\.0\\.1:${https} serving`),
      20_000,
    );
    await umbra.waitForOutput(new RegExp(`gateway listener 127\\.0\\.0\\.1:${http} serving`), 20_000);

    const h = await handshake(https, 'httpbin.example.test', ca.certPem);
    assert.equal(h.authorized, true);
    assert.equal(h.cert.subjectaltname, 'DNS:httpbin.example.test');

    const { stdout } = await run('curl', [
      '-sS',
      '--max-time',
      '10',
      '--cacert',
      caFile,
      '--resolve',
      `httpbin.example.test:${https}:127.0.0.1`,
      '-w',
      '\n%{http_code}',
      `https://httpbin.example.test:${https}/headers`,
    ]);
    const nl = stdout.lastIndexOf('\n');
    assert.equal(stdout.slice(nl + 1), '200');
    assert.equal(JSON.parse(stdout.slice(0, nl)).headers.Host, `httpbin.example.test:${https}`);
    await waitFor(() => v2Lines.some((l) => l.includes(`host=httpbin.example.test-shadow:${https}`)), 10_000);
    assert.ok(v1Lines.some((l) => l.includes(`host=httpbin.example.test:${https}`)));
    assert.ok(!v1Lines.some((l) => l.includes('-shadow')), 'the primary goes to v1, the copy to v2');

    // The HTTP server redirects to HTTPS (tls.httpsRedirect); a port other than 80 is kept, as Envoy does.
    const redirect = await run('curl', [
      '-sS',
      '--max-time',
      '10',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{redirect_url}',
      '--resolve',
      `httpbin.example.test:${http}:127.0.0.1`,
      `http://httpbin.example.test:${http}/headers?a=1`,
    ]);
    assert.equal(redirect.stdout, `301 https://httpbin.example.test:${http}/headers?a=1`);

    // The mesh side of the same VirtualService is unchanged: the seed's curl through http_proxy.
    const mesh = await run('curl', ['-sS', '--max-time', '10', 'http://httpbin:8000/headers'], {
      env: { ...process.env, http_proxy: `http://127.0.0.1:${listen}`, no_proxy: '' },
    });
    assert.equal(JSON.parse(mesh.stdout).headers.Host, 'httpbin:8000');
    await waitFor(() => v2Lines.some((l) => l.includes('host=httpbin-shadow:8000')), 10_000);
  } finally {
    await umbra.stop();
    await Promise.all([v1.close(), v2.close()]);
    ca.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
