// Istio's own validation cases (istio/istio pkg/config/validation: ValidateVirtualService,
// validateHTTPRouteDestinations, ValidateHTTPHeaderValue, validateStringRegexp, host resolution in
// config.ResolveShortnameToFQDN), each run through Umbra's loader and translation: what istiod
// refuses is an error here, what it accepts loads.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../../src/config/load.js';
import { formatIssue, type ConfigIssue } from '../../src/config/issues.js';
import { buildRouteTable, DEFAULT_BUILD } from '../../src/translate/build-table.js';

const errors = (issues: readonly ConfigIssue[]) => issues.filter((i) => i.severity === 'error');

function vs(http: string, hosts = '[httpbin]'): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: ${hosts}
  http:
  - ${http.trim().replace(/\n/g, '\n    ')}
`;
}

const SERVICE = `apiVersion: v1
kind: Service
metadata: {name: httpbin}
spec:
  ports: [{name: http, port: 8000}]
  selector: {app: httpbin}
---
`;

function load(yaml: string) {
  const r = loadText(yaml, 'case.yaml');
  return { resources: r.resources, issues: r.issues, text: r.issues.map(formatIssue).join('\n') };
}

test('ValidateHTTPHeaderValue: a header value with CR or LF is refused', () => {
  for (const where of [
    'headers: {request: {set: {x-a: "v\\r\\nx-injected: 1"}}}',
    'headers: {response: {add: {x-a: "v\\n"}}}',
  ])
    for (const at of ['rule', 'destination']) {
      const rule =
        at === 'rule'
          ? `route: [{destination: {host: httpbin}}]\n${where}`
          : `route: [{destination: {host: httpbin}, ${where}}]`;
      const r = load(vs(rule));
      assert.equal(r.resources.length, 0, r.text);
      assert.match(errors(r.issues)[0].message, /control characters/);
    }
  // A tab is a legal header character.
  assert.deepEqual(
    load(vs('route: [{destination: {host: httpbin}}]\nheaders: {request: {set: {x-a: "a\\tb"}}}')).issues,
    [],
  );
});

test('validateHTTPRouteDestinations: "total destination weight = 0" is an error; one destination may weigh 0', () => {
  const zero = load(
    vs(
      'route:\n- {destination: {host: httpbin, subset: v1}, weight: 0}\n- {destination: {host: httpbin, subset: v2}}',
    ),
  );
  assert.equal(zero.resources.length, 0);
  assert.match(zero.text, /spec\.http\[0\]\.route: total destination weight = 0/);
  assert.deepEqual(load(vs('route: [{destination: {host: httpbin}, weight: 0}]')).issues, []);
});

test('ValidateHTTPHeaderWithAuthorityOperationName: request set of :authority is accepted; other pseudo-headers are not', () => {
  assert.deepEqual(
    load(
      vs('route: [{destination: {host: httpbin}}]\nheaders: {request: {set: {":authority": other.example}}}'),
    ).issues,
    [],
  );
  const path = load(vs('route: [{destination: {host: httpbin}}]\nheaders: {request: {set: {":path": /x}}}'));
  assert.match(path.text, /header cannot have ":" prefix/);
  const host = load(vs('route: [{destination: {host: httpbin}}]\nheaders: {response: {set: {host: x}}}'));
  assert.match(host.text, /cannot set Host header/);
});

test('ValidateHTTPHeaderNameOrJwtClaimRoute: a :method header match is accepted', () => {
  const r = load(
    vs('match: [{headers: {":method": {exact: POST}}}]\nroute: [{destination: {host: httpbin}}]'),
  );
  assert.deepEqual(r.issues, []);
});

test('HTTPRedirect.prefixRewrite is a field; it excludes uri', () => {
  assert.deepEqual(load(vs('match: [{uri: {prefix: /old}}]\nredirect: {prefixRewrite: /new}')).issues, []);
  const both = load(vs('redirect: {uri: /a, prefixRewrite: /b}'));
  assert.equal(both.resources.length, 0);
});

test('validateStringRegexp: a regex over 1024 characters is refused (Envoy max program size)', () => {
  const long = `^/(${Array.from({ length: 1200 }, (_, i) => `p${i}`).join('|')})$`;
  assert.ok(long.length > 1024);
  const r = load(vs(`match: [{uri: {regex: "${long}"}}]\nroute: [{destination: {host: httpbin}}]`));
  assert.equal(r.resources.length, 0);
  assert.match(errors(r.issues)[0].message, /regex is too large: \d+ characters, at most 1024/);
  const tenK = load(
    vs(`match: [{uri: {regex: "${'a'.repeat(10_000)}"}}]\nroute: [{destination: {host: httpbin}}]`),
  );
  assert.equal(tenK.resources.length, 0, 'the 10,000-character case');
  assert.deepEqual(
    load(vs(`match: [{uri: {regex: "${'a'.repeat(1024)}"}}]\nroute: [{destination: {host: httpbin}}]`))
      .issues,
    [],
  );
});

test('ValidateVirtualService: IP literal hosts (10.0.0.1, ::1) are accepted', () => {
  for (const h of ['"10.0.0.1"', '"::1"']) {
    const r = load(vs('route: [{destination: {host: httpbin}}]', `[${h}]`));
    assert.deepEqual(r.issues, [], h);
  }
});

test('mirrorPercent (deprecated) is a warning', () => {
  const r = load(vs('route: [{destination: {host: httpbin}}]\nmirror: {host: httpbin}\nmirrorPercent: 50'));
  assert.deepEqual(
    r.issues.map((i) => `${i.severity} ${i.path}`),
    ['warning spec.http[0].mirrorPercent'],
  );
});

test('ResolveShortnameToFQDN: a DestinationRule host with one dot is literal and applies to the ServiceEntry of that name', () => {
  const yaml = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external}
spec:
  hosts: [example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: external}
spec:
  host: example.com
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
`;
  const r = load(yaml);
  assert.deepEqual(r.issues, []);
  const built = buildRouteTable(r.resources, DEFAULT_BUILD);
  assert.deepEqual(built.issues.map(formatIssue), []);
  const cluster = built.table.clusters.get('outbound|80||example.com');
  assert.equal(cluster?.lb.kind, 'random', 'the DestinationRule applies');
});

test('ResolveShortnameToFQDN: a VirtualService host with a dot (mirror400.test) is a literal name, not service.namespace', () => {
  const yaml = `${SERVICE}apiVersion: v1
kind: Service
metadata: {name: mirror400, namespace: test}
spec:
  ports: [{name: http, port: 80}]
---
${vs('route: [{destination: {host: httpbin}}]', '[mirror400.test]')}`;
  const r = load(yaml);
  assert.deepEqual(r.issues, []);
  const built = buildRouteTable(r.resources, DEFAULT_BUILD);
  // The VirtualService routes requests for "mirror400.test" (any port) to httpbin ...
  const literal = built.table.hostIndex.get('mirror400.test:*');
  assert.equal(literal?.routes[0].origin.kind, 'VirtualService');
  // ... and the service test/mirror400 keeps its own default route.
  const svc = built.table.hostIndex.get('mirror400.test.svc.cluster.local:80');
  assert.equal(svc?.routes[0].origin.kind, 'Service');
});

test('a destination without a port whose service lacks the listener port fails only that port', () => {
  const yaml = `apiVersion: v1
kind: Service
metadata: {name: front}
spec:
  ports: [{name: http, port: 80}, {name: alt, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: back}
spec:
  ports: [{name: http, port: 80}, {name: admin, port: 9000}]
---
${vs('route: [{destination: {host: back}}]', '[front]')}`;
  const r = load(yaml);
  assert.deepEqual(r.issues, []);
  const built = buildRouteTable(r.resources, DEFAULT_BUILD);
  assert.deepEqual(errors(built.issues), [], 'not refused whole');
  assert.match(
    built.issues.map(formatIssue).join('\n'),
    /has no port 8080 and several others; requests on port 8080 are answered 503/,
  );
  const on80 = built.table.hostIndex.get('front:80')!.routes[0].action;
  const on8080 = built.table.hostIndex.get('front:8080')!.routes[0].action;
  assert.ok(
    on80.kind === 'forward' && on80.backends[0].cluster === 'outbound|80||back.default.svc.cluster.local',
  );
  assert.ok(on8080.kind === 'forward' && on8080.backends[0].cluster === undefined);
});

test('MirrorPolicy targetRef names a ServiceEntry by metadata.name (GEP-713) and attaches to its hosts', () => {
  const yaml = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: shadow-api}
spec:
  hosts: [api.shadow.example]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
${vs('route: [{destination: {host: httpbin}}]\nmirror: {host: api.shadow.example}')}---
${SERVICE}apiVersion: umbra.dev/v1alpha1
kind: MirrorPolicy
metadata: {name: strip}
spec:
  targetRefs: [{group: networking.istio.io, kind: ServiceEntry, name: shadow-api}]
  headers: {remove: [authorization]}
`;
  const r = load(yaml);
  assert.deepEqual(r.issues.map(formatIssue), []);
  const built = buildRouteTable(r.resources, DEFAULT_BUILD);
  assert.deepEqual(built.issues.map(formatIssue), []);
  const action = built.table.hostIndex.get('httpbin:8000')!.routes[0].action;
  assert.ok(action.kind === 'forward');
  assert.deepEqual(action.mirrors[0].headers?.remove, ['authorization']);
});
