// The admin API as a browser on the operator's machine would meet it: the cross-site POST
// (text/plain, a foreign Origin, a rebound Host) is refused and nothing is applied; writes need a
// JSON or YAML body, the admin's own Host and no foreign Origin; off loopback a token guards
// everything but probes and the Prometheus scrape. Raw sockets, so every header is exactly as sent.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exchange, type RawResponse } from '../hardening/raw-http.js';
import { startDelayServer } from '../helpers/servers.js';
import { routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { startTestUmbra, type TestUmbra } from '../helpers/umbra.js';

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** One raw request to the admin port; `headers` are sent exactly as given, in order. */
async function raw(
  port: number,
  method: string,
  path: string,
  headers: [string, string][],
  body = '',
): Promise<{ res: RawResponse; text: string }> {
  const head = [`${method} ${path} HTTP/1.1`, ...headers.map(([n, v]) => `${n}: ${v}`)];
  if (body || method === 'POST') head.push(`Content-Length: ${Buffer.byteLength(body)}`);
  head.push('Connection: close');
  const { res } = await exchange(port, `${head.join('\r\n')}\r\n\r\n${body}`, { method });
  return { res, text: res.body.toString('utf8') };
}

/** A route for a host nobody configured: a successful apply would make the proxy serve "evil". */
const EVIL_ROUTE = routeToV1('', 'app')
  .replace(/name: app\n/, 'name: evil\n')
  .replace('- app\n', '- evil.example\n');

async function proxyStatus(u: TestUmbra, host: string): Promise<number> {
  const { res } = await exchange(
    portOf(u.proxyUrl),
    `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
  );
  return res.status;
}

test("the issue's cross-site POST is refused and nothing is applied", async () => {
  const v = await startDelayServer(0);
  const u = await startTestUmbra({ 'mesh.yaml': twoVersionService(v.port, v.port) });
  try {
    const port = portOf(u.adminUrl);
    const before = u.state.table.version;
    assert.equal(await proxyStatus(u, 'evil.example'), 404, 'the host is not served before');
    // What a page on evil.example can send without a preflight after rebinding its name to 127.0.0.1.
    const { res, text } = await raw(
      port,
      'POST',
      '/apis/apply',
      [
        ['Host', `evil.example:${port}`],
        ['Origin', 'http://evil.example'],
        ['Content-Type', 'text/plain'],
      ],
      EVIL_ROUTE,
    );
    assert.equal(res.status, 403, text);
    assert.doesNotMatch(text, /"applied": true/);
    assert.equal(u.state.table.version, before, 'no configuration was loaded');
    assert.equal(await proxyStatus(u, 'evil.example'), 404, 'the host is still not served');
    assert.ok(!u.state.resources.some((r) => r.metadata.name === 'evil'));
  } finally {
    await u.close();
    await v.close();
  }
});

test('writes need a JSON or YAML body, the admin’s own Host and no foreign Origin', async () => {
  const v = await startDelayServer(0);
  const u = await startTestUmbra({ 'mesh.yaml': twoVersionService(v.port, v.port) });
  try {
    const port = portOf(u.adminUrl);
    const own = `127.0.0.1:${port}`;
    const post = (headers: [string, string][]) =>
      raw(port, 'POST', '/apis/apply?source=t.yaml', headers, EVIL_ROUTE);
    const before = u.state.table.version;
    // Each of these is refused, with the reason, before the body is even parsed.
    const refused: [string, [string, string][], number][] = [
      [
        'text/plain (a CORS simple request)',
        [
          ['Host', own],
          ['Content-Type', 'text/plain'],
        ],
        415,
      ],
      [
        'a form post',
        [
          ['Host', own],
          ['Content-Type', 'application/x-www-form-urlencoded'],
        ],
        415,
      ],
      [
        'multipart',
        [
          ['Host', own],
          ['Content-Type', 'multipart/form-data; boundary=x'],
        ],
        415,
      ],
      ['no Content-Type (a Blob without type)', [['Host', own]], 415],
      [
        'a rebound name',
        [
          ['Host', `evil.example:${port}`],
          ['Content-Type', 'application/yaml'],
        ],
        403,
      ],
      [
        'the right name on another port',
        [
          ['Host', `127.0.0.1:${port + 1}`],
          ['Content-Type', 'application/yaml'],
        ],
        403,
      ],
      ['no Host', [['Content-Type', 'application/yaml']], 400],
      [
        'a foreign Origin',
        [
          ['Host', own],
          ['Origin', 'http://evil.example'],
          ['Content-Type', 'application/yaml'],
        ],
        403,
      ],
      [
        'Origin: null (sandboxed frame)',
        [
          ['Host', own],
          ['Origin', 'null'],
          ['Content-Type', 'application/yaml'],
        ],
        403,
      ],
      [
        'Sec-Fetch-Site: cross-site',
        [
          ['Host', own],
          ['Sec-Fetch-Site', 'cross-site'],
          ['Content-Type', 'application/json'],
        ],
        403,
      ],
    ];
    for (const [what, headers, status] of refused) {
      const { res, text } = await post(headers);
      assert.equal(res.status, status, `${what}: ${text}`);
    }
    assert.equal(u.state.table.version, before, 'nothing was loaded');
    // The DNS-rebinding Host is refused for reads too: a rebound page cannot read the config.
    const read = await raw(port, 'GET', '/config_dump', [['Host', `evil.example:${port}`]]);
    assert.equal(read.res.status, 403);
    // Probes answer whatever the Host (kubelets use the pod IP).
    assert.equal((await raw(port, 'GET', '/ready', [['Host', `evil.example:${port}`]])).res.status, 200);

    // The admin's own names are accepted: localhost and the loopback literals, with its port.
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `127.0.0.2:${port}`, `[::1]:${port}`]) {
      const r = await raw(port, 'GET', '/apis/resources?kind=vs', [['Host', host]]);
      assert.equal(r.res.status, 200, `${host}: ${r.text}`);
    }
    // The dashboard's own page (same origin) may write; so may the CLI (no Origin at all).
    const ok = await post([
      ['Host', `localhost:${port}`],
      ['Origin', `http://localhost:${port}`],
      ['Content-Type', 'application/yaml; charset=utf-8'],
    ]);
    assert.equal(ok.res.status, 200, ok.text);
    assert.ok(u.state.table.version > before);
    assert.ok(u.state.resources.some((r) => r.metadata.name === 'evil'));
  } finally {
    await u.close();
    await v.close();
  }
});

test('off loopback a token guards reads of reports and samples too; probes and metrics stay open', async () => {
  const v = await startDelayServer(0);
  const u = await startTestUmbra(
    { 'mesh.yaml': twoVersionService(v.port, v.port) },
    { admin: { host: '0.0.0.0', port: 0 }, adminToken: 'tok-123' },
  );
  try {
    const port = portOf(u.adminUrl.replace('0.0.0.0', '127.0.0.1'));
    const host: [string, string] = ['Host', `10.1.2.3:${port}`];
    for (const path of [
      '/compare/report',
      '/compare/samples?group=x',
      '/config_dump',
      '/apis/resources',
      '/clusters',
    ]) {
      const r = await raw(port, 'GET', path, [host]);
      assert.equal(r.res.status, 401, `${path}: ${r.text}`);
      const ok = await raw(port, 'GET', path, [host, ['Authorization', 'Bearer tok-123']]);
      assert.notEqual(ok.res.status, 401, path);
      assert.notEqual(ok.res.status, 403, path);
      const wrong = await raw(port, 'GET', path, [host, ['Authorization', 'Bearer tok-124']]);
      assert.equal(wrong.res.status, 401, path);
    }
    assert.equal(
      (await raw(port, 'GET', '/compare/report', [host, ['Authorization', 'Bearer tok-123']])).res.status,
      200,
    );
    for (const path of ['/ready', '/healthz', '/stats/prometheus'])
      assert.equal((await raw(port, 'GET', path, [host])).res.status, 200, path);
    // With the token, a foreign Origin is still refused: a browser holding it must not be ridden.
    const cross = await raw(
      port,
      'POST',
      '/apis/apply',
      [
        host,
        ['Authorization', 'Bearer tok-123'],
        ['Origin', 'http://evil.example'],
        ['Content-Type', 'application/yaml'],
      ],
      EVIL_ROUTE,
    );
    assert.equal(cross.res.status, 403);
  } finally {
    await u.close();
    await v.close();
  }
});
