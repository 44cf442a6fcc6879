// The TLS examples docs/tls.md walks through load as documented: the seed's Gateway API half and its
// Istio half (with --labels) each become an HTTPS listener on 8443 serving httpbin.example.test with
// the Secret the example names, mirrored to v2.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadText } from '../../src/config/load.js';
import { buildRouteTable } from '../../src/translate/build-table.js';
import { DEFAULT_MIRROR } from '../../src/translate/mirror-policies.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { createTestCa, tlsSecretYaml } from '../helpers/tls-certs.js';
import { simulate } from '../translate/gateway-api-sim.js';

const file = (p: string) => readFileSync(join(REPO_ROOT, p), 'utf8');

function build(texts: string[], labels?: Record<string, string>) {
  const resources = texts.flatMap((t, i) => {
    const r = loadText(t, `doc${i}.yaml`);
    assert.deepEqual(
      r.issues.filter((x) => x.severity === 'error'),
      [],
    );
    return r.resources;
  });
  return buildRouteTable(resources, {
    namespace: 'default',
    mirrorDefaults: DEFAULT_MIRROR,
    version: 1,
    labels,
  });
}

test('docs/tls.md examples: both halves of the seed over HTTPS on 8443', () => {
  const ca = createTestCa();
  const pair = ca.issue(['httpbin.example.test']);
  try {
    const common = [file('examples/seed/service.yaml'), file('examples/seed/workloads.yaml')];
    const gw = build([
      ...common,
      file('examples/seed/gateway-api-route-v1.yaml'),
      tlsSecretYaml('httpbin-cert', pair),
      file('examples/tls/gateway-api-https.yaml'),
    ]);
    const istio = build(
      [
        ...common,
        file('examples/seed/route-v1.yaml'),
        tlsSecretYaml('httpbin-credential', pair),
        file('examples/tls/istio-gateway.yaml'),
      ],
      { istio: 'ingressgateway' },
    );
    for (const b of [gw, istio]) {
      const l = b.table.gatewayListeners.find((x) => x.port === 8443)!;
      assert.ok(l, 'an HTTPS listener on 8443');
      assert.deepEqual(
        l.tls?.certificates.map((c) => c.hostname),
        ['httpbin.example.test'],
      );
      const r = simulate(b.table, { host: 'httpbin.example.test:8443', path: '/headers', gatewayPort: 8443 });
      assert.equal(r.outcome.kind, 'forward');
      if (r.outcome.kind === 'forward') assert.equal(r.outcome.mirrors.length, 1);
    }
    const redirect = simulate(istio.table, {
      host: 'httpbin.example.test:8080',
      path: '/x',
      gatewayPort: 8080,
    });
    assert.equal(redirect.outcome.kind, 'redirect');
  } finally {
    ca.close();
  }
});
