// Endpoint templates (identifier segments collapsed) and the line diff shown for text samples.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endpointTemplate, pathTemplate } from '../../src/compare/endpoint-template.js';
import { lineDiff } from '../../src/compare/text-diff.js';

test('numeric, uuid, hex and token segments collapse; words and the query do not count', () => {
  assert.equal(pathTemplate('/users/42/orders/9f1c2d3e4b?expand=items'), '/users/{n}/orders/{hex}');
  assert.equal(pathTemplate('/sessions/3f2504e0-4f89-11d3-9a0c-0305e82c3301'), '/sessions/{uuid}');
  assert.equal(pathTemplate('/files/aGVsbG8gd29ybGQgMTIzNDU2Nzg5MA'), '/files/{token}');
  assert.equal(pathTemplate('/status/418'), '/status/{n}');
  assert.equal(pathTemplate('/headers'), '/headers');
  assert.equal(pathTemplate('/coffee/accepted'), '/coffee/accepted');
  assert.equal(pathTemplate('/'), '/');
  assert.equal(endpointTemplate('GET', '/anything/7/x'), 'GET /anything/{n}/x');
});

test('very long paths are cut, so one client cannot make unbounded groups', () => {
  const long = '/' + Array.from({ length: 40 }, (_, i) => `s${i}`).join('/');
  assert.ok(pathTemplate(long).endsWith('/…'));
  assert.equal(pathTemplate(long).split('/').length, 18);
});

test('line diff: changes with two lines of context, unchanged runs folded', () => {
  const a = Array.from({ length: 20 }, (_, i) => `line ${i}`).join('\n');
  const b = a.replace('line 10', 'LINE TEN').replace('line 19', 'line 19\nline 20');
  const ops = lineDiff(a, b);
  assert.deepEqual(ops, [
    { op: '…', text: '8 unchanged lines' },
    { op: '=', text: 'line 8' },
    { op: '=', text: 'line 9' },
    { op: '-', text: 'line 10' },
    { op: '+', text: 'LINE TEN' },
    { op: '=', text: 'line 11' },
    { op: '=', text: 'line 12' },
    { op: '…', text: '5 unchanged lines' },
    { op: '=', text: 'line 18' },
    { op: '=', text: 'line 19' },
    { op: '+', text: 'line 20' },
  ]);
});
