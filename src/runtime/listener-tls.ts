// TLS termination for gateway listeners: the certificate for each connection is picked by SNI from
// the table current at the handshake, so a rotated Secret reaches new connections as soon as its
// table is published (no restart). Defaults follow Mozilla's "intermediate" server profile.

import { createSecureContext, type SecureContext, type TlsOptions, type TLSSocket } from 'node:tls';
import type { Server } from 'node:tls';
import type { GatewayListener, ServerCertificate } from '../model/route-table.js';
import type { SecureListenerOptions } from '../proxy/listener.js';

/**
 * Mozilla Server Side TLS "intermediate" (guideline 5.7): TLS 1.2 with ECDHE + AEAD suites only,
 * TLS 1.3 with its three suites; the client's order is kept (its hardware knows best).
 * DHE suites are left out: they need DH parameters, and every client of this decade has ECDHE.
 */
export const INTERMEDIATE_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Settings every TLS listener shares (and every secure context it makes). */
export const TLS_DEFAULTS = {
  minVersion: 'TLSv1.2',
  ciphers: INTERMEDIATE_CIPHERS,
  ecdhCurve: 'X25519:prime256v1:secp384r1',
  honorCipherOrder: false,
} as const satisfies TlsOptions;

/** ALPN protocols offered, in the server's order of preference (RFC 7301 §3.2). */
export const ALPN_PROTOCOLS = ['h2', 'http/1.1'];

/** A whole handshake must fit in this; a client that stalls in it is cut (slowloris before HTTP). */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * The certificates serving `servername` (lower case, or '' when the client sent none): exact names
 * first, then the longest wildcard suffix, then the listener without a hostname ("*") — the
 * Gateway API's listener precedence (ListenerSpec.hostname), which Istio's server hosts follow too.
 */
export function certificatesFor(all: readonly ServerCertificate[], servername: string): ServerCertificate[] {
  if (servername) {
    const exact = all.filter((c) => c.hostname === servername);
    if (exact.length) return exact;
    let best = '';
    for (const c of all)
      if (c.hostname.startsWith('*.') && servername.endsWith(c.hostname.slice(1)))
        if (c.hostname.length > best.length) best = c.hostname;
    if (best) return all.filter((c) => c.hostname === best);
  }
  return all.filter((c) => c.hostname === '*');
}

export interface ListenerTlsRuntime {
  /** Options for node's TLS server. */
  readonly options: TlsOptions;
  /** After a table swap: the default certificate (for clients without SNI) follows the table. */
  refresh(server: Server): void;
  /** True when a finished handshake may go on to HTTP (a client without SNI needs a "*" certificate). */
  admit(socket: TLSSocket): boolean;
}

/** TLS for the listener `current()` returns (the one in the table in force at each handshake). */
export function listenerTls(current: () => GatewayListener | undefined): ListenerTlsRuntime {
  // One secure context per certificate group, kept for as long as its table is in use.
  const contexts = new WeakMap<GatewayListener, Map<string, SecureContext>>();
  let defaultKey = '';
  const contextFor = (gl: GatewayListener, certs: ServerCertificate[]): SecureContext => {
    let m = contexts.get(gl);
    if (!m) contexts.set(gl, (m = new Map()));
    const key = certs[0].hostname;
    let ctx = m.get(key);
    if (!ctx)
      m.set(
        key,
        (ctx = createSecureContext({
          ...TLS_DEFAULTS,
          // Several certificates for one name (say RSA and ECDSA): OpenSSL picks by what the client supports.
          cert: certs.map((c) => c.certPem),
          key: certs.map((c) => c.keyPem),
        })),
      );
    return ctx;
  };
  return {
    options: {
      ...TLS_DEFAULTS,
      ALPNProtocols: ALPN_PROTOCOLS,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      SNICallback(servername, cb) {
        const gl = current();
        const certs = gl?.tls ? certificatesFor(gl.tls.certificates, servername.toLowerCase()) : [];
        // No certificate for the name: the handshake fails (Envoy: no filter chain matches).
        if (!gl || certs.length === 0) return cb(new Error(`no certificate for server name "${servername}"`));
        try {
          cb(null, contextFor(gl, certs));
        } catch (e) {
          cb(e as Error);
        }
      },
    },
    refresh(server) {
      const gl = current();
      const certs = gl?.tls ? certificatesFor(gl.tls.certificates, '') : [];
      const key = certs.map((c) => c.certPem + c.keyPem).join('\n');
      if (certs.length === 0 || key === defaultKey) return;
      defaultKey = key;
      server.setSecureContext({
        ...TLS_DEFAULTS,
        cert: certs.map((c) => c.certPem),
        key: certs.map((c) => c.keyPem),
      });
    },
    admit(socket) {
      if (socket.servername) return true;
      const gl = current();
      return gl?.tls ? certificatesFor(gl.tls.certificates, '').length > 0 : false;
    },
  };
}

/**
 * The listener's TLS side (handed to startListener as `secure`): Umbra's HTTP limits behind the
 * handshake. A client speaking plaintext fails the handshake and is closed — it is never served as
 * HTTP — and one the listener must not admit is closed before any HTTP is read.
 */
export function secureListener(tls: ListenerTlsRuntime): SecureListenerOptions {
  return { options: tls.options, admit: (s) => tls.admit(s) };
}
