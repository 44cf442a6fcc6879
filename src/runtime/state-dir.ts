// Where a configuration keeps its state: `<state-dir>/configs/<name>-<hash>/`, one directory per
// set of -f paths (and --kubernetes), so resources applied while running one configuration are
// never loaded by another started from the same folder, and come back when the first runs again.
// Every directory is 0700 and every file 0600: applied resources and comparison samples are private.

import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

export interface ConfigurationState {
  /** The directory of this configuration's state. */
  readonly dir: string;
  /** What identifies the configuration: its paths, absolute and sorted, and whether it reads a cluster. */
  readonly paths: readonly string[];
  readonly kubernetes: boolean;
}

/** Creates `dir` (and its parents) as 0700, and makes an existing one 0700 too. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    chmodSync(dir, 0o700);
  } catch {
    // Not ours to change (a shared mount): what we write inside is still 0600.
  }
}

function absolute(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

/** The state directory of the configuration made of `files` (order and spelling do not matter). */
export function configurationState(
  base: string,
  files: readonly string[],
  kubernetes = false,
): ConfigurationState {
  const paths = [...new Set(files.map(absolute))].sort();
  const id = createHash('sha256').update(JSON.stringify({ paths, kubernetes })).digest('hex').slice(0, 12);
  const first = paths[0] ? basename(paths[0]).replace(/\.(ya?ml|json)$/i, '') : 'kubernetes';
  const name = first.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 32) || 'config';
  return { dir: join(base, 'configs', `${name}-${id}`), paths, kubernetes };
}

/** Creates the directory and records, for people reading it, which configuration it belongs to. */
export function prepareConfigurationState(s: ConfigurationState, base: string): void {
  ensurePrivateDir(base);
  ensurePrivateDir(join(base, 'configs'));
  ensurePrivateDir(s.dir);
  const about = join(s.dir, 'configuration.json');
  if (!existsSync(about))
    writeFileSync(about, JSON.stringify({ paths: s.paths, kubernetes: s.kubernetes }, null, 2) + '\n', {
      mode: 0o600,
    });
}

/** Forgets a configuration's state (`umbra run --fresh`): applied resources and comparison results. */
export function clearConfigurationState(s: ConfigurationState): string[] {
  if (!existsSync(s.dir)) return [];
  const removed: string[] = [];
  for (const f of readdirSync(s.dir)) {
    if (f === 'configuration.json') continue;
    rmSync(join(s.dir, f), { recursive: true, force: true });
    removed.push(f);
  }
  return removed;
}

/** State written by Umbra before state was kept per configuration (loaded by nothing now). */
export function legacyState(base: string): string | undefined {
  const f = join(base, 'applied.yaml');
  return existsSync(f) ? f : undefined;
}
