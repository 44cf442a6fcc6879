// Helpers for issue 5's tests: a MirrorPolicy for the "app" mesh of mesh-yaml.ts, a fixed workload
// whose primary responses can be compared byte for byte between runs, and a small reader of
// Prometheus text exposition.

import { createHash } from 'node:crypto';
import { Pool, request } from 'undici';

/** A MirrorPolicy for subset v2 of "app"; `spec` lines are YAML under `spec:` (indented by 2 here). */
export function mirrorPolicy(spec: string, name = 'app-v2'): string {
  const body = spec
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => `  ${l}`)
    .join('\n');
  return `apiVersion: umbra.dev/v1alpha1
kind: MirrorPolicy
metadata:
  name: ${name}
spec:
  targetRefs:
  - group: networking.istio.io
    kind: DestinationRule
    name: app
    sectionName: v2
${body}
`;
}

/** Deterministic bytes (the same on every run), so bodies and their hashes can be compared. */
export function patternBytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export interface WorkloadStep {
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly path: string;
  readonly bodyBytes?: number;
}

export interface PrimaryResponse {
  readonly status: number;
  /** Response headers without `date` (the clock is the only thing allowed to differ). */
  readonly headers: Record<string, string | string[] | undefined>;
  readonly bodySha256: string;
  readonly bodyBytes: number;
}

/** Runs the steps in order on one keep-alive connection (so a copy that blocked the connection would show). */
export async function runWorkload(
  proxyUrl: string,
  steps: readonly WorkloadStep[],
  host = 'app:8000',
): Promise<PrimaryResponse[]> {
  const pool = new Pool(proxyUrl, { connections: 1 });
  const out: PrimaryResponse[] = [];
  try {
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i];
      const body = s.bodyBytes !== undefined ? patternBytes(s.bodyBytes, i + 1) : undefined;
      const r = await pool.request({
        method: s.method,
        path: s.path,
        body,
        headers: {
          host,
          'x-request-id': `workload-${i}`,
          'user-agent': 'mirror-safety',
          ...(body ? { 'content-type': 'application/octet-stream' } : {}),
        },
      });
      const hash = createHash('sha256');
      let n = 0;
      for await (const c of r.body) {
        hash.update(c as Buffer);
        n += (c as Buffer).length;
      }
      const { date: _date, ...headers } = r.headers;
      out.push({ status: r.statusCode, headers, bodySha256: hash.digest('hex'), bodyBytes: n });
    }
  } finally {
    await pool.close();
  }
  return out;
}

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses Prometheus text exposition (what /stats/prometheus serves) into samples. */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]] = l[2].replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1], labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return out;
}

/** Sum of the samples named `name` whose labels include `match`. */
export function sumOf(
  samples: readonly Sample[],
  name: string,
  match: Readonly<Record<string, string>> = {},
): number {
  let total = 0;
  for (const s of samples)
    if (s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)) total += s.value;
  return total;
}

export async function scrape(
  adminUrl: string,
): Promise<{ contentType: string; samples: Sample[]; text: string }> {
  const r = await request(`${adminUrl}/stats/prometheus`);
  const text = await r.body.text();
  if (r.statusCode !== 200) throw new Error(`/stats/prometheus answered ${r.statusCode}: ${text}`);
  return { contentType: String(r.headers['content-type']), samples: parsePrometheus(text), text };
}
