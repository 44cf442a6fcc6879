// The pieces that make the built-in httpbin byte-compatible with the Python one: seeded random bytes,
// Flask's pretty JSON, str.title() header names, gunicorn's access-log line.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PythonRandom } from '../../src/workloads/python-random.js';
import { pythonJson } from '../../src/workloads/python-json.js';
import { pythonTitle, wsgiHeaders } from '../../src/workloads/httpbin-request.js';
import { formatAccessLine, gunicornTime } from '../../src/workloads/gunicorn-log.js';

test('PythonRandom matches CPython random.seed(n); randint(0, 255)', () => {
  // Values printed by CPython 3.11 for bytearray(random.randint(0, 255) for i in range(2000)).
  const cases: [bigint, string, string][] = [
    [0n, 'c5d71484f8cf9bf4b76f47904730804b9e3225a9', 'ae84dd9ae91a6383ea2309673483006e5e58b889'],
    [42n, '390c8c7d7247342cd8100f2f6f770d65d670e58e', '799a4971d3998c1f59dafd18b0c3a3d5d14c99c0'],
    [-7n, 'a54dca182530bb1d6d132cded6237b2ed91e3f72', '349f800f0931638509ed7ae334b3305b178b3fee'],
    [
      123456789012345678901234567890n,
      '70510689397dbb862269323a45f09f337c3b435a',
      '76b87b0c5b1d79bc49359a0b9488248357c6fa51',
    ],
  ];
  for (const [seed, head, tail] of cases) {
    const hex = new PythonRandom(seed).bytes(2000).toString('hex');
    assert.equal(hex.slice(0, 40), head, `seed ${seed}`);
    assert.equal(hex.slice(-40), tail, `seed ${seed}`);
  }
});

test('pythonJson writes Flask 1.x pretty JSON: sorted keys, ", " at line ends, ASCII escapes', () => {
  assert.equal(pythonJson({}), '{}\n');
  assert.equal(pythonJson({ b: [], a: {} }), '{\n  "a": {}, \n  "b": []\n}\n');
  assert.equal(
    pythonJson({ k: ['x', 1, null, true] }),
    '{\n  "k": [\n    "x", \n    1, \n    null, \n    true\n  ]\n}\n',
  );
  assert.equal(pythonJson('é"\\\n\u0001😀\u007f'), '"\\u00e9\\"\\\\\\n\\u0001\\ud83d\\ude00\\u007f"\n');
});

test('header names are rebuilt like werkzeug: str.title(), _ as -, repeats joined with ","', () => {
  assert.equal(pythonTitle('x-b3-traceid'), 'X-B3-Traceid');
  assert.equal(pythonTitle('x-b3traceid'), 'X-B3Traceid');
  assert.equal(pythonTitle('USER-AGENT'), 'User-Agent');
  const h = wsgiHeaders(['x_custom', '1', 'X-Custom', '2', 'content-type', '', 'Host', 'h']);
  assert.deepEqual(
    [...h],
    [
      ['X-Custom', '1,2'],
      ['Host', 'h'],
    ],
  );
});

test("gunicorn's access-log line, with host=", () => {
  assert.equal(gunicornTime(new Date(Date.UTC(2018, 2, 7, 19, 2, 43))), '[07/Mar/2018:19:02:43 +0000]');
  const line = formatAccessLine({
    remoteAddress: '127.0.0.1',
    time: new Date(Date.UTC(2018, 2, 7, 19, 2, 43)),
    requestLine: 'GET /headers HTTP/1.1',
    status: 200,
    bytes: 321,
    userAgent: 'curl/7.35.0',
    host: 'httpbin-shadow:8000',
  });
  assert.equal(
    line,
    '127.0.0.1 - - [07/Mar/2018:19:02:43 +0000] "GET /headers HTTP/1.1" 200 321 "-" "curl/7.35.0" host=httpbin-shadow:8000',
  );
});
