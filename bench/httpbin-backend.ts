// The seed's own workload as a benchmark backend: Debian's python3-httpbin under gunicorn, started
// as the seed's Deployment starts it (one sync worker, `gunicorn -b ADDR httpbin:app`), with an
// access log of one Host per line so the benchmark can count what it received like the others.

import { spawn, spawnSync } from 'node:child_process';
import { freePort, type Backend } from './backends.js';
import type { BackendStats } from './backend.js';

const GUNICORN = process.env.UMBRA_GUNICORN ?? '/usr/bin/gunicorn';

export function httpbinAvailable(): boolean {
  return (
    spawnSync(GUNICORN, ['--version'], { encoding: 'utf8' }).status === 0 &&
    spawnSync('/usr/bin/python3', ['-c', 'import httpbin'], { encoding: 'utf8' }).status === 0
  );
}

export async function startHttpbinBackend(name: string): Promise<Backend> {
  const port = await freePort();
  const proc = spawn(
    GUNICORN,
    [
      '--access-logfile',
      '-',
      '--access-logformat',
      '%({host}i)s',
      '--graceful-timeout',
      '1',
      '-b',
      `127.0.0.1:${port}`,
      'httpbin:app',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } },
  );
  let requests = 0;
  let hosts = new Map<string, number>();
  let partial = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const host of lines) {
      if (!host) continue;
      requests++;
      hosts.set(host, (hosts.get(host) ?? 0) + 1);
    }
  });
  let log = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (log = (log + d).slice(-4000)));
  const until = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`gunicorn exited (${proc.exitCode}):\n${log}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/status/200`, { headers: { host: 'probe' } });
      await r.arrayBuffer();
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) {
      proc.kill('SIGKILL');
      throw new Error(`gunicorn httpbin did not answer within 20 s:\n${log}`);
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  // The access-log line of the readiness probe may still be on its way: let it land before counting.
  await new Promise((ok) => setTimeout(ok, 200));
  const stats = async (): Promise<BackendStats> => ({
    requests,
    hosts: Object.fromEntries(hosts),
    connections: 0,
  });
  return {
    name,
    mode: 'fast',
    port,
    pid: proc.pid,
    reset: async () => {
      // Lines of requests answered just before the reset may still be in the pipe.
      await new Promise((ok) => setTimeout(ok, 100));
      requests = 0;
      hosts = new Map();
    },
    stats: async () => {
      await new Promise((ok) => setTimeout(ok, 100));
      return stats();
    },
    close: () =>
      new Promise<void>((ok) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return ok();
        proc.once('exit', () => ok());
        proc.kill('SIGTERM');
      }),
  };
}
