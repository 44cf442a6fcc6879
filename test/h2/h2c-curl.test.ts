// The first "Done when": curl --http2-prior-knowledge with Host httpbin:8000 answers
// HTTP/2 200 through Umbra, v2 gets the copy with httpbin-shadow:8000, and HTTP/1.1 on the same
// port still works; an h2c Upgrade is served as HTTP/1.1; other upgrades are refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { startHttpbin } from '../../src/workloads/httpbin.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { waitFor } from '../helpers/servers.js';
import { startTestUmbra, workloadEntry } from '../helpers/umbra.js';

const run = promisify(execFile);

/** Sends raw bytes and returns everything the server wrote until it closed. */
function rawExchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(port, '127.0.0.1', () => s.write(text));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}
const seed = (f: string) => readFileSync(join(REPO_ROOT, 'examples/seed', f), 'utf8');

test('h2c with prior knowledge and HTTP/1.1 on one port, mirrored with -shadow on :authority', async () => {
  const v1Logs: string[] = [];
  const v2Logs: string[] = [];
  const v1 = await startHttpbin({ name: 'httpbin-v1', log: (l) => v1Logs.push(l) });
  const v2 = await startHttpbin({ name: 'httpbin-v2', log: (l) => v2Logs.push(l) });
  const umbra = await startTestUmbra({
    'service.yaml': seed('service.yaml'),
    'workloads.yaml':
      workloadEntry('httpbin-v1', v1.port, { app: 'httpbin', version: 'v1' }) +
      '---\n' +
      workloadEntry('httpbin-v2', v2.port, { app: 'httpbin', version: 'v2' }),
    'route-v1.yaml': seed('route-v1.yaml')
      .split(/^---$/m)
      .filter((d) => d.includes('DestinationRule'))
      .join(''),
    'mirror.yaml': seed('mirror.yaml'),
  });
  try {
    const url = `http://127.0.0.1:${umbra.listener.address.port}`;
    const { stdout } = await run('curl', [
      '-sS',
      '-i',
      '--max-time',
      '10',
      '--http2-prior-knowledge',
      '-H',
      'Host: httpbin:8000',
      `${url}/get`,
    ]);
    assert.match(stdout, /^HTTP\/2 200/);
    const body = JSON.parse(stdout.slice(stdout.indexOf('\r\n\r\n') + 4));
    assert.equal(body.headers.Host, 'httpbin:8000');
    await waitFor(() => v2Logs.length === 1, 5000);
    assert.match(v2Logs[0], /"GET \/get HTTP\/1.1" 200 .*host=httpbin-shadow:8000$/);
    assert.match(v1Logs[0], /host=httpbin:8000$/);
    assert.ok(
      umbra.accessLines.some((l) => l.includes('HTTP/2.0') && l.includes(' 200 ')),
      umbra.accessLines.join('\n'),
    );

    // HTTP/1.1 on the same port.
    const h1 = await request(`${url}/get`, { headers: { host: 'httpbin:8000' } });
    assert.equal(h1.statusCode, 200);
    assert.equal(((await h1.body.json()) as { headers: { Host: string } }).headers.Host, 'httpbin:8000');
    await waitFor(() => v2Logs.length === 2, 5000);

    // A POST body over h2 reaches v1 and the copy whole.
    const post = await run('curl', [
      '-sS',
      '--max-time',
      '10',
      '--http2-prior-knowledge',
      '-H',
      'Host: httpbin:8000',
      '-H',
      'content-type: application/octet-stream',
      '--data-binary',
      'x'.repeat(100_000),
      `${url}/post`,
    ]);
    assert.equal(JSON.parse(post.stdout).data.length, 100_000);

    // curl --http2 on http:// asks for an h2c upgrade: served as HTTP/1.1 (the upgrade is ignored).
    const upgraded = await run('curl', [
      '-sS',
      '-i',
      '--max-time',
      '10',
      '--http2',
      '-H',
      'Host: httpbin:8000',
      `${url}/get`,
    ]);
    assert.match(upgraded.stdout, /^HTTP\/1\.1 200/);

    // Any other upgrade is refused with a clear status.
    const other = await rawExchange(
      umbra.listener.address.port,
      'GET /get HTTP/1.1\r\nhost: httpbin:8000\r\nconnection: upgrade\r\nupgrade: foo/1\r\n\r\n',
    );
    assert.match(other, /^HTTP\/1\.1 403 /);
    assert.match(other, /upgrade to "foo\/1" is not allowed/);
  } finally {
    await umbra.close();
    await Promise.all([v1.close(), v2.close()]);
  }
});
