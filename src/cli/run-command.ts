// `umbra run`: serve until SIGINT/SIGTERM, then drain (in-flight requests finish; mirrors are
// never waited for).

import { createWriteStream } from 'node:fs';
import { parseAddress } from './addresses.js';
import { startUmbra, StartupError } from '../runtime/umbra.js';

export interface RunFlags {
  file: string[];
  listen: string;
  admin: string;
  stateDir: string;
  namespace: string;
  shadowSuffix: string | false;
  mirrorTimeout: string;
  mirrorMaxInFlight: string;
  mirrorBodyBuffer: string;
  mirrorBodyBudget: string;
  accessLog: string;
  accessLogFormat: 'text' | 'json';
  adminToken?: string;
  watch: boolean;
}

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: "${v}" is not a non-negative integer`);
  return n;
}

export function accessLogSink(dest: string): ((s: string) => void) | undefined {
  if (dest === 'off') return undefined;
  if (dest === 'stdout' || dest === '-') return (s) => process.stdout.write(s);
  const out = createWriteStream(dest, { flags: 'a' });
  return (s) => out.write(s);
}

export async function runCommand(f: RunFlags): Promise<void> {
  let umbra;
  try {
    umbra = await startUmbra({
      files: f.file,
      listen: parseAddress(f.listen),
      admin: parseAddress(f.admin),
      stateDir: f.stateDir,
      namespace: f.namespace,
      watch: f.watch,
      adminToken: f.adminToken,
      mirror: {
        shadowSuffix: f.shadowSuffix === false ? '' : f.shadowSuffix,
        timeoutMs: positiveInt('--mirror-timeout', f.mirrorTimeout),
        maxInFlight: positiveInt('--mirror-max-in-flight', f.mirrorMaxInFlight),
        bodyBufferBytes: positiveInt('--mirror-body-buffer', f.mirrorBodyBuffer),
      },
      mirrorBodyBudget: positiveInt('--mirror-body-budget', f.mirrorBodyBudget),
      accessLog: accessLogSink(f.accessLog),
      accessLogFormat: f.accessLogFormat,
    });
  } catch (e) {
    if (e instanceof StartupError) {
      process.stderr.write(`umbra: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  const t = umbra.state.table;
  process.stderr.write(`umbra: serving config v${t.version} (${t.hostIndex.size} host names, ${t.clusters.size} clusters) on ${umbra.proxyUrl}; admin ${umbra.adminUrl}\n`);
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`umbra: ${sig}: draining\n`);
    void umbra.close(10_000).then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
