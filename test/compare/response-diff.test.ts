// Whole-response comparison: status, headers (volatile ones and the ignore list left out), JSON
// through Content-Encoding, text by line, binary and over-budget bodies by size and hash.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import type { CompareSettings } from '../../src/model/route-table.js';
import {
  compileCompare,
  diffResponses,
  sha256,
  type CapturedResponse,
} from '../../src/compare/response-diff.js';

const settings = (o: Partial<CompareSettings> = {}): CompareSettings => ({
  maxBodyBytes: 1 << 20,
  ignoreHeaders: [],
  ignoreFields: [],
  ...o,
});

function resp(
  status: number,
  headers: Record<string, string>,
  body: Buffer | string,
  extra: Partial<CapturedResponse> = {},
): CapturedResponse {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  return {
    status,
    headers,
    body: b,
    size: b.length,
    truncated: false,
    hashOnly: false,
    latencyMs: 1,
    ...extra,
  };
}

test('status and headers: date and content-length never count; ignoreHeaders drops more', () => {
  const a = resp(
    200,
    {
      'content-type': 'application/json',
      date: 'Mon, 01 Jan 2024 00:00:00 GMT',
      'content-length': '2',
      server: 'gunicorn',
      'x-trace': 'a',
    },
    '{}',
  );
  const b = resp(
    201,
    {
      'content-type': 'application/json',
      date: 'Tue, 02 Jan 2024 00:00:00 GMT',
      'content-length': '2',
      'x-trace': 'b',
      'x-new': '1',
    },
    '{}',
  );
  const d = diffResponses(a, b, compileCompare(settings({ ignoreHeaders: ['X-Trace'] })));
  assert.equal(d.mode, 'json');
  assert.deepEqual(
    d.diffs.map((x) => [x.field, x.kind]),
    [
      ['status', 'changed'],
      ['header:server', 'removed'],
      ['header:x-new', 'added'],
    ],
  );
});

test('a gzip body is compared by content, not by its compressed bytes', () => {
  const doc = { slideshow: { author: 'Yours Truly', slides: [{ title: 'Wake up', type: 'all' }] } };
  const a = resp(200, { 'content-type': 'application/json' }, JSON.stringify(doc));
  const changed = structuredClone(doc);
  changed.slideshow.slides[0].title = 'Wake up to WonderWidgets!';
  const b = resp(
    200,
    { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    gzipSync(JSON.stringify(changed)),
  );
  const d = diffResponses(a, b, compileCompare(settings()));
  assert.deepEqual(
    d.diffs.map((x) => x.path),
    ['header:content-encoding', '$.slideshow.slides[0].title'],
  );
});

test('JSON against an HTML error page is a body type difference', () => {
  const a = resp(200, { 'content-type': 'application/json' }, '{"ok":true}');
  const b = resp(200, { 'content-type': 'application/json' }, '<html><body>502 Bad Gateway</body></html>');
  const d = diffResponses(a, b, compileCompare(settings()));
  assert.deepEqual(
    d.diffs.map((x) => [x.field, x.kind, x.primary, x.other]),
    [['body', 'type', 'JSON', 'not JSON']],
  );
});

test('text bodies: equal text is equal; otherwise the first differing line is named', () => {
  const html = (title: string) =>
    `<!DOCTYPE html>\n<html>\n<head><title>${title}</title></head>\n<body>hi</body>\n</html>\n`;
  const c = compileCompare(settings());
  assert.deepEqual(
    diffResponses(
      resp(200, { 'content-type': 'text/html; charset=utf-8' }, html('a')),
      resp(200, { 'content-type': 'text/html; charset=utf-8' }, html('a')),
      c,
    ).diffs,
    [],
  );
  const d = diffResponses(
    resp(200, { 'content-type': 'text/html; charset=utf-8' }, html('a')),
    resp(200, { 'content-type': 'text/html; charset=utf-8' }, html('b')),
    c,
  );
  assert.equal(d.mode, 'text');
  assert.equal(d.diffs.length, 1);
  assert.equal(d.diffs[0].field, 'body');
  assert.match(d.diffs[0].primary ?? '', /^line 3: .*<title>a<\/title>/);
});

test('binary bodies: compared by size and hash', () => {
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    randomBytes(256),
  ]);
  const c = compileCompare(settings());
  assert.deepEqual(
    diffResponses(
      resp(200, { 'content-type': 'image/png' }, png),
      resp(200, { 'content-type': 'image/png' }, Buffer.from(png)),
      c,
    ).diffs,
    [],
  );
  const other = Buffer.from(png);
  other[100] ^= 0xff;
  const d = diffResponses(
    resp(200, { 'content-type': 'image/png' }, png),
    resp(200, { 'content-type': 'image/png' }, other),
    c,
  );
  assert.equal(d.mode, 'binary');
  assert.deepEqual(
    d.diffs.map((x) => x.field),
    ['body'],
  );
  assert.match(d.diffs[0].primary ?? '', /^264 bytes, sha256 [0-9a-f]{16}$/);
});

test('over the memory budget: size and hash only, equal when the bytes are', () => {
  const body = Buffer.from(JSON.stringify({ a: 1, b: [1, 2, 3] }));
  const kept = resp(200, { 'content-type': 'application/json' }, body);
  const hashed = resp(200, { 'content-type': 'application/json' }, Buffer.alloc(0), {
    body: null,
    size: body.length,
    sha256: sha256(body),
    hashOnly: true,
  });
  const c = compileCompare(settings());
  const same = diffResponses(kept, hashed, c);
  assert.equal(same.mode, 'hash');
  assert.deepEqual(same.diffs, []);
  const changed = resp(200, { 'content-type': 'application/json' }, Buffer.alloc(0), {
    body: null,
    size: body.length,
    sha256: sha256(Buffer.from('{"a":2,"b":[1,2,3]}')),
    hashOnly: true,
  });
  assert.deepEqual(
    diffResponses(kept, changed, c).diffs.map((x) => x.field),
    ['body'],
  );
});

test('over maxBodyBytes: status and headers only', () => {
  const a = resp(200, { 'content-type': 'application/json' }, '{"a":1}');
  const b = resp(500, { 'content-type': 'application/json' }, Buffer.alloc(0), {
    body: null,
    size: 9999,
    truncated: true,
  });
  const d = diffResponses(a, b, compileCompare(settings()));
  assert.equal(d.mode, 'truncated');
  assert.deepEqual(
    d.diffs.map((x) => x.field),
    ['status'],
  );
});

test('compiled settings are cached per settings object', () => {
  const s = settings({ ignoreFields: ['$.a'] });
  assert.equal(compileCompare(s), compileCompare(s));
});
