// DestinationRule `tls: {mode: MUTUAL}` to a real HTTPS upstream that demands a client certificate
// from its own CA (issue 15): with PEM files, with a credentialName Secret (kubectl's format plus
// ca.crt), refused without a client certificate (503 UF, reported), subjectAltNames checked, the
// istio_requests_total series labelled connection_security_policy="mutual_tls"; ISTIO_MUTUAL is
// reported as out of scope.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { request } from 'undici';
import { destinationRule, serviceWith, virtualService } from '../helpers/istio-yaml.js';
import { createTestCa, tlsSecretYaml, type TestCa } from '../helpers/tls-certs.js';
import { startTestUmbra, type TestUmbra } from '../helpers/umbra.js';
import { scratchDir } from '../helpers/scratch.js';

interface Upstream {
  readonly port: number;
  close(): Promise<void>;
}

/** An HTTPS echo named secure.internal that accepts only clients with a certificate from `clients`. */
async function startMtlsUpstream(server: TestCa, clients: TestCa): Promise<Upstream> {
  const pair = server.issue(['secure.internal']);
  const s: Server = createServer(
    {
      key: pair.keyPem,
      cert: pair.certPem,
      ca: clients.certPem,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      req.resume();
      req.on('end', () => res.end(JSON.stringify({ client: peer.subject?.CN })));
    },
  );
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  return {
    port: (s.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((ok) => {
        s.closeAllConnections();
        s.close(() => ok());
      }),
  };
}

async function withDr(
  up: Upstream,
  tls: string,
  extra: Record<string, string>,
  fn: (u: TestUmbra) => Promise<void>,
): Promise<void> {
  const u = await startTestUmbra({
    'mesh.yaml': serviceWith('secure', [{ name: 's', port: up.port }]),
    'dr.yaml': destinationRule('secure', `tls: ${tls}`),
    'vs.yaml': virtualService(
      'secure',
      `- route:\n  - destination: {host: secure}\n  retries: {attempts: 0}`,
    ),
    ...extra,
  });
  try {
    await fn(u);
  } finally {
    await u.close();
  }
}

const get = async (u: TestUmbra) => {
  const r = await request(`${u.proxyUrl}/`, { headers: { host: 'secure:8000' } });
  return { status: r.statusCode, text: await r.body.text() };
};

test('MUTUAL TLS upstreams: files, credentialName Secret, no certificate, SAN check, metrics; ISTIO_MUTUAL out of scope', async () => {
  const serverCa = createTestCa('Upstream Server CA');
  const clientCa = createTestCa('Umbra Client CA');
  const up = await startMtlsUpstream(serverCa, clientCa);
  const dir = scratchDir('umbra-mtls-');
  const client = clientCa.issue(['umbra.client'], { clientAuth: true });
  const files = {
    cert: join(dir, 'client.crt'),
    key: join(dir, 'client.key'),
    ca: join(dir, 'server-ca.crt'),
  };
  writeFileSync(files.cert, client.certPem);
  writeFileSync(files.key, client.keyPem);
  writeFileSync(files.ca, serverCa.certPem);
  try {
    // Files (clientCertificate, privateKey, caCertificates) and an sni the server certificate names.
    await withDr(
      up,
      `{mode: MUTUAL, clientCertificate: ${files.cert}, privateKey: ${files.key}, caCertificates: ${files.ca}, sni: secure.internal}`,
      {},
      async (u) => {
        const r = await get(u);
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(JSON.parse(r.text), { client: 'umbra.client' });
        const metrics = await (await request(`${u.adminUrl}/stats/prometheus`)).body.text();
        assert.match(
          metrics,
          /istio_requests_total\{[^}]*connection_security_policy="mutual_tls"[^}]*response_code="200"/,
        );
      },
    );
    // A credentialName Secret in Umbra's namespace: kubectl's tls Secret with ca.crt added.
    const secret = tlsSecretYaml('secure-client', client).replace(
      'data:\n',
      `data:\n  ca.crt: ${Buffer.from(serverCa.certPem).toString('base64')}\n`,
    );
    await withDr(
      up,
      '{mode: MUTUAL, credentialName: secure-client, sni: secure.internal}',
      { 'secret.yaml': secret },
      async (u) => {
        const r = await get(u);
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(JSON.parse(r.text), { client: 'umbra.client' });
      },
    );
    // No client certificate (the Secret is missing): the upstream refuses the handshake; reported.
    await withDr(
      up,
      `{mode: MUTUAL, credentialName: nowhere, caCertificates: ${files.ca}, sni: secure.internal}`,
      {},
      async (u) => {
        assert.equal((await get(u)).status, 503);
        assert.ok(u.state.issues.some((i) => /Secret default\/nowhere does not exist/.test(i.message)));
      },
    );
    // subjectAltNames: the server's certificate must name one of them.
    await withDr(
      up,
      `{mode: MUTUAL, clientCertificate: ${files.cert}, privateKey: ${files.key}, caCertificates: ${files.ca}, sni: secure.internal, subjectAltNames: [other.internal]}`,
      {},
      async (u) => assert.equal((await get(u)).status, 503),
    );
    // ISTIO_MUTUAL needs Istio's mesh CA: reported as out of scope.
    await withDr(up, '{mode: ISTIO_MUTUAL}', {}, async (u) => {
      assert.ok(u.state.issues.some((i) => i.path.endsWith('tls.mode') && /out of scope/.test(i.message)));
    });
  } finally {
    await up.close();
    serverCa.close();
    clientCa.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
