// Istio resources: field typos, mirror percentages, mirror/mirrors, RE2 regexes, durations,
// unsupported-but-valid fields (warnings) and the older API versions.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPaths, loadText } from '../../src/config/load.js';
import { formatIssue, type ConfigIssue } from '../../src/config/issues.js';
import { ofKind, UNSUPPORTED_FIELDS } from '../../src/config/validate.js';
import { fixture } from './fixtures.js';

const errors = (issues: ConfigIssue[]) => issues.filter((i) => i.severity === 'error');
const warnings = (issues: ConfigIssue[]) => issues.filter((i) => i.severity === 'warning');

function vs(httpRule: string, extraSpec = ''): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: httpbin
spec:
  hosts: [httpbin]
${extraSpec}  http:
  - ${httpRule.trim().replace(/\n/g, '\n    ')}
`;
}

test('a misspelt field is an error with file, line and "did you mean"', async () => {
  const file = fixture('invalid/typo-mirror-percentage.yaml');
  const r = await loadPaths([file]);
  assert.equal(r.resources.length, 0, 'the typo must not fall back to 100 %');
  assert.equal(r.issues.length, 1);
  const [i] = r.issues;
  assert.equal(i.severity, 'error');
  assert.equal(i.file, file);
  assert.equal(i.line, 16);
  assert.equal(i.column, 5);
  assert.equal(i.path, 'spec.http[0].mirrorPercentge');
  assert.equal(i.resource, 'VirtualService default/httpbin');
  assert.match(i.message, /unknown field "mirrorPercentge"/);
  assert.equal(i.hint, 'did you mean "mirrorPercentage"?');
  assert.match(
    formatIssue(i),
    /typo-mirror-percentage\.yaml:16:5: error: VirtualService default\/httpbin spec\.http\[0\]\.mirrorPercentge/,
  );
});

test('mirrorPercentage.value 101 is an error at its line', async () => {
  const r = await loadPaths([fixture('invalid/mirror-percentage-101.yaml')]);
  assert.equal(r.resources.length, 0);
  const [i] = errors(r.issues);
  assert.equal(i.path, 'spec.http[0].mirrorPercentage.value');
  assert.equal(i.line, 17);
  assert.match(i.message, /between 0 and 100/);
});

test('percentages: NaN, Infinity and negatives are refused; 0 and 100 are fine', () => {
  for (const bad of ['.nan', '.inf', '-.inf', '-1', '100.0001', '"50"']) {
    const r = loadText(
      vs(
        `route: [{destination: {host: httpbin}}]\nmirror: {host: httpbin, subset: v2}\nmirrorPercentage: {value: ${bad}}`,
      ),
      'p.yaml',
    );
    assert.equal(errors(r.issues).length, 1, `${bad}: ${r.issues.map(formatIssue).join('\n')}`);
    assert.equal(errors(r.issues)[0].path, 'spec.http[0].mirrorPercentage.value');
  }
  for (const ok of ['0', '0.0001', '12.5', '100']) {
    const r = loadText(
      vs(
        `route: [{destination: {host: httpbin}}]\nmirror: {host: httpbin, subset: v2}\nmirrorPercentage: {value: ${ok}}`,
      ),
      'p.yaml',
    );
    assert.deepEqual(r.issues.map(formatIssue), [], ok);
  }
  const mirrors = loadText(
    vs(
      `route: [{destination: {host: httpbin}}]\nmirrors: [{destination: {host: httpbin, subset: v2}, percentage: {value: -0.5}}]`,
    ),
    'p.yaml',
  );
  assert.equal(errors(mirrors.issues)[0].path, 'spec.http[0].mirrors[0].percentage.value');
});

test('mirror and mirrors on one rule is an error', async () => {
  const r = await loadPaths([fixture('invalid/mirror-and-mirrors.yaml')]);
  assert.equal(r.resources.length, 0);
  const [i] = errors(r.issues);
  assert.equal(i.path, 'spec.http[0].mirrors');
  assert.equal(i.line, 16);
  assert.match(i.message, /mirror and mirrors/);
});

test('a regex that is not RE2 is an error', async () => {
  const r = await loadPaths([fixture('invalid/bad-regex.yaml')]);
  const [i] = errors(r.issues);
  assert.equal(i.path, 'spec.http[0].match[0].uri.regex');
  assert.equal(i.line, 11);
  assert.match(i.message, /not RE2/);
  // Regexes are checked wherever Istio takes one.
  const more = loadText(
    vs(`match:
- headers: {x-a: {regex: "(a"}}
  queryParams: {q: {regex: "\\\\1"}}
  authority: {regex: "[z-a]"}
route: [{destination: {host: httpbin}}]
rewrite: {uriRegexRewrite: {match: "(?<=x)", rewrite: /}}`),
    'r.yaml',
  );
  assert.deepEqual(
    errors(more.issues).map((x) => x.path),
    [
      'spec.http[0].match[0].headers["x-a"].regex',
      'spec.http[0].match[0].queryParams.q.regex',
      'spec.http[0].match[0].authority.regex',
      'spec.http[0].rewrite.uriRegexRewrite.match',
    ],
  );
});

test('every issue of a document is reported together', async () => {
  const r = await loadPaths([fixture('invalid/many-issues.yaml')]);
  assert.equal(r.resources.length, 0);
  assert.deepEqual(
    r.issues.map((i) => [i.line, i.path]),
    [
      [4, 'metadata.name'],
      [5, 'metadata.namespce'],
      [9, 'spec.htpp'],
      [15, 'spec.http[0].route[0].weight'],
      [16, 'spec.http[0].timeout'],
      [19, 'spec.http[0].mirrors'],
      [24, 'spec.http[0].mirrorPercentage.value'],
      [27, 'spec.http[0].retries.retryOn'],
    ],
  );
  assert.equal(r.issues[2].hint, 'did you mean "http"?');
  assert.equal(r.issues[7].hint, 'did you mean "gateway-error"?');
});

test('StringMatch needs exactly one of exact, prefix, regex; header matches may test presence', () => {
  const r = loadText(
    vs(
      `match:\n- uri: {}\n  method: {exact: GET, prefix: G}\n  headers: {x-present: {}}\nroute: [{destination: {host: httpbin}}]`,
    ),
    's.yaml',
  );
  assert.deepEqual(
    errors(r.issues).map((i) => i.path),
    ['spec.http[0].match[0].uri', 'spec.http[0].match[0].method.prefix'],
  );
});

test('durations: Go syntax accepted, junk and negatives refused', () => {
  for (const ok of ['0', '1s', '1.5s', '100ms', '250us', '1h2m3.5s', '2m']) {
    const r = loadText(vs(`route: [{destination: {host: httpbin}}]\ntimeout: "${ok}"`), 'd.yaml');
    assert.deepEqual(r.issues.map(formatIssue), [], ok);
  }
  for (const bad of ['1', '-1s', '1 s', 's', '1d', '1.s']) {
    const r = loadText(vs(`route: [{destination: {host: httpbin}}]\ntimeout: "${bad}"`), 'd.yaml');
    assert.equal(errors(r.issues).length, 1, bad);
  }
});

test('rule actions: exactly one of route, redirect, directResponse, delegate', () => {
  const none = loadText(vs(`name: nothing\ntimeout: 1s`), 'a.yaml');
  assert.match(errors(none.issues)[0].message, /needs one of route, redirect, directResponse or delegate/);
  const two = loadText(
    vs(`route: [{destination: {host: httpbin}}]\nredirect: {uri: /x}\nrewrite: {uri: /y}`),
    'a.yaml',
  );
  assert.deepEqual(
    errors(two.issues).map((i) => i.path),
    ['spec.http[0].redirect', 'spec.http[0].rewrite'],
  );
  const direct = loadText(vs(`directResponse: {status: 503, body: {string: unavailable}}`), 'a.yaml');
  assert.deepEqual(direct.issues.map(formatIssue), []);
  const badStatus = loadText(vs(`directResponse: {status: 99}`), 'a.yaml');
  assert.equal(errors(badStatus.issues)[0].path, 'spec.http[0].directResponse.status');
});

test('wrong types are errors with the path', () => {
  const r = loadText(
    vs(
      `route: [{destination: {host: httpbin}, weight: "100"}]\nmirror: {host: httpbin, port: {number: 0}}\nmirrorPercent: 10.5`,
    ),
    't.yaml',
  );
  assert.deepEqual(
    errors(r.issues).map((i) => i.path),
    ['spec.http[0].route[0].weight', 'spec.http[0].mirror.port.number', 'spec.http[0].mirrorPercent'],
  );
});

test('fields Umbra ignores are warnings, and the resource is still accepted', () => {
  const text = vs(
    `match:
- sourceLabels: {app: curl}
  gateways: [my-gateway]
route: [{destination: {host: httpbin}}]
retries: {attempts: 2, backoff: 1s, retryRemoteLocalities: true}
fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 1}}}
corsPolicy: {allowOrigins: [{exact: "https://a.example"}], unmatchedPreflights: FORWARD}`,
    '  gateways: [mesh]\n  exportTo: ["."]\n',
  );
  const r = loadText(text, 'w.yaml');
  assert.deepEqual(errors(r.issues), []);
  assert.equal(r.resources.length, 1);
  assert.deepEqual(
    warnings(r.issues).map((i) => i.path),
    [
      'spec.exportTo',
      'spec.http[0].match[0].sourceLabels',
      'spec.http[0].match[0].gateways',
      // retries.backoff and corsPolicy.unmatchedPreflights are implemented (issue 4).
      'spec.http[0].retries.retryRemoteLocalities',
      // fault.abort.grpcStatus is implemented (issue 14).
    ],
  );
  // A condition narrowing a block to other clients or gateways makes it never match, never match more.
  for (const i of warnings(r.issues))
    if (/sourceLabels|match\[0\]\.gateways/.test(i.path))
      assert.match(i.message, /this match block never matches/);
    else assert.equal(i.message, 'not supported by Umbra; ignored');
  // `gateways: [mesh]` is what Umbra does anyway, so it is not warned about.
  assert.ok(!r.issues.some((i) => i.path === 'spec.gateways'));
  assert.ok(UNSUPPORTED_FIELDS.some((u) => u.kind === 'VirtualService' && u.path === 'spec.tls'));
});

test('mirrorPercent without mirror is a warning', () => {
  const r = loadText(vs(`route: [{destination: {host: httpbin}}]\nmirrorPercent: 50`), 'w.yaml');
  assert.equal(r.resources.length, 1);
  const [w] = warnings(r.issues);
  assert.equal(w.path, 'spec.http[0].mirrorPercent');
  assert.match(w.message, /no effect without mirror/);
  const empty = loadText(
    vs(`route: [{destination: {host: httpbin}}]\nmirror: {host: httpbin, subset: v2}\nmirrorPercentage: {}`),
    'w.yaml',
  );
  assert.match(warnings(empty.issues)[0].message, /means 0 %/);
});

test('tls and tcp routes are modelled strictly but reported as unsupported', () => {
  const r = loadText(
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db}
spec:
  hosts: [db]
  tcp:
  - match: [{port: 5432}]
    route: [{destination: {host: db, port: {number: 5432}}}]
  tls:
  - match: [{sniHosts: [db.example.com], port: 443}]
    route: [{destination: {host: db}}]
`,
    'tcp.yaml',
  );
  assert.deepEqual(errors(r.issues), []);
  assert.deepEqual(
    warnings(r.issues).map((i) => i.path),
    ['spec.tcp', 'spec.tls'],
  );
});

test('v1alpha3 and v1beta1 are accepted; DestinationRule policies are validated', async () => {
  const r = await loadPaths([fixture('valid/v1alpha3.yaml')]);
  assert.deepEqual(r.issues.map(formatIssue), []);
  const [vs1] = ofKind(r.resources, 'VirtualService');
  assert.equal(vs1.apiVersion, 'networking.istio.io/v1alpha3');
  assert.equal(vs1.metadata.namespace, 'bookinfo');
  assert.deepEqual(vs1.spec.http?.[0].mirrors?.[0].percentage, { value: 12.5 });
  const [dr] = ofKind(r.resources, 'DestinationRule');
  assert.equal(dr.apiVersion, 'networking.istio.io/v1beta1');
  assert.equal(dr.spec.trafficPolicy?.loadBalancer?.simple, 'LEAST_REQUEST');
  assert.equal(ofKind(r.resources, 'WorkloadEntry')[0].spec.ports?.http, 9080);
  assert.equal(ofKind(r.resources, 'ServiceEntry')[0].spec.resolution, 'DNS');
});

test('DestinationRule: enums, duplicate subsets and unsupported settings', () => {
  const r = loadText(
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin}
spec:
  host: httpbin
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBBIN}
    tls: {mode: ISTIO_MUTUAL}
  subsets:
  - {name: v1, labels: {version: v1}}
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      loadBalancer:
        localityLbSetting: {enabled: true}
      connectionPool:
        http: {h2UpgradePolicy: UPGRADE}
`,
    'dr.yaml',
  );
  assert.deepEqual(
    r.issues.map((i) => [i.severity, i.path]),
    [
      ['error', 'spec.trafficPolicy.loadBalancer.simple'],
      ['warning', 'spec.trafficPolicy.tls.mode'],
      ['error', 'spec.subsets[1].name'],
      ['warning', 'spec.subsets[1].trafficPolicy.loadBalancer.localityLbSetting'],
      // connectionPool.http.h2UpgradePolicy is implemented (issue 14).
    ],
  );
  assert.equal(r.issues[0].hint, 'did you mean "ROUND_ROBIN"?');
});

test('WorkloadEntry needs an address; ServiceEntry cannot mix endpoints and workloadSelector', () => {
  const r = loadText(
    `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: w}
spec:
  labels: {app: httpbin}
  ports: {http: 70000}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: se}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: DNS
  endpoints: [{address: api.example.com}]
  workloadSelector: {labels: {app: api}}
`,
    'we.yaml',
  );
  assert.deepEqual(
    errors(r.issues).map((i) => i.path),
    ['spec.address', 'spec.ports.http', 'spec.workloadSelector'],
  );
  assert.equal(errors(r.issues)[0].message, 'required field is missing');
  assert.equal(errors(r.issues)[0].line, 4, 'a missing field points at its parent');
});
