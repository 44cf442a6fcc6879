// The upstream header list: hop-by-hop and internal headers dropped, X-Forwarded-For appended and
// X-Forwarded-Proto set with Envoy's xff_num_trusted_hops rules (envoyproxy.io, HTTP header
// manipulation: x-forwarded-for, examples 1 and 3).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepareRequestHeaders, trustedClientAddress } from '../../src/proxy/request-headers.js';
import { classifyUpstreamError } from '../../src/proxy/upstream-errors.js';

function get(list: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < list.length; i += 2) if (list[i] === name) out.push(list[i + 1]);
  return out;
}

test('edge proxy without trusted hops: XFF appended, the client address is the peer', () => {
  const p = prepareRequestHeaders(
    [
      'Host',
      'a',
      'X-Forwarded-For',
      '203.0.113.128, 203.0.113.10, 203.0.113.1',
      'X-Forwarded-Proto',
      'https',
    ],
    'a',
    '::ffff:192.0.2.5',
    'http',
    0,
  );
  assert.deepEqual(get(p.headers, 'x-forwarded-for'), [
    '203.0.113.128, 203.0.113.10, 203.0.113.1, 192.0.2.5',
  ]);
  assert.deepEqual(get(p.headers, 'x-forwarded-proto'), ['http'], "an untrusted client's XFP is overwritten");
  assert.equal(p.clientAddress, '192.0.2.5');
});

test('two trusted hops: the second address from the right is the client; XFP is kept', () => {
  const p = prepareRequestHeaders(
    ['X-Forwarded-For', '203.0.113.128, 203.0.113.10, 203.0.113.1', 'X-Forwarded-Proto', 'https'],
    'a',
    '192.0.2.5',
    'http',
    2,
  );
  assert.equal(p.clientAddress, '203.0.113.10');
  assert.deepEqual(get(p.headers, 'x-forwarded-for'), [
    '203.0.113.128, 203.0.113.10, 203.0.113.1, 192.0.2.5',
  ]);
  assert.deepEqual(get(p.headers, 'x-forwarded-proto'), ['https']);
  // Without an XFP from the trusted proxy, the connection's scheme.
  const q = prepareRequestHeaders([], 'a', '192.0.2.5', 'http', 2);
  assert.deepEqual(get(q.headers, 'x-forwarded-proto'), ['http']);
});

test('fewer XFF entries than trusted hops: the peer is the client', () => {
  assert.equal(trustedClientAddress('203.0.113.1', '192.0.2.5', 2), '192.0.2.5');
  assert.equal(trustedClientAddress(undefined, '192.0.2.5', 1), '192.0.2.5');
  assert.equal(trustedClientAddress('198.51.100.1, 203.0.113.1', '192.0.2.5', 1), '203.0.113.1');
  assert.equal(trustedClientAddress('198.51.100.1,203.0.113.1', '192.0.2.5', 2), '198.51.100.1');
});

test('repeated XFF lines fold into one list; internal and hop-by-hop headers go', () => {
  const p = prepareRequestHeaders(
    [
      'X-Forwarded-For',
      '198.51.100.1',
      'x-forwarded-for',
      '203.0.113.1',
      'X-Envoy-Retry-On',
      '5xx',
      'x-envoy-attempt-count',
      '9',
      'Connection',
      'close, X-Drop',
      'X-Drop',
      '1',
      'Keep-Alive',
      'timeout=5',
      'TE',
      'trailers',
      'Transfer-Encoding',
      'chunked',
      'Expect',
      '100-continue',
      'Upgrade',
      'h2c',
      'X-Keep',
      'yes',
    ],
    'a',
    '127.0.0.1',
    'http',
  );
  assert.deepEqual(get(p.headers, 'x-forwarded-for'), ['198.51.100.1, 203.0.113.1, 127.0.0.1']);
  for (const gone of [
    'x-envoy-retry-on',
    'x-envoy-attempt-count',
    'connection',
    'x-drop',
    'keep-alive',
    'te',
    'transfer-encoding',
    'expect',
    'upgrade',
  ])
    assert.deepEqual(get(p.headers, gone), [], gone);
  assert.deepEqual(get(p.headers, 'x-keep'), ['yes']);
});

test('a client cannot make Umbra drop its own x-request-id by nominating it in Connection', () => {
  const p = prepareRequestHeaders(
    ['Connection', 'x-request-id', 'x-request-id', 'mine'],
    'a',
    '127.0.0.1',
    'http',
  );
  const ids = get(p.headers, 'x-request-id');
  assert.equal(ids.length, 1);
  assert.equal(ids[0], p.requestId);
  assert.notEqual(p.requestId, 'mine');
});

test('upstream failures map to Envoy flags as undici reports them', () => {
  const parser = Object.assign(new Error('Response does not match the HTTP/1.1 protocol'), {
    name: 'HTTPParserError',
  });
  assert.deepEqual(classifyUpstreamError(parser), { status: 502, flag: 'UPE' });
  assert.deepEqual(
    classifyUpstreamError(Object.assign(new Error('x'), { code: 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' })),
    { status: 502, flag: 'UPE' },
  );
  assert.deepEqual(
    classifyUpstreamError(Object.assign(new Error('x'), { code: 'UND_ERR_HEADERS_OVERFLOW' })),
    { status: 502, flag: 'UPE' },
  );
  assert.deepEqual(classifyUpstreamError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), {
    status: 503,
    flag: 'UF',
  });
  assert.deepEqual(
    classifyUpstreamError(Object.assign(new Error('x'), { code: 'UND_ERR_CONNECT_TIMEOUT' })),
    { status: 503, flag: 'UF' },
  );
  assert.deepEqual(classifyUpstreamError(Object.assign(new Error('x'), { code: 'ECONNRESET' })), {
    status: 503,
    flag: 'UC',
  });
  assert.deepEqual(
    classifyUpstreamError(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })),
    { status: 503, flag: 'UC' },
  );
  assert.deepEqual(classifyUpstreamError(Object.assign(new Error('x'), { code: 'UMBRA_UPSTREAM_TIMEOUT' })), {
    status: 504,
    flag: 'UT',
  });
  assert.deepEqual(classifyUpstreamError(undefined), { status: 503, flag: 'UC' });
});
