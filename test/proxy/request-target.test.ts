// parseTarget as the router sees it, including what its per-Host cache must never change: repeated
// and distinct Host values, refused values staying refused, the scheme's default port, and more
// distinct values than the cache holds.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isTargetError,
  parseTarget,
  validAuthority,
  type RequestTarget,
} from '../../src/proxy/request-target.js';

function ok(url: string, host?: string): RequestTarget {
  const t = parseTarget(url, host);
  assert.ok(!isTargetError(t), `refused ${url} with Host ${host}: ${JSON.stringify(t)}`);
  return t;
}

test('origin-form: Host is lower-cased, a trailing dot dropped, the port read or defaulted', () => {
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(ok('/get?a=1', 'HttpBin.:8000'), {
      authority: 'httpbin:8000',
      path: '/get',
      query: 'a=1',
      port: 8000,
      scheme: 'http',
    });
    assert.deepEqual(ok('/', 'httpbin'), {
      authority: 'httpbin',
      path: '/',
      query: '',
      port: 80,
      scheme: 'http',
    });
  }
});

test('the same authority keeps each scheme’s default port', () => {
  assert.equal(ok('/', 'example.com').port, 80);
  assert.equal(ok('https://example.com/x').port, 443);
  assert.equal(ok('http://example.com/x').port, 80);
  assert.equal(ok('https://[::1]:8443/').port, 8443);
  assert.equal(ok('/', '[::1]').port, 80);
});

test('refused Host values stay refused however often they come', () => {
  for (let i = 0; i < 3; i++) {
    for (const bad of ['a b', 'x/y', 'user@host', 'h:0', 'h:65536', 'a,b']) {
      const t = parseTarget('/', bad);
      assert.ok(isTargetError(t), bad);
      assert.equal(t.status, 400);
      assert.equal(validAuthority(bad), false);
    }
    assert.ok(isTargetError(parseTarget('http://a b/', undefined)));
  }
});

test('more distinct Host values than the cache keeps are all judged correctly', () => {
  for (let i = 0; i < 3000; i++) {
    assert.equal(ok('/p', `h${i}.example:${1 + (i % 60000)}`).authority, `h${i}.example:${1 + (i % 60000)}`);
    assert.ok(isTargetError(parseTarget('/p', `h${i} bad`)));
  }
  assert.equal(ok('/p', 'H0.Example:1').authority, 'h0.example:1');
});
