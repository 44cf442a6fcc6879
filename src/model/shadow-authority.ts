// Derives the Host/authority of a mirrored request from the primary's, following Envoy's
// shadow-writer rule (the one Istio's mirroring task describes: "cluster-1" → "cluster-1-shadow").

import type { ShadowAuthority } from './route-table.js';

/**
 * Insert `suffix` before the port, if there is one. Envoy's rule: find the last ':'; with none,
 * append. If there is no ']' or the last ']' comes before that ':', the colon starts a port, so
 * insert before it; otherwise (a bare IPv6 literal like "[::1]") append.
 */
export function appendBeforePort(authority: string, suffix: string): string {
  const colon = authority.lastIndexOf(':');
  if (colon === -1) return authority + suffix;
  const bracket = authority.lastIndexOf(']');
  if (bracket === -1 || bracket < colon) return authority.slice(0, colon) + suffix + authority.slice(colon);
  return authority + suffix;
}

export function shadowAuthority(policy: ShadowAuthority, authority: string): string {
  switch (policy.mode) {
    case 'suffix':
      return appendBeforePort(authority, policy.suffix);
    case 'keep':
      return authority;
    case 'literal':
      return policy.value;
    case 'template': {
      const { host, port } = splitAuthority(authority);
      return policy.template.replaceAll('${host}', host).replaceAll('${port}', port ? `:${port}` : '');
    }
  }
}

/** Splits "host:port" / "[v6]:port" / "host" into host and port string ('' when absent). */
export function splitAuthority(authority: string): { host: string; port: string } {
  const colon = authority.lastIndexOf(':');
  if (colon === -1) return { host: authority, port: '' };
  const bracket = authority.lastIndexOf(']');
  if (bracket !== -1 && bracket > colon) return { host: authority, port: '' };
  return { host: authority.slice(0, colon), port: authority.slice(colon + 1) };
}
