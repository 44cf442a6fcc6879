// The path normaliser, mode by mode, against the examples Istio documents for its
// pathNormalization settings (istio.io: Authorization Policy Normalization).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pathNormalizer } from '../../src/proxy/path-normalize.js';

test('base (Istio default): escapes of unreserved characters, backslashes, dot segments', () => {
  const n = pathNormalizer('base');
  const cases: [string, string | undefined][] = [
    ['/', '/'],
    ['/plain/path', '/plain/path'],
    ['/public/./data/abc/../xyz', '/public/data/xyz'],
    ['/a/../b', '/b'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/..', '/'],
    ['/../../etc/passwd', '/etc/passwd'],
    ['/some%2fdata/%61%62%63', '/some%2fdata/abc'],
    ['/%2D%2e%5F%7E%30%39%41%5A%61%7A', '/-._~09AZaz'],
    ['/%2e%2e/secret', '/secret'],
    ['/a/%2E%2E/b', '/b'],
    ['/%252e', '/%252e'], // decoded once at most: "%25" is not unreserved
    ['/a%20b', '/a%20b'], // other escapes keep their spelling
    ['/a%zz', '/a%zz'], // not an escape at all
    ['/a%2', '/a%2'],
    ['/some\\data', '/some/data'],
    ['/a\\..\\b', '/b'],
    ['/a%5Cb', '/a%5Cb'],
    ['//double//slash', '//double//slash'],
    ['/.well-known/x', '/.well-known/x'],
    ['/a/..b/c', '/a/..b/c'],
    ['/%00', undefined],
    ['/a%00b', undefined],
  ];
  for (const [input, want] of cases) assert.equal(n(input), want, input);
});

test('merge-slashes and decode-and-merge-slashes', () => {
  const m = pathNormalizer('merge-slashes');
  assert.equal(m('//some//data///abc'), '/some/data/abc');
  assert.equal(m('/a//../b'), '/a/b'); // dot segments first (Envoy: normalize_path, then merge_slashes)
  assert.equal(m('/a%2f%2fb'), '/a%2f%2fb');
  const d = pathNormalizer('decode-and-merge-slashes');
  assert.equal(d('/a%2fb'), '/a/b');
  assert.equal(d('/a%2F%2Fb'), '/a/b');
  assert.equal(d('/a%5cb'), '/a/b');
  assert.equal(d('/a%2f..%2fb'), '/b');
});

test('none forwards the path as received', () => {
  const n = pathNormalizer('none');
  for (const p of ['/a/../b', '/%61', '/a\\b', '//x', '/%00']) assert.equal(n(p), p);
});

test('the common case returns the same string without work', () => {
  const n = pathNormalizer('base');
  const p = '/api/v1/items/42';
  assert.equal(n(p), p);
});
