// Loads resources from YAML/JSON text, files and directories: every document is validated and
// every problem collected (never thrown), each pointing at its file and line.

import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { ConfigIssue } from './issues.js';
import type { Resource } from './resource.js';
import { isRecord } from './schemas/common.js';
import { sourceRef, validateObject } from './validate.js';
import { MAX_FILE_BYTES, parseDocuments, type PathSegment } from './yaml-source.js';

export { validateObject };

export interface LoadResult {
  resources: Resource[];
  issues: ConfigIssue[];
}

export const CONFIG_EXTENSIONS = ['.yaml', '.yml', '.json'];

/** Validates every document of a multi-document YAML (or JSON) text. `file` names it in issues. */
export function loadText(text: string, file: string): LoadResult {
  const { documents, issues } = parseDocuments(text, file);
  const resources: Resource[] = [];
  const take = (r: { resource?: Resource; issues: ConfigIssue[] }) => {
    if (r.resource) resources.push(r.resource);
    issues.push(...r.issues);
  };
  for (const d of documents) {
    const v = d.value;
    // `kubectl get -o yaml` output: a List whose items are the objects.
    if (isRecord(v) && v.kind === 'List' && Array.isArray(v.items) && typeof v.apiVersion === 'string') {
      v.items.forEach((item, i) => {
        const prefix: PathSegment[] = ['items', i];
        take(
          validateObject(
            item,
            sourceRef(file, d.index, (p) => d.lineOf([...prefix, ...p]) ?? d.lineOf(prefix)),
          ),
        );
      });
      continue;
    }
    take(validateObject(v, sourceRef(file, d.index, d.lineOf)));
  }
  return { resources, issues };
}

/**
 * Loads files and directories. Directories are walked recursively for .yaml/.yml/.json files,
 * skipping names that start with "." (Kubernetes ConfigMap volumes keep a second copy of every
 * file under ..data and a timestamped directory). Paths are read in the order given, as
 * `kubectl apply -f a -f b` applies them (a later definition of the same resource wins), and each
 * directory in name order, so results are deterministic. `files` lists what was read, for watching.
 */
export async function loadPaths(paths: string[]): Promise<LoadResult & { files: string[] }> {
  const issues: ConfigIssue[] = [];
  const found = new Set<string>();
  for (const p of paths) await collect(p, true, found, new Set(), issues);
  const files = [...found];
  const resources: Resource[] = [];
  for (const f of files) {
    const r = await loadFile(f);
    resources.push(...r.resources);
    issues.push(...r.issues);
  }
  return { resources, issues, files };
}

async function loadFile(file: string): Promise<LoadResult> {
  try {
    const st = await stat(file);
    if (st.size > MAX_FILE_BYTES)
      return {
        resources: [],
        issues: [fileIssue(file, `file is ${st.size} bytes; the limit is ${MAX_FILE_BYTES} bytes (8 MiB)`)],
      };
    return loadText(await readFile(file, 'utf8'), file);
  } catch (e) {
    return { resources: [], issues: [fileIssue(file, `cannot read file: ${errText(e)}`)] };
  }
}

async function collect(
  path: string,
  explicit: boolean,
  out: Set<string>,
  visited: Set<string>,
  issues: ConfigIssue[],
): Promise<void> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (explicit)
      issues.push(
        fileIssue(path, code === 'ENOENT' ? 'no such file or directory' : `cannot read: ${errText(e)}`),
      );
    else issues.push(fileIssue(path, `cannot read: ${errText(e)}`, 'warning'));
    return;
  }
  if (st.isDirectory()) {
    const real = await realpath(path).catch(() => path);
    if (visited.has(real)) return; // symlink loop
    visited.add(real);
    let names: string[];
    try {
      names = await readdir(path);
    } catch (e) {
      issues.push(fileIssue(path, `cannot list directory: ${errText(e)}`));
      return;
    }
    for (const name of names.sort()) {
      if (name.startsWith('.')) continue;
      const child = join(path, name);
      const childStat = await stat(child).catch(() => undefined);
      if (childStat?.isDirectory()) await collect(child, false, out, visited, issues);
      else if (CONFIG_EXTENSIONS.includes(extname(name).toLowerCase())) out.add(child);
    }
    return;
  }
  // A file named explicitly is read whatever its extension.
  out.add(path);
}

function fileIssue(file: string, message: string, severity: 'error' | 'warning' = 'error'): ConfigIssue {
  return { severity, resource: file, path: '', message, file };
}

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ? `${err.code}: ${err.message}` : String(err.message ?? e);
}
