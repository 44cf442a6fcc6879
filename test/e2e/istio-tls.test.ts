// DestinationRule `tls: {mode: SIMPLE}` to a real HTTPS upstream with a self-signed certificate made
// for the test by openssl: trusted through caCertificates (SNI from `sni`), refused without it
// (503 UF), accepted with insecureSkipVerify, and checked against subjectAltNames.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { destinationRule, serviceWith, virtualService } from '../helpers/istio-yaml.js';
import { RawConnection } from '../hardening/raw-http.js';
import { waitFor } from '../helpers/servers.js';
import { startTestUmbra, type TestUmbra } from '../helpers/umbra.js';
import { scratchDir } from '../helpers/scratch.js';

interface Https {
  readonly port: number;
  readonly ca: string;
  readonly snis: (string | undefined)[];
  /** Request paths, noted on each head (before its body is read). */
  readonly heads: string[];
  close(): Promise<void>;
}

/** An HTTPS echo on 127.0.0.1 whose certificate (self-signed, EC P-256) names secure.internal. */
async function startHttps(): Promise<Https> {
  const dir = scratchDir('umbra-tls-');
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=secure.internal',
      '-addext',
      'subjectAltName=DNS:secure.internal',
    ],
    { stdio: 'ignore' },
  );
  const snis: (string | undefined)[] = [];
  const heads: string[] = [];
  const server: Server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    heads.push(req.url ?? '');
    req.resume();
    req.on('end', () => res.end(JSON.stringify({ tls: true, host: req.headers.host })));
  });
  server.on('secureConnection', (s) => snis.push((s as { servername?: string }).servername || undefined));
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: (server.address() as AddressInfo).port,
    ca: cert,
    snis,
    heads,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => {
          rmSync(dir, { recursive: true, force: true });
          ok();
        });
      }),
  };
}

async function withTls(h: Https, tls: string, fn: (u: TestUmbra) => Promise<void>): Promise<void> {
  const u = await startTestUmbra({
    'mesh.yaml': serviceWith('secure', [{ name: 's', port: h.port }]),
    'dr.yaml': destinationRule('secure', `tls: ${tls}`),
    'vs.yaml': virtualService(
      'secure',
      `- route:\n  - destination: {host: secure}\n  retries: {attempts: 0}`,
    ),
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

test('SIMPLE TLS with the CA and an sni: the upstream is reached over TLS', async () => {
  const h = await startHttps();
  try {
    await withTls(h, `{mode: SIMPLE, sni: secure.internal, caCertificates: ${h.ca}}`, async (u) => {
      const r = await get(u);
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.text), { tls: true, host: 'secure:8000' });
      assert.equal(h.snis[0], 'secure.internal');
    });
  } finally {
    await h.close();
  }
});

test('SIMPLE TLS to an untrusted certificate is a connect failure (503 UF); insecureSkipVerify accepts it', async () => {
  const h = await startHttps();
  try {
    await withTls(h, '{mode: SIMPLE, sni: secure.internal}', async (u) => {
      const r = await get(u);
      assert.equal(r.status, 503);
      assert.equal(r.text, 'upstream connect error: connection failure\n');
    });
    await withTls(h, '{mode: SIMPLE, insecureSkipVerify: true}', async (u) => {
      assert.equal((await get(u)).status, 200);
    });
  } finally {
    await h.close();
  }
});

test('subjectAltNames: the certificate must carry one of them', async () => {
  const h = await startHttps();
  try {
    await withTls(
      h,
      `{mode: SIMPLE, sni: secure.internal, caCertificates: ${h.ca}, subjectAltNames: [other.internal]}`,
      async (u) => {
        assert.equal((await get(u)).status, 503);
      },
    );
    await withTls(
      h,
      `{mode: SIMPLE, sni: whatever.example, caCertificates: ${h.ca}, subjectAltNames: [secure.internal]}`,
      async (u) => {
        // The SAN list replaces the host-name check, so the SNI may differ from the certificate's name.
        assert.equal((await get(u)).status, 200);
      },
    );
  } finally {
    await h.close();
  }
});

/**
 * A POST whose body starts only after its head reached the upstream (head first, on node's HTTP/1.1
 * client: src/proxy/h1-head-first.ts), over one raw connection; resolves with the answer.
 */
async function postHeadFirst(u: TestUmbra, h: Https): Promise<string> {
  const c = await RawConnection.open(u.listener.address.port);
  try {
    const before = h.heads.length;
    c.write('POST /hf HTTP/1.1\r\nHost: secure:8000\r\nContent-Length: 5\r\n\r\n');
    // The upstream has the head before the body leaves the client, or Umbra refused the connection.
    await waitFor(() => h.heads.length > before || c.received().includes('\r\n\r\n'), 10_000);
    c.write('hello');
    await waitFor(() => /\r\n\r\n[^]+/.test(c.received()), 10_000);
    return c.received();
  } finally {
    c.close();
  }
}

test('a request sent head first gets the same TLS: SNI from sni or Host, the CA, subjectAltNames', async () => {
  const h = await startHttps();
  try {
    await withTls(h, `{mode: SIMPLE, sni: secure.internal, caCertificates: ${h.ca}}`, async (u) => {
      const a = await postHeadFirst(u, h);
      assert.match(a, /^HTTP\/1\.1 200 /);
      assert.match(a, /\{"tls":true,"host":"secure:8000"\}$/);
      assert.equal(h.snis.at(-1), 'secure.internal');
    });
    // No sni: the Host's name, as undici sends it (Istio's auto SNI).
    await withTls(h, `{mode: SIMPLE, insecureSkipVerify: true}`, async (u) => {
      assert.match(await postHeadFirst(u, h), /^HTTP\/1\.1 200 /);
      assert.equal(h.snis.at(-1), 'secure');
    });
    const heads = h.heads.length;
    await withTls(h, '{mode: SIMPLE, sni: secure.internal}', async (u) => {
      const a = await postHeadFirst(u, h);
      assert.match(a, /^HTTP\/1\.1 503 /);
      assert.match(a, /upstream connect error: connection failure\n$/);
    });
    await withTls(
      h,
      `{mode: SIMPLE, sni: secure.internal, caCertificates: ${h.ca}, subjectAltNames: [other.internal]}`,
      async (u) => assert.match(await postHeadFirst(u, h), /^HTTP\/1\.1 503 /),
    );
    assert.equal(h.heads.length, heads, 'no request reached an upstream it must not trust');
  } finally {
    await h.close();
  }
});
