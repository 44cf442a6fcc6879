// Reads certificates out of `kubernetes.io/tls` Secrets (data tls.crt / tls.key, base64 as kubectl
// writes them) and checks them the way a TLS server will use them: a parsable chain, a parsable key,
// and a key that belongs to the first certificate. Messages never quote the Secret's content.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { Resource } from '../config/resource.js';
import type { SecretSpec } from '../config/schemas/kubernetes.js';

export type SecretCertificate =
  | { readonly ok: true; readonly certPem: string; readonly keyPem: string }
  | { readonly ok: false; readonly missing: boolean; readonly message: string };

function value(s: SecretSpec, key: string): string | undefined {
  // stringData wins over data, as the API server merges it on write.
  const plain = s.stringData?.[key];
  if (plain !== undefined) return plain;
  const b64 = s.data?.[key];
  return b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8');
}

export function findSecret(
  resources: readonly Resource[],
  namespace: string,
  name: string,
): Resource<SecretSpec> | undefined {
  return resources.find(
    (r) => r.kind === 'Secret' && r.metadata.namespace === namespace && r.metadata.name === name,
  ) as Resource<SecretSpec> | undefined;
}

/** The certificate chain and key of Secret `namespace/name`, or why it cannot serve TLS. */
export function secretCertificate(
  resources: readonly Resource[],
  namespace: string,
  name: string,
  /** Other key names also accepted (Istio credentialName Secrets may say `cert` / `key`). */
  alt?: { cert: string; key: string },
): SecretCertificate {
  const secret = findSecret(resources, namespace, name);
  const id = `Secret ${namespace}/${name}`;
  if (!secret) return { ok: false, missing: true, message: `${id} does not exist` };
  const certPem = value(secret.spec, 'tls.crt') ?? (alt ? value(secret.spec, alt.cert) : undefined);
  const keyPem = value(secret.spec, 'tls.key') ?? (alt ? value(secret.spec, alt.key) : undefined);
  if (!certPem || !keyPem)
    return {
      ok: false,
      missing: false,
      message: `${id} has no ${!certPem ? 'tls.crt' : 'tls.key'} (a kubernetes.io/tls Secret needs tls.crt and tls.key)`,
    };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return { ok: false, missing: false, message: `${id}: tls.crt is not a PEM certificate` };
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(keyPem)))
      return {
        ok: false,
        missing: false,
        message: `${id}: tls.key does not match the certificate in tls.crt`,
      };
  } catch {
    return { ok: false, missing: false, message: `${id}: tls.key is not a PEM private key` };
  }
  return { ok: true, certPem, keyPem };
}
