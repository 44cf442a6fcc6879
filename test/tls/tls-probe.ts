// Client-side probes for TLS tests: a handshake with a given SNI and ALPN offer, verified against a
// test CA, reporting the certificate served; and a raw plaintext request to a TLS port.

import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { connect as netConnect } from 'node:net';

export interface Handshake {
  readonly authorized: boolean;
  readonly alpn: string | false | null;
  readonly protocol: string | null;
  readonly cert: PeerCertificate;
}

/** Connects to 127.0.0.1:port as `servername`, verifying the chain and name against `ca`. */
export function handshake(
  port: number,
  servername: string,
  ca: string,
  alpn: string[] = ['h2', 'http/1.1'],
  /** false: report the certificate without checking it (a name a wildcard certificate cannot cover). */
  verify = true,
): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const opts = { host: '127.0.0.1', port, servername, ca, ALPNProtocols: alpn, rejectUnauthorized: verify };
    const s = tlsConnect(opts, () => {
      const r = {
        authorized: s.authorized,
        alpn: s.alpnProtocol,
        protocol: s.getProtocol(),
        cert: s.getPeerCertificate(),
      };
      s.end();
      resolve(r);
    });
    s.once('error', reject);
    s.setTimeout(10_000, () => s.destroy(new Error('handshake timed out')));
  });
}

/** Sends a plaintext HTTP request to a port; resolves with whatever came back before the close. */
export function plaintextRequest(port: number, host: string): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = netConnect({ host: '127.0.0.1', port }, () =>
      s.write(`GET /headers HTTP/1.1\r\nhost: ${host}\r\n\r\n`),
    );
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => undefined);
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    s.setTimeout(10_000, () => s.destroy());
  });
}
