// Certificates for TLS tests, made with the openssl CLI at test time: a throw-away CA and leaf
// certificates it signs (subjectAltName DNS names), plus the Secret YAML exactly as
// `kubectl create secret tls NAME --cert --key --dry-run=client -o yaml` prints it.

import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from './scratch.js';

export interface KeyPair {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface TestCa extends KeyPair {
  /** A leaf certificate for these DNS names (the first is also the CN), signed by this CA. */
  issue(names: readonly string[], opts?: { clientAuth?: boolean; uris?: readonly string[] }): KeyPair;
  close(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function createTestCa(name = 'Umbra Test CA'): TestCa {
  const dir = scratchDir('umbra-ca-');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key']);
  openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-key',
    'ca.key',
    '-sha256',
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    'ca.crt',
  ]);
  let serial = 0;
  return {
    certPem: read('ca.crt'),
    keyPem: read('ca.key'),
    issue(names, opts = {}) {
      const n = ++serial;
      const san = [...names.map((d) => `DNS:${d}`), ...(opts.uris ?? []).map((u) => `URI:${u}`)].join(',');
      writeFileSync(
        join(dir, `leaf${n}.ext`),
        `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=${opts.clientAuth ? 'clientAuth' : 'serverAuth'}\n`,
      );
      openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `leaf${n}.key`]);
      openssl(dir, [
        'req',
        '-new',
        '-key',
        `leaf${n}.key`,
        '-subj',
        `/CN=${names[0] ?? 'client'}`,
        '-out',
        `leaf${n}.csr`,
      ]);
      openssl(dir, [
        'x509',
        '-req',
        '-in',
        `leaf${n}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-set_serial',
        String(1000 + n),
        '-days',
        '2',
        '-sha256',
        '-extfile',
        `leaf${n}.ext`,
        '-out',
        `leaf${n}.crt`,
      ]);
      // PKCS#8, as most tools write keys today (node and Envoy read both).
      openssl(dir, ['pkcs8', '-topk8', '-nocrypt', '-in', `leaf${n}.key`, '-out', `leaf${n}.pk8`]);
      return { certPem: read(`leaf${n}.crt`), keyPem: read(`leaf${n}.pk8`) };
    },
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** What `kubectl create secret tls NAME --cert=... --key=... [-n NS] --dry-run=client -o yaml` prints. */
export function tlsSecretYaml(name: string, pair: KeyPair, namespace?: string): string {
  return `apiVersion: v1
data:
  tls.crt: ${b64(pair.certPem)}
  tls.key: ${b64(pair.keyPem)}
kind: Secret
metadata:
  creationTimestamp: null
  name: ${name}
${namespace ? `  namespace: ${namespace}\n` : ''}type: kubernetes.io/tls
`;
}
