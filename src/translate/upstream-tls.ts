// TLS to upstreams from a DestinationRule's `tls` (ClientTLSSettings): SIMPLE (verify the server)
// and MUTUAL (also present a client certificate), from PEM files or a credentialName Secret —
// Istio reads that Secret from the client proxy's namespace, with tls.crt/tls.key/ca.crt (or the
// generic cert/key/cacert keys). ISTIO_MUTUAL needs a mesh CA: out of scope (reported by validate.ts).

import type { ConfigIssue } from '../config/issues.js';
import type { Resource } from '../config/resource.js';
import type { SecretSpec } from '../config/schemas/kubernetes.js';
import type { Cluster } from '../model/route-table.js';
import { issueAt } from './issue-at.js';
import { findSecret, secretCertificate } from './tls-secrets.js';

export interface ClientTls {
  mode?: string;
  sni?: string;
  insecureSkipVerify?: boolean;
  caCertificates?: string;
  subjectAltNames?: string[];
  clientCertificate?: string;
  privateKey?: string;
  credentialName?: string;
}

/** The JSON path of `target` inside `root` (found by identity), for pointing issues at it. */
function pathOf(root: unknown, target: unknown, at = 'spec'): string | undefined {
  if (root === target) return at;
  if (typeof root !== 'object' || root === null) return undefined;
  for (const [k, v] of Object.entries(root)) {
    const p = pathOf(v, target, Array.isArray(root) ? `${at}[${k}]` : `${at}.${k}`);
    if (p) return p;
  }
  return undefined;
}

function caOf(secret: Resource<SecretSpec> | undefined): string | undefined {
  const s = secret?.spec;
  const b64 = s?.data?.['ca.crt'] ?? s?.data?.cacert;
  return (
    s?.stringData?.['ca.crt'] ??
    s?.stringData?.cacert ??
    (b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined)
  );
}

export function upstreamTls(
  t: ClientTls | undefined,
  dr: Resource | undefined,
  resources: readonly Resource[],
  proxyNamespace: string,
  issues: ConfigIssue[],
): Cluster['tls'] {
  if (!t || (t.mode !== 'SIMPLE' && t.mode !== 'MUTUAL')) return undefined;
  const base = {
    mode: t.mode,
    sni: t.sni,
    insecureSkipVerify: t.insecureSkipVerify,
    caCertificates: t.caCertificates,
    subjectAltNames: t.subjectAltNames,
  } as const;
  const at = (dr && pathOf(dr.spec, t)) ?? 'spec';
  const warn = (path: string, message: string, hint: string) => {
    if (dr) issues.push(issueAt(dr, path, 'warning', message, hint));
  };
  if (t.credentialName) {
    // The proxy's namespace first (Istio's rule for sidecars), then the DestinationRule's own.
    const namespaces = [...new Set([proxyNamespace, dr?.metadata.namespace ?? proxyNamespace])];
    const ns = namespaces.find((n) => findSecret(resources, n, t.credentialName!)) ?? namespaces[0];
    const secret = findSecret(resources, ns, t.credentialName);
    const caPem = caOf(secret);
    if (t.mode === 'SIMPLE') {
      if (!caPem)
        warn(
          `${at}.credentialName`,
          `Secret ${ns}/${t.credentialName} ${secret ? 'has no ca.crt' : 'does not exist'}`,
          "the upstream's certificate is checked against the default CAs",
        );
      return {
        ...base,
        ...(caPem ? { credential: { source: `Secret ${ns}/${t.credentialName}`, caPem } } : {}),
      };
    }
    const c = secretCertificate(resources, ns, t.credentialName, { cert: 'cert', key: 'key' });
    if (!c.ok) {
      warn(
        `${at}.credentialName`,
        c.message,
        'connections are made without a client certificate, which a mutual-TLS upstream refuses (503 UF)',
      );
      return base;
    }
    return {
      ...base,
      credential: { source: `Secret ${ns}/${t.credentialName}`, certPem: c.certPem, keyPem: c.keyPem, caPem },
    };
  }
  if (t.mode === 'MUTUAL' && (!t.clientCertificate || !t.privateKey))
    warn(
      at,
      'MUTUAL needs clientCertificate and privateKey (PEM files) or credentialName',
      'connections are made without a client certificate, which a mutual-TLS upstream refuses (503 UF)',
    );
  if (t.mode === 'SIMPLE') return base;
  return {
    ...base,
    ...(t.clientCertificate ? { clientCertificate: t.clientCertificate } : {}),
    ...(t.privateKey ? { privateKey: t.privateKey } : {}),
  };
}
