// A small JSON application in two versions for shadow-comparison tests: v2 answers "plan": "pro"
// where v1 answers "free" on /users/{id}, and every answer on every endpoint carries a random
// "nonce". Plus the YAML that mirrors it to a baseline (v1) and a candidate (v2) with comparison.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Pool } from 'undici';

export interface VersionedService {
  readonly port: number;
  /** "METHOD url marker" per request; marker is the x-umbra-mirror header or "primary". */
  readonly seen: string[];
  close(): Promise<void>;
}

export async function startVersionedService(version: 'v1' | 'v2'): Promise<VersionedService> {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers['x-umbra-mirror'] ?? 'primary'}`);
    const url = new URL(req.url ?? '/', 'http://x');
    const users = /^\/users\/(\d+)$/.exec(url.pathname);
    const orders = /^\/orders\/(\d+)$/.exec(url.pathname);
    let body: unknown;
    if (users)
      body = {
        id: Number(users[1]),
        name: `user-${users[1]}`,
        plan: version === 'v2' ? 'pro' : 'free',
        nonce: randomUUID(),
      };
    else if (orders)
      body = { id: Number(orders[1]), items: [{ sku: 'A-1', qty: 2 }], total: 19.5, nonce: randomUUID() };
    else {
      res.writeHead(404).end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'set-cookie': `sid=${randomUUID()}`,
    });
    res.end(text);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

/** Rule YAML (for routeToV1): mirror every request to v1 (the baseline) and to v2 (the candidate). */
export const BASELINE_AND_CANDIDATE = `mirrors:
- destination:
    host: app
    subset: v1
- destination:
    host: app
    subset: v2`;

/** A MirrorPolicy for app's v2 subset: strips Authorization from copies; compares when enabled. */
export function comparePolicy(enabled: boolean): string {
  return `apiVersion: umbra.dev/v1alpha1
kind: MirrorPolicy
metadata:
  name: app-v2
spec:
  targetRefs:
  - group: networking.istio.io
    kind: DestinationRule
    name: app
    sectionName: v2
  headers:
    remove: [authorization]
  compare:
    enabled: ${enabled}
    baseline:
      host: app
      subset: v1
`;
}

/** Sends `n` requests to each endpoint through the proxy; calls `check` on every answer. */
export async function sendTraffic(
  proxyUrl: string,
  n: number,
  check?: (path: string, status: number, body: { plan?: string }) => void,
): Promise<void> {
  const pool = new Pool(proxyUrl, { connections: 8 });
  try {
    let next = 0;
    const worker = async () => {
      while (next < 2 * n) {
        const i = next++;
        const path = i % 2 === 0 ? `/users/${i}` : `/orders/${i}`;
        const r = await pool.request({
          path,
          method: 'GET',
          headers: { host: 'app:8000', authorization: 'Bearer user-token' },
        });
        const body = (await r.body.json()) as { plan?: string };
        check?.(path, r.statusCode, body);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
  } finally {
    await pool.close();
  }
}
