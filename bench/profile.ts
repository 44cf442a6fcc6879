// Summarises a V8 CPU profile (`node --cpu-prof`) into where the time went: self time by function
// and by area (Umbra's code, undici, node's http internals, GC, native), for the results file.

import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  /** Busy (non-idle) time in the profile, ms. */
  readonly busyMs: number;
  /** Requests answered while profiled (warm-up included, as the profile is); 0 when unknown. */
  readonly requests?: number;
  readonly areas: { area: string; ms: number; share: number; usPerRequest?: number }[];
  readonly top: { fn: string; where: string; area: string; ms: number; share: number }[];
}

function areaOf(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'gc';
  if (fn === '(program)') return 'native (libuv, syscalls, V8)';
  if (url.includes('node_modules/undici')) return 'undici';
  if (url.includes('/dist/src/proxy/')) return 'umbra proxy';
  if (url.includes('/dist/src/')) return 'umbra other';
  if (url.startsWith('node:internal/http') || url === 'node:_http_server' || url.startsWith('node:_http'))
    return 'node http';
  if (url.startsWith('node:internal/streams') || url.startsWith('node:stream')) return 'node streams';
  if (
    url.startsWith('node:net') ||
    url.startsWith('node:internal/stream_base') ||
    url.startsWith('node:internal/net')
  )
    return 'node net';
  if (url.startsWith('node:')) return 'node other';
  if (url === '') return 'native (libuv, syscalls, V8)';
  return 'other';
}

/** The suffix of a profile's name in Results.profiles when it is the node floor's, not Umbra's. */
export const FLOOR_PROFILE = 'node http + undici alone';

export function summariseProfile(path: string, requests = 0, topN = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++)
    selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  const byFn = new Map<string, { fn: string; where: string; area: string; us: number }>();
  const byArea = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const fn = n.callFrame.functionName || '(anonymous)';
    if (fn === '(idle)') continue;
    busy += us;
    const file = n.callFrame.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/');
    const where = file ? `${file}:${n.callFrame.lineNumber + 1}` : '';
    const area = areaOf(n.callFrame.url, fn);
    const key = `${fn}@${where}`;
    const e = byFn.get(key) ?? { fn, where, area, us: 0 };
    e.us += us;
    byFn.set(key, e);
    byArea.set(area, (byArea.get(area) ?? 0) + us);
  }
  const share = (us: number) => Math.round((1000 * us) / Math.max(1, busy)) / 10;
  const perRequest = (us: number) => (requests > 0 ? Math.round((100 * us) / requests) / 100 : undefined);
  return {
    busyMs: Math.round(busy / 1000),
    requests,
    areas: [...byArea.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({
        area,
        ms: Math.round(us / 1000),
        share: share(us),
        usPerRequest: perRequest(us),
      })),
    top: [...byFn.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((e) => ({
        fn: e.fn,
        where: e.where,
        area: e.area,
        ms: Math.round(e.us / 1000),
        share: share(e.us),
      })),
  };
}
