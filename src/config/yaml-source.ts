// Parses multi-document YAML (or JSON) text into plain values, and maps a JSON path inside a
// document back to the line and column it was written on, so every issue can point at the file.

import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document } from 'yaml';
import type { ConfigIssue } from './issues.js';

/** Larger files are refused before parsing: config is small, and this bounds memory. */
export const MAX_FILE_BYTES = 8 * 1024 * 1024;
/** yaml's guard against alias expansion ("billion laughs"); real manifests use few aliases. */
export const MAX_ALIAS_COUNT = 100;

export type PathSegment = string | number;

export interface Position {
  line: number;
  column: number;
}

export interface ParsedDocument {
  /** 0-based index of the document in the file, counting empty ones. */
  readonly index: number;
  readonly value: unknown;
  /** Position of the node at `path`, or of its nearest existing parent. Map entries give the key's position. */
  lineOf(path: readonly PathSegment[]): Position | undefined;
}

export interface ParseResult {
  readonly documents: ParsedDocument[];
  readonly issues: ConfigIssue[];
}

const SIMPLE_KEY = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** ["spec","http",0,"mirrorPercentage"] → "spec.http[0].mirrorPercentage"; odd keys as ["a.b/c"]. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (SIMPLE_KEY.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Inverse of formatPath. Unparseable remainders are kept as one key so lookups degrade to a parent. */
export function parsePath(path: string): PathSegment[] {
  const out: PathSegment[] = [];
  let i = 0;
  while (i < path.length) {
    const c = path[i];
    if (c === '.') {
      i++;
      continue;
    }
    if (c === '[') {
      const close = path[i + 1] === '"' ? findStringEnd(path, i + 1) : path.indexOf(']', i);
      if (close < 0) {
        out.push(path.slice(i));
        break;
      }
      const inner = path.slice(i + 1, path[i + 1] === '"' ? close + 1 : close);
      if (/^\d+$/.test(inner)) out.push(Number(inner));
      else if (inner.startsWith('"')) {
        try {
          out.push(JSON.parse(inner) as string);
        } catch {
          out.push(inner);
        }
      } else out.push(inner);
      i = path[i + 1] === '"' ? close + 2 : close + 1;
      continue;
    }
    let j = i;
    while (j < path.length && path[j] !== '.' && path[j] !== '[') j++;
    out.push(path.slice(i, j));
    i = j;
  }
  return out;
}

function findStringEnd(s: string, quote: number): number {
  for (let i = quote + 1; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '"') return s[i + 1] === ']' ? i : -1;
  }
  return -1;
}

/** yaml's messages end with " at line N, column M:" plus a code excerpt; we report the position separately. */
function shortMessage(message: string): string {
  const first = message.split('\n')[0];
  return first.replace(/ at line \d+, column \d+:?$/, '');
}

/**
 * Splits `text` into documents. Syntax errors become issues (with line and column) and their
 * document is skipped; the other documents are still returned. Documents that are empty
 * (a `---` separator or only comments) are dropped.
 */
export function parseDocuments(text: string, file: string): ParseResult {
  const issues: ConfigIssue[] = [];
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_FILE_BYTES) {
    issues.push({
      severity: 'error',
      resource: file,
      path: '',
      message: `file is ${bytes} bytes; the limit is ${MAX_FILE_BYTES} bytes (8 MiB)`,
      file,
    });
    return { documents: [], issues };
  }
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text.replace(/^\uFEFF/, ''), {
    lineCounter,
    prettyErrors: false,
    merge: true,
    uniqueKeys: true,
  });
  const list: Document.Parsed[] = Array.isArray(docs) ? docs : [];
  const documents: ParsedDocument[] = [];
  const at = (offset: number | undefined): Position | undefined => {
    if (offset === undefined) return undefined;
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  list.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const pos = at(e.pos[0]);
        issues.push({
          severity: 'error',
          resource: file,
          path: '',
          message: `YAML syntax error: ${shortMessage(e.message)}`,
          file,
          line: pos?.line,
          column: pos?.column,
        });
      }
      return;
    }
    for (const w of doc.warnings) {
      const pos = at(w.pos[0]);
      issues.push({
        severity: 'warning',
        resource: file,
        path: '',
        message: `YAML: ${shortMessage(w.message)}`,
        file,
        line: pos?.line,
        column: pos?.column,
      });
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      // Alias bombs (ReferenceError "Excessive alias count…") and unresolved aliases end here.
      const pos = at(doc.range?.[0]);
      const msg = (e as Error).message;
      issues.push({
        severity: 'error',
        resource: file,
        path: '',
        message: /alias count/i.test(msg)
          ? `YAML aliases expand too much (more than ${MAX_ALIAS_COUNT}); refusing the document`
          : `YAML error: ${shortMessage(msg)}`,
        file,
        line: pos?.line,
        column: pos?.column,
      });
      return;
    }
    if (value === null || value === undefined) return;
    documents.push({ index, value, lineOf: (path) => locate(doc, path, at) });
  });
  return { documents, issues };
}

/** Walks the YAML node tree along `path`; stops at the deepest node that exists. */
function locate(
  doc: Document.Parsed,
  path: readonly PathSegment[],
  at: (offset: number | undefined) => Position | undefined,
): Position | undefined {
  let node: unknown = doc.contents;
  let pos = at(rangeStart(node));
  for (const seg of path) {
    node = deref(doc, node);
    if (isMap(node)) {
      const pair = findPair(doc, node, String(seg), 0);
      if (!pair) return pos;
      pos = at(rangeStart(pair.key)) ?? at(rangeStart(pair.value)) ?? pos;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) return pos;
      pos = at(rangeStart(item)) ?? pos;
      node = item;
    } else {
      return pos;
    }
  }
  return pos;
}

function rangeStart(node: unknown): number | undefined {
  const r = (node as { range?: [number, number, number] } | null | undefined)?.range;
  return r ? r[0] : undefined;
}

function deref(doc: Document.Parsed, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

/** With `merge: true`, yaml gives `<<` keys a symbol value; the source text is still "<<". */
function isMergeKey(key: unknown): boolean {
  return (
    isScalar(key) &&
    (typeof key.value === 'symbol' || key.value === '<<') &&
    (key as { source?: string }).source === '<<'
  );
}

interface PairLike {
  key: unknown;
  value: unknown;
}

/** Finds `key` in a map, following YAML merge keys (`<<: *base`) when it is not set directly. */
function findPair(
  doc: Document.Parsed,
  map: { items: PairLike[] },
  key: string,
  depth: number,
): PairLike | undefined {
  for (const p of map.items)
    if (isScalar(p.key) && !isMergeKey(p.key) && String(p.key.value) === key) return p;
  if (depth > 10) return undefined;
  for (const p of map.items) {
    if (!isMergeKey(p.key)) continue;
    const v = deref(doc, p.value);
    const sources = isSeq(v) ? v.items.map((x) => deref(doc, x)) : [v];
    for (const s of sources) {
      if (!isMap(s)) continue;
      const found = findPair(doc, s as unknown as { items: PairLike[] }, key, depth + 1);
      if (found) return { key: p.key, value: found.value };
    }
  }
  return undefined;
}
