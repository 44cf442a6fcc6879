// Reads a HAR 1.2 file (HTTP Archive: what browsers' devtools and many proxies export) into
// replayable requests: log.entries[].request with its method, url, headers and postData. Parsed
// with the yaml library (JSON is YAML) so that each entry's line is known for error messages.

import { LineCounter, parseDocument, isMap, isSeq, type Node } from 'yaml';
import { TOKEN, type ReadProblem, type ReplayRequest } from './replay-request.js';

interface HarHeader {
  name?: unknown;
  value?: unknown;
}
interface HarRequest {
  method?: unknown;
  url?: unknown;
  headers?: unknown;
  postData?: { mimeType?: unknown; text?: unknown; encoding?: unknown; params?: unknown };
}
interface HarEntry {
  startedDateTime?: unknown;
  request?: HarRequest;
}

function fail(what: string): never {
  throw new Error(what);
}

/**
 * The request body: postData.text (base64 when `encoding` says so, as Chrome and mitmproxy write
 * binary bodies), or url-encoded params when only those were saved (HAR 1.2 §postData).
 */
function bodyOf(p: HarRequest['postData']): Buffer {
  if (p === undefined || p === null) return Buffer.alloc(0);
  if (typeof p !== 'object') fail('request.postData is not an object');
  if (typeof p.text === 'string') {
    if (p.encoding === 'base64') return Buffer.from(p.text, 'base64');
    if (p.encoding !== undefined && p.encoding !== null)
      fail(`postData.encoding "${String(p.encoding)}" is unknown`);
    return Buffer.from(p.text, 'utf8');
  }
  if (Array.isArray(p.params)) {
    const form = new URLSearchParams();
    for (const x of p.params as { name?: unknown; value?: unknown }[])
      if (x && typeof x.name === 'string') form.append(x.name, typeof x.value === 'string' ? x.value : '');
    return Buffer.from(form.toString());
  }
  return Buffer.alloc(0);
}

/** Headers a replay never copies from a HAR: HTTP/2 pseudo-headers (":authority") and Host. */
function isPseudo(name: string): boolean {
  return name.startsWith(':');
}

function toRequest(e: HarEntry, file: string, line: number): ReplayRequest {
  if (typeof e !== 'object' || e === null) fail('entry is not an object');
  const r = e.request;
  if (typeof r !== 'object' || r === null) fail('entry has no request');
  if (typeof r.method !== 'string' || !TOKEN.test(r.method)) fail('request.method is not an HTTP method');
  let url: URL;
  try {
    url = new URL(String(r.url));
  } catch {
    fail(`request.url "${String(r.url)}" is not an absolute URL`);
  }
  const time = typeof e.startedDateTime === 'string' ? Date.parse(e.startedDateTime) : NaN;
  if (Number.isNaN(time)) fail('startedDateTime is not an ISO 8601 time');
  if (!Array.isArray(r.headers)) fail('request.headers is not a list');
  const headers: [string, string][] = [];
  let authority = url.host;
  (r.headers as HarHeader[]).forEach((h, i) => {
    if (typeof h?.name !== 'string' || typeof h.value !== 'string')
      fail(`request.headers[${i}] needs a name and a value`);
    const name = h.name.toLowerCase();
    if (name === ':authority' || name === 'host') authority = h.value;
    else if (isPseudo(name)) return;
    else if (!TOKEN.test(name)) fail(`request.headers[${i}]: "${h.name}" is not a header name`);
    else headers.push([name, h.value]);
  });
  // A content type saved only in postData.mimeType still describes the body.
  const mime = r.postData?.mimeType;
  if (typeof mime === 'string' && mime && !headers.some(([n]) => n === 'content-type'))
    headers.push(['content-type', mime]);
  return {
    file,
    line,
    time,
    method: r.method,
    authority,
    path: `${url.pathname}${url.search}`,
    headers,
    body: bodyOf(r.postData),
    truncated: false,
  };
}

export function readHar(text: string, file: string): { requests: ReplayRequest[]; problems: ReadProblem[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false });
  const lineOf = (offset: number) => lc.linePos(offset).line;
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    return {
      requests: [],
      problems: [
        { file, line: lineOf(err.pos[0]), message: `not a HAR file: ${err.message.split('\n')[0]}` },
      ],
    };
  }
  const entries = doc.getIn(['log', 'entries'], true) as Node | undefined;
  if (!isSeq(entries) || !isMap(doc.contents))
    return { requests: [], problems: [{ file, line: 1, message: 'not a HAR file: log.entries is missing' }] };
  const requests: ReplayRequest[] = [];
  const problems: ReadProblem[] = [];
  for (const item of entries.items) {
    const node = item as Node;
    const line = node.range ? lineOf(node.range[0]) : 1;
    try {
      requests.push(toRequest(node.toJSON() as HarEntry, file, line));
    } catch (e) {
      problems.push({ file, line, message: (e as Error).message });
    }
  }
  return { requests, problems };
}
