// Runs the real `umbra` CLI (bin/umbra.js, under this node) as a child process: one-shot commands with
// their output and exit code, or long-running ones that tests wait on and stop.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The repository root: this file runs from dist/test/helpers. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const UMBRA_BIN = join(REPO_ROOT, 'bin', 'umbra.js');

/** `umbra run` flags every CLI test shares: listener and admin on loopback, a state dir, no access log. */
export function loopbackServeArgs(listen: number, admin: number, stateDir: string): string[] {
  return [
    '--listen',
    `127.0.0.1:${listen}`,
    '--admin',
    `127.0.0.1:${admin}`,
    '--state-dir',
    stateDir,
    '--access-log',
    'off',
  ];
}

export interface CliOptions {
  /** Written to stdin, which is then closed. */
  input?: string;
  /** Added to (and overriding) this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Default: the repository root. */
  cwd?: string;
}

export interface CliResult {
  /** Exit code; null when killed by a signal (e.g. after the timeout). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(p: ChildProcess): void {
  live.add(p);
  p.once('exit', () => live.delete(p));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A crashed test run must not leave umbra processes holding ports.
  process.on('exit', () => {
    for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
}

/**
 * Node flags for a CLI-started Umbra: `UMBRA_TEST_RUNTIME=image npm test` (scripts/run-tests.mjs)
 * runs the suite with the container image's flags and passes them on here, so these processes run
 * like the test processes. Not process.execArgv: node 24's test runner gives each file every
 * option's default there.
 */
const NODE_FLAGS = (process.env.UMBRA_TEST_NODE_FLAGS ?? '').split(' ').filter(Boolean);

function spawnUmbra(args: readonly string[], opts: CliOptions): ChildProcess {
  const proc = spawn(process.execPath, [...NODE_FLAGS, UMBRA_BIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  track(proc);
  proc.stdin!.on('error', () => {});
  if (opts.input !== undefined) proc.stdin!.end(opts.input);
  else proc.stdin!.end();
  return proc;
}

/** Runs `umbra ...args` to completion; killed with SIGKILL after `timeoutMs` (default 30 s). */
export function runCli(
  args: readonly string[],
  opts: CliOptions & { timeoutMs?: number } = {},
): Promise<CliResult> {
  const proc = spawnUmbra(args, opts);
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill('SIGKILL');
  }, opts.timeoutMs ?? 30_000);
  return new Promise((resolve, reject) => {
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    // 'close' (not 'exit'): all output has been read by then.
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

export interface RunningCli {
  readonly proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match in stdout or stderr; rejects on timeout or if the process exits. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGTERM, then SIGKILL after `graceMs` (default 5 s); resolves with the exit code (null if killed). */
  stop(graceMs?: number): Promise<number | null>;
}

/** Starts a long-running `umbra ...args` (serve, demo...). */
export function startCli(args: readonly string[], opts: CliOptions = {}): RunningCli {
  const proc = spawnUmbra(args, opts);
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const l of listeners) l();
  };
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => {
    out += c;
    notify();
  });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => {
    err += c;
    notify();
  });
  let closed = false;
  const closedPromise = new Promise<number | null>((resolve) => {
    proc.once('close', (code) => {
      closed = true;
      notify();
      resolve(code);
    });
    proc.once('error', () => {
      closed = true;
      notify();
      resolve(null);
    });
  });

  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    waitForOutput(pattern, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const m = out.match(pattern) ?? err.match(pattern);
          if (m) {
            finish();
            resolve(m);
            return true;
          }
          if (closed) {
            finish();
            reject(
              new Error(`umbra exited (code ${proc.exitCode}) before printing ${pattern}\n${describe()}`),
            );
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`umbra did not print ${pattern} within ${timeoutMs} ms\n${describe()}`));
        }, timeoutMs);
        const listener = (): void => void check();
        const finish = (): void => {
          clearTimeout(timer);
          listeners.delete(listener);
        };
        if (!check()) listeners.add(listener);
      });
    },
    async stop(graceMs = 5000) {
      if (!closed && proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        const code = await closedPromise;
        clearTimeout(timer);
        return code;
      }
      return closedPromise;
    },
  };

  function describe(): string {
    return `--- stdout ---\n${out}\n--- stderr ---\n${err}`;
  }
}
