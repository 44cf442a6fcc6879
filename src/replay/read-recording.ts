// Reads an Umbra recording (JSON Lines, src/record/record-line.ts) into replayable requests. A line
// that is not a valid record is reported with its file and line number; the others are kept.

import type { RecordLine } from '../record/record-line.js';
import { TOKEN, type ReadProblem, type ReplayRequest } from './replay-request.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function fail(what: string): never {
  throw new Error(what);
}

/** Checks one parsed line; throws with a message naming the field that is wrong. */
function toRequest(v: unknown, file: string, line: number): ReplayRequest {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('not a JSON object');
  const r = v as Partial<Record<keyof RecordLine, unknown>>;
  const time = typeof r.time === 'string' ? Date.parse(r.time) : NaN;
  if (Number.isNaN(time)) fail('"time" is not an RFC 3339 time');
  if (typeof r.method !== 'string' || !TOKEN.test(r.method)) fail('"method" is not an HTTP method');
  if (typeof r.path !== 'string' || !r.path.startsWith('/')) fail('"path" does not start with "/"');
  if (typeof r.authority !== 'string') fail('"authority" is missing');
  if (!Array.isArray(r.headers)) fail('"headers" is not a list of [name, value] pairs');
  const headers: [string, string][] = [];
  r.headers.forEach((h: unknown, i) => {
    if (!Array.isArray(h) || h.length !== 2 || typeof h[0] !== 'string' || typeof h[1] !== 'string')
      fail(`"headers"[${i}] is not a [name, value] pair`);
    if (!TOKEN.test(h[0])) fail(`"headers"[${i}]: "${h[0]}" is not a header name`);
    headers.push([h[0], h[1]]);
  });
  const b64 = r.body ?? '';
  if (typeof b64 !== 'string' || !BASE64.test(b64)) fail('"body" is not base64');
  const body = Buffer.from(b64, 'base64');
  const truncated = r.truncated === true;
  if (r.bodyLength !== undefined) {
    if (typeof r.bodyLength !== 'number' || !Number.isInteger(r.bodyLength) || r.bodyLength < 0)
      fail('"bodyLength" is not a byte count');
    if (!truncated && r.bodyLength !== body.length)
      fail(`"bodyLength" ${r.bodyLength} does not match the ${body.length} bytes of "body"`);
  }
  return {
    file,
    line,
    time,
    method: r.method,
    authority: r.authority,
    path: r.path,
    headers,
    body,
    truncated,
    requestId: typeof r.requestId === 'string' ? r.requestId : undefined,
  };
}

/** Parses a recording's text; empty lines are skipped. */
export function readRecording(
  text: string,
  file: string,
): { requests: ReplayRequest[]; problems: ReadProblem[] } {
  const requests: ReplayRequest[] = [];
  const problems: ReadProblem[] = [];
  let line = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    line++;
    const s = text.slice(start, end).trim();
    start = end + 1;
    if (!s) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(s);
    } catch (e) {
      problems.push({ file, line, message: `not JSON: ${(e as Error).message}` });
      continue;
    }
    try {
      requests.push(toRequest(parsed, file, line));
    } catch (e) {
      problems.push({ file, line, message: (e as Error).message });
    }
  }
  return { requests, problems };
}
