// Starts the benchmark backends as child processes (bench/backend.ts) and talks to them over IPC:
// reset counters before a measured run, read what they saw after it. "down" is a port nobody serves.

import { fork, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { BackendImpl, BackendMode, BackendStats } from './backend.js';

const BACKEND_JS = fileURLToPath(new URL('./backend.js', import.meta.url));
const H2_BACKEND_JS = fileURLToPath(new URL('./h2-backend.js', import.meta.url));

/** A port that was free a moment ago (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => ok(port));
    });
  });
}

export interface Backend {
  readonly name: string;
  readonly mode: BackendMode | 'down';
  readonly port: number;
  /** "h2" backends: the HTTP/1.1 port serving the same answers and counters (nginx's proxy_pass). */
  readonly h1Port?: number;
  readonly pid?: number;
  reset(): Promise<void>;
  stats(): Promise<BackendStats>;
  close(): Promise<void>;
}

function ask<T>(child: ChildProcess, msg: object, reply: string): Promise<T> {
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`backend did not answer ${reply}`)), 5_000);
    const on = (m: { type: string }) => {
      if (m.type !== reply) return;
      clearTimeout(timer);
      child.off('message', on);
      ok(m as T);
    };
    child.on('message', on);
    child.send(msg);
  });
}

/** `service` is the name in the JSON body (v2 backends answer "httpbin-v2": case H compares it). */
export async function startBackend(
  name: string,
  mode: BackendMode | 'down',
  service = 'httpbin-v1',
  impl: BackendImpl | 'h2' = 'raw',
): Promise<Backend> {
  const port = await freePort();
  const h1Port = impl === 'h2' ? await freePort() : undefined;
  if (mode === 'down') {
    const none: BackendStats = { requests: 0, hosts: {}, connections: 0 };
    return {
      name,
      mode,
      port,
      h1Port,
      reset: async () => undefined,
      stats: async () => none,
      close: async () => undefined,
    };
  }
  const args =
    impl === 'h2' ? [mode, String(port), String(h1Port), service] : [mode, String(port), service, impl];
  const child = fork(impl === 'h2' ? H2_BACKEND_JS : BACKEND_JS, args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((ok, fail) => {
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`backend ${name} exited with ${code}`)));
    child.once('message', () => ok());
  });
  child.removeAllListeners('exit');
  return {
    name,
    mode,
    port,
    h1Port,
    pid: child.pid,
    reset: () => ask<unknown>(child, { type: 'reset' }, 'reset').then(() => undefined),
    stats: () => ask<BackendStats>(child, { type: 'stats' }, 'stats'),
    close: () =>
      new Promise<void>((ok) => {
        if (child.exitCode !== null || child.signalCode !== null) return ok();
        child.once('exit', () => ok());
        child.kill('SIGTERM');
      }),
  };
}
