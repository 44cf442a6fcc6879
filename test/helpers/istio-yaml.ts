// YAML and upstream builders for the Istio traffic-management integration tests (test/e2e/istio-*):
// a service with any number of workloads on loopback, DestinationRules and VirtualServices, and
// upstreams that fail on purpose (N failures then success, held requests released on demand).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { startRecordingServer, type RecordedRequest, type TestServer } from './servers.js';

export { serviceWith, type Member } from './umbra.js';

/** A DestinationRule for `host` whose trafficPolicy is `policy` (YAML, unindented) and optional subsets. */
export function destinationRule(host: string, policy: string, subsets = ''): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ${host}
spec:
  host: ${host}
  trafficPolicy:
${policy
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => `    ${l}`)
  .join('\n')}
${subsets}`;
}

/** A VirtualService for `host` with `http` rules given as YAML list items (unindented). */
export function virtualService(host: string, http: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${host}
spec:
  hosts: [${host}]
  http:
${http
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => `  ${l}`)
  .join('\n')}
`;
}

/** Answers `failures` requests with `status` (after reading the body), then 200 with the body's hash. */
export function startFlakyServer(failures: number, status = 503): Promise<TestServer> {
  let seen = 0;
  return startRecordingServer((req, res, rec) => {
    req.on('end', () => {
      const n = ++seen;
      if (res.destroyed) return;
      const body = JSON.stringify({
        n,
        attempt: rec.headers['x-envoy-attempt-count'],
        bodyBytes: rec.bodyBytes,
        bodySha256: rec.bodySha256,
      });
      res.writeHead(n <= failures ? status : 200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    });
  });
}

/** Holds every request (headers read) until `release()`; then answers each 200. */
export async function startGatedServer(): Promise<TestServer & { held(): number; release(): void }> {
  const waiting: { req: IncomingMessage; res: ServerResponse; rec: RecordedRequest }[] = [];
  let open = false;
  const answer = (res: ServerResponse) => {
    if (!res.destroyed) res.end('released');
  };
  const s = await startRecordingServer((req, res, rec) => {
    req.resume();
    if (open) answer(res);
    else waiting.push({ req, res, rec });
  });
  return Object.assign(s, {
    held: () => waiting.length,
    release: () => {
      open = true;
      for (const w of waiting.splice(0)) answer(w.res);
    },
  });
}
