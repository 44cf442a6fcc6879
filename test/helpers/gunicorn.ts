// The real httpbin of the seed (Debian's gunicorn + python3-httpbin) as a test upstream, with its
// access log captured; the log format is gunicorn's default plus ` host=<Host>`, like the built-in one.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { freePort, waitFor } from './servers.js';

export const GUNICORN = process.env.UMBRA_GUNICORN ?? '/usr/bin/gunicorn';

/** gunicorn's default access_log_format, plus the Host header the workload received. */
export const ACCESS_LOG_FORMAT =
  '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" host=%({host}i)s';

/** The readiness probe's User-Agent: its log lines are left out of logs(). */
const PROBE_AGENT = 'umbra-test-readiness-probe';
const ACCESS_LINE = /^\S+ \S+ \S+ \[[^\]]+\] "[^"]*" \d{3} \S+ "[^"]*" "[^"]*" host=\S*$/;

export interface GunicornHttpbin {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Access-log lines so far (readiness probes excluded). */
  logs(): string[];
  /** Everything else gunicorn printed (its own log), for failure messages. */
  output(): string;
  /** The first access-log line (already seen or still to come) matching `pred`. */
  waitForLog(pred: ((line: string) => boolean) | RegExp, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

export function gunicornAvailable(): boolean {
  return existsSync(GUNICORN);
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** If a test run dies without close(), do not leave gunicorn masters behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live)
      if (p.exitCode === null && p.signalCode === null && p.pid) process.kill(p.pid, 'SIGTERM');
  });
}

function probe(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/status/204',
        headers: { 'user-agent': PROBE_AGENT },
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 204));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

function exited(p: ChildProcess): boolean {
  return p.exitCode !== null || p.signalCode !== null;
}

async function stop(p: ChildProcess): Promise<void> {
  if (exited(p) || !p.pid) return;
  const gone = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (!exited(p)) p.kill('SIGKILL');
  }, 3000);
  await gone;
  clearTimeout(timer);
  live.delete(p);
}

async function startOnce(
  port: number,
  extraArgs: readonly string[],
): Promise<GunicornHttpbin | 'port-in-use'> {
  const args = [
    '--access-logfile',
    '-',
    '--access-logformat',
    ACCESS_LOG_FORMAT,
    // Idle workers stop at once on SIGTERM; a busy one is given 1 s instead of the default 30.
    '--graceful-timeout',
    '1',
    '-b',
    `127.0.0.1:${port}`,
    ...extraArgs,
    'httpbin:app',
  ];
  const proc = spawn(GUNICORN, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  live.add(proc);
  installExitHook();
  const access: string[] = [];
  let other = '';
  let portInUse = false;
  let listening = false;
  const waiters = new Set<() => void>();
  const onText = (stream: NodeJS.ReadableStream): void => {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (ACCESS_LINE.test(line)) {
          if (!line.includes(`"${PROBE_AGENT}"`)) access.push(line);
        } else {
          other += `${line}\n`;
          if (line.includes('Listening at:')) listening = true;
          // gunicorn retries a busy address for 5 s; a fresh port is quicker.
          if (/Connection in use|Address already in use/.test(line)) portInUse = true;
        }
      }
      for (const w of waiters) w();
    });
  };
  onText(proc.stdout!);
  onText(proc.stderr!);
  proc.on('exit', () => {
    live.delete(proc);
    for (const w of waiters) w();
  });
  proc.on('error', (err) => {
    other += `spawn error: ${err.message}\n`;
  });

  try {
    await waitFor(
      async () => portInUse || exited(proc) || (listening && (await probe(port, 1000))),
      20_000,
      50,
    );
  } catch {
    await stop(proc);
    throw new Error(`gunicorn did not answer on port ${port} within 20 s:\n${other}`);
  }
  if (portInUse) {
    await stop(proc);
    return 'port-in-use';
  }
  if (exited(proc)) throw new Error(`gunicorn exited (code ${proc.exitCode}):\n${other}`);

  let closing: Promise<void> | undefined;
  const handle: GunicornHttpbin = {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: proc.pid!,
    logs: () => [...access],
    output: () => other,
    waitForLog(pred, timeoutMs = 5000) {
      const test = typeof pred === 'function' ? pred : (l: string) => pred.test(l);
      return new Promise<string>((resolve, reject) => {
        const check = (): boolean => {
          const found = access.find(test);
          if (found !== undefined) {
            done();
            resolve(found);
            return true;
          }
          if (exited(proc)) {
            done();
            reject(new Error(`gunicorn exited before the log line appeared:\n${other}`));
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(`no matching gunicorn access-log line in ${timeoutMs} ms; got:\n${access.join('\n')}`),
          );
        }, timeoutMs);
        const waiter = (): void => void check();
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(waiter);
        };
        if (!check()) waiters.add(waiter);
      });
    },
    close() {
      closing ??= stop(proc);
      return closing;
    },
  };
  return handle;
}

/**
 * Starts `gunicorn ... httpbin:app` on 127.0.0.1. gunicorn cannot bind port 0, so unless `port` is given
 * a released ephemeral port is used, and another one is tried if something took it meanwhile.
 */
export async function startGunicornHttpbin(
  opts: { port?: number; args?: readonly string[] } = {},
): Promise<GunicornHttpbin> {
  if (!gunicornAvailable())
    throw new Error(`${GUNICORN} is not installed (apt-get install gunicorn python3-httpbin)`);
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = opts.port ?? (await freePort());
    const started = await startOnce(port, opts.args ?? []);
    if (started !== 'port-in-use') return started;
    if (opts.port !== undefined) throw new Error(`port ${opts.port} is in use`);
  }
  throw new Error('could not find a free port for gunicorn after 5 attempts');
}
