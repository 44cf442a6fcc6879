// `umbra demo` when the usual ports are taken (another walkthrough still running): it picks free
// ports, says which, runs the whole task and leaves nothing listening behind.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect } from 'node:net';
import { runCli } from '../helpers/cli.js';

function refused(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      ok(false);
    });
    s.once('error', () => ok(true));
  });
}

test(
  'the demo uses free ports when the proxy port is taken, and says which',
  { timeout: 90_000 },
  async () => {
    const holder = createServer();
    await new Promise<void>((ok) => holder.listen(0, '127.0.0.1', ok));
    const taken = (holder.address() as { port: number }).port;
    try {
      const r = await runCli(
        ['demo', '--once', '--listen', `127.0.0.1:${taken}`, '--admin', `127.0.0.1:${taken}`],
        {
          timeoutMs: 80_000,
        },
      );
      assert.equal(r.code, 0, r.stderr);
      const m = /this demo uses free ports instead: proxy (\d+), admin (\d+)/.exec(r.stdout);
      assert.ok(m, r.stdout);
      assert.match(r.stdout, /v2 received the mirrored copy|Both logged it/);
      // --once exits having closed everything it opened.
      assert.ok(await refused(Number(m[1])), 'the proxy port is closed');
      assert.ok(await refused(Number(m[2])), 'the admin port is closed');
    } finally {
      holder.close();
    }
  },
);
