// Simulation: ServiceEntry hosts outside the mesh — STATIC endpoints, DNS with endpoints or with
// none (the host itself), NONE, workloadSelector, VIP addresses — routed to and mirrored to.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, issuesAt, sim, table, vs } from './sim.js';

const se = (name: string, body: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${name}
spec:
${body
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
`;

test('STATIC endpoints, with per-endpoint named ports and targetPort', () => {
  const t = table(
    se(
      'payments',
      `hosts: [payments.example.com]
addresses: [240.0.0.7]
ports:
- {number: 80, name: http, protocol: HTTP, targetPort: 8080}
resolution: STATIC
endpoints:
- address: 192.0.2.10
- address: 192.0.2.11
  ports: {http: 9090}`,
    ),
  );
  const cursors = new Map<string, { rr: number }>();
  const a = sim(t, 'http://payments.example.com/charge', {}, { cursors });
  assert.equal(a.cluster, 'outbound|80||payments.example.com');
  assert.equal(a.endpoint, '192.0.2.10:8080');
  assert.equal(sim(t, 'http://payments.example.com/charge', {}, { cursors }).endpoint, '192.0.2.11:9090');
  // The VIP answers like the host name does.
  assert.equal(sim(t, 'http://240.0.0.7/charge').cluster, 'outbound|80||payments.example.com');
});

test('DNS: endpoints are names dialled as written; with none, the host itself is the endpoint; NONE forwards to the host', () => {
  const t = table(`${se(
    'api',
    `hosts: [api.example.com]
ports: [{number: 443, name: http, protocol: HTTP}]
resolution: DNS
endpoints:
- address: eu.api.example.com
- address: us.api.example.com`,
  )}---
${se('ext', `hosts: [ext.example.org]\nports: [{number: 80, name: http}]\nresolution: DNS`)}---
${se('pass', `hosts: [pass.example.net]\nports: [{number: 8080, name: http}]\nresolution: NONE`)}`);
  assert.equal(sim(t, 'http://api.example.com:443/').endpoint, 'eu.api.example.com:443');
  assert.equal(sim(t, 'http://ext.example.org/').endpoint, 'ext.example.org:80');
  assert.equal(sim(t, 'http://pass.example.net:8080/').endpoint, 'pass.example.net:8080');
});

test('workloadSelector picks WorkloadEntries by label; a VirtualService routes and mirrors to ServiceEntry hosts', () => {
  const t = table(`${se(
    'legacy',
    `hosts: [legacy.corp]
ports: [{number: 80, name: http}]
resolution: STATIC
workloadSelector:
  labels: {app: legacy}`,
  )}---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: vm-1
spec:
  address: 172.16.0.5
  labels: {app: legacy, version: old}
  ports: {http: 8081}
---
${se('shadow', `hosts: [shadow.corp]\nports: [{number: 80, name: http}]\nresolution: STATIC\nendpoints: [{address: 172.16.0.9}]`)}---
${vs('legacy', ['legacy.corp'], `- route:\n  - destination: {host: legacy.corp}\n  mirror: {host: shadow.corp}`)}`);
  const r = sim(t, 'http://legacy.corp/x');
  assert.equal(r.endpoint, '172.16.0.5:8081');
  assert.deepEqual(
    r.mirrors.map((m) => [m.cluster, m.authority]),
    [['outbound|80||shadow.corp', 'legacy.corp-shadow']],
  );
});

test('STATIC needs IP endpoints; wildcard hosts and DYNAMIC_DNS are reported; STATIC without endpoints is analysed', () => {
  const c =
    compile(`${se('bad', `hosts: [bad.example.com]\nports: [{number: 80, name: http}]\nresolution: STATIC\nendpoints: [{address: not-an-ip.example.com}]`)}---
${se('wild', `hosts: ["*.wild.example.com", ok.wild.example.com]\nports: [{number: 80, name: http}]\nresolution: DYNAMIC_DNS`)}---
${se('empty', `hosts: [empty.example.com]\nports: [{number: 80, name: http}]\nresolution: STATIC`)}`);
  const bad = issuesAt(c, 'spec.endpoints[0].address');
  assert.equal(bad[0].severity, 'error');
  assert.match(bad[0].message, /not an IP address/);
  assert.match(issuesAt(c, 'spec.hosts[0]')[0].message, /wildcard host/);
  assert.match(
    issuesAt(c, 'spec.resolution').find((i) => i.resource.endsWith('/wild'))!.message,
    /DYNAMIC_DNS/,
  );
  const empty = issuesAt(c, 'spec.resolution').find((i) => i.resource.endsWith('/empty'));
  assert.match(empty!.message, /resolve to no endpoint/);
  assert.ok(empty!.hint);
});
