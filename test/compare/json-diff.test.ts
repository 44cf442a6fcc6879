// JSON field-by-field diff on real-shaped documents: httpbin echoes, nested arrays, type changes,
// odd keys, ignore lists and the output cap.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IgnoreMatcher, parseFieldPattern } from '../../src/compare/field-path.js';
import { diffJson } from '../../src/compare/json-diff.js';

/** Two answers of httpbin's GET /get for the same request, as v1 and v2 would give them. */
const HTTPBIN_V1 = JSON.parse(`{
  "args": {"page": "2"},
  "headers": {
    "Accept": "application/json",
    "Host": "httpbin:8000",
    "User-Agent": "curl/7.88.1",
    "X-Amzn-Trace-Id": "Root=1-6571e5b1-0d2b9b6e3f1c4a3b2a1c0d9e"
  },
  "origin": "10.244.0.12",
  "url": "http://httpbin:8000/get?page=2"
}`);
const HTTPBIN_V2 = JSON.parse(`{
  "url": "http://httpbin:8000/get?page=2",
  "origin": "10.244.0.13",
  "headers": {
    "User-Agent": "curl/7.88.1",
    "Host": "httpbin:8000",
    "X-Amzn-Trace-Id": "Root=1-6571e5b2-7c6b5a4f3e2d1c0b9a8f7e6d",
    "Accept": "application/json"
  },
  "args": {"page": "2"}
}`);

test('httpbin echoes that differ in origin and trace id: exactly those two fields, key order ignored', () => {
  const r = diffJson(HTTPBIN_V1, HTTPBIN_V2, undefined);
  assert.equal(r.capped, false);
  assert.deepEqual(
    r.diffs.map((d) => [d.path, d.kind]),
    [
      ['$.headers.X-Amzn-Trace-Id', 'changed'],
      ['$.origin', 'changed'],
    ],
  );
  assert.equal(r.diffs[1].primary, '"10.244.0.12"');
  assert.equal(r.diffs[1].other, '"10.244.0.13"');
});

test('ignore list: "$.headers.X-Amzn-Trace-Id" and "origin" (no $) silence both', () => {
  const r = diffJson(HTTPBIN_V1, HTTPBIN_V2, new IgnoreMatcher(['$.headers.X-Amzn-Trace-Id', 'origin']));
  assert.deepEqual(r.diffs, []);
});

const ORDER_V1 = {
  id: 1042,
  customer: { id: 7, name: 'Ada', tags: ['vip'] },
  items: [
    { sku: 'A-1', qty: 2, price: 9.5, ts: '2026-11-25T10:00:00Z' },
    { sku: 'B-2', qty: 1, price: 20, ts: '2026-11-25T10:00:01Z' },
  ],
  total: 39,
};

test('nested arrays: changed element field, extra element, folded field names', () => {
  const v2 = structuredClone(ORDER_V1) as typeof ORDER_V1 & { items: unknown[] };
  v2.items[1].price = 21;
  v2.items.push({ sku: 'C-3', qty: 1, price: 1, ts: 'x' });
  v2.customer.tags = [];
  const r = diffJson(ORDER_V1, v2, undefined);
  assert.deepEqual(
    r.diffs.map((d) => ({ path: d.path, field: d.field, kind: d.kind })),
    [
      { path: '$.customer.tags[0]', field: '$.customer.tags[*]', kind: 'removed' },
      { path: '$.items[1].price', field: '$.items[*].price', kind: 'changed' },
      { path: '$.items[2]', field: '$.items[*]', kind: 'added' },
    ],
  );
});

test('a value that changes type is a type difference, null included', () => {
  const r = diffJson({ id: 1042, note: null, total: 39 }, { id: '1042', note: 'gift', total: 39 }, undefined);
  assert.deepEqual(
    r.diffs.map((d) => [d.path, d.kind, d.primary, d.other]),
    [
      ['$.id', 'type', '1042', '"1042"'],
      ['$.note', 'type', 'null', '"gift"'],
    ],
  );
});

test('array wildcards and subtree ignores: $.items[*].ts and $.customer', () => {
  const v2 = structuredClone(ORDER_V1);
  v2.items[0].ts = 'later';
  v2.items[1].ts = 'later';
  v2.customer.name = 'Grace';
  v2.total = 40;
  const r = diffJson(ORDER_V1, v2, new IgnoreMatcher(['$.items[*].ts', '$.customer']));
  assert.deepEqual(
    r.diffs.map((d) => d.path),
    ['$.total'],
  );
  // An index pattern only ignores that position.
  const r2 = diffJson(ORDER_V1, v2, new IgnoreMatcher(['$.items[0].ts', '$.customer', 'total']));
  assert.deepEqual(
    r2.diffs.map((d) => d.path),
    ['$.items[1].ts'],
  );
});

test('keys that are not identifiers are bracketed, and can be ignored that way', () => {
  const a = { 'content.type': 'a', 'x y': 1, ok: true };
  const b = { 'content.type': 'b', 'x y': 2, ok: true };
  const r = diffJson(a, b, undefined);
  assert.deepEqual(
    r.diffs.map((d) => d.path),
    ['$["content.type"]', '$["x y"]'],
  );
  assert.deepEqual(diffJson(a, b, new IgnoreMatcher(['$["content.type"]', '$["x y"]'])).diffs, []);
  assert.deepEqual(parseFieldPattern('$.items[*].id'), [{ key: 'items' }, { any: true }, { key: 'id' }]);
  assert.equal(parseFieldPattern('$'), undefined);
});

test('top-level arrays and scalars compare too', () => {
  assert.deepEqual(
    diffJson([1, 2, 3], [1, 2, 4], undefined).diffs.map((d) => [d.path, d.field]),
    [['$[2]', '$[*]']],
  );
  assert.deepEqual(diffJson('ok', 'ok', undefined).diffs, []);
  assert.deepEqual(
    diffJson(true, false, undefined).diffs.map((d) => d.path),
    ['$'],
  );
});

test('output is capped: a completely different document stops at max and says so', () => {
  const a = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, i]));
  const b = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, -i - 1]));
  const r = diffJson(a, b, undefined, 50);
  assert.equal(r.diffs.length, 50);
  assert.equal(r.capped, true);
});

test('deep nesting does not overflow the stack', () => {
  let a: unknown = 1;
  let b: unknown = 2;
  for (let i = 0; i < 5000; i++) {
    a = { n: a };
    b = { n: b };
  }
  const r = diffJson(a, b, undefined);
  assert.equal(r.diffs.length, 1);
  assert.match(r.diffs[0].path, /^\$(\.n){64}$/);
});
