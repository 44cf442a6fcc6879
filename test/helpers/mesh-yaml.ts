// YAML builders for integration tests: a service "app" with v1/v2 workloads on given ports, a
// DestinationRule with both subsets, and a VirtualService routing to v1 with an optional mirror.

import { serviceWith, workloadEntry } from './umbra.js';

export function twoVersionService(v1Port: number, v2Port: number, name = 'app', port = 8000): string {
  const members = [
    { name: `${name}-v1`, port: v1Port, labels: { version: 'v1' } },
    { name: `${name}-v2`, port: v2Port, labels: { version: 'v2' } },
  ];
  return `${serviceWith(name, members, port)}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ${name}
spec:
  host: ${name}
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
`;
}

/** A VirtualService sending everything to v1; `mirror` is YAML placed under the rule (indented 4). */
export function routeToV1(mirror = '', name = 'app'): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
spec:
  hosts:
  - ${name}
  http:
  - route:
    - destination:
        host: ${name}
        subset: v1
${mirror
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => `    ${l}`)
  .join('\n')}
`;
}

export const MIRROR_V2 = `mirror:
  host: app
  subset: v2`;

/**
 * A service "upload" with v1 and v2 workloads — its port named http2 (h2c) or http (HTTP/1.1) —
 * every request to v1, mirrored to v2.
 */
export function mirroredUpload(v1Port: number, v2Port: number, protocol: 'http' | 'http2'): string {
  return `apiVersion: v1
kind: Service
metadata: {name: upload}
spec:
  selector: {app: upload}
  ports: [{name: ${protocol}, port: 8000}]
---
${workloadEntry('upload-v1', v1Port, { app: 'upload', version: 'v1' }, protocol)}---
${workloadEntry('upload-v2', v2Port, { app: 'upload', version: 'v2' }, protocol)}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: upload}
spec:
  host: upload
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: upload}
spec:
  hosts: [upload]
  http:
  - route: [{destination: {host: upload, subset: v1}}]
    mirror: {host: upload, subset: v2}
`;
}
