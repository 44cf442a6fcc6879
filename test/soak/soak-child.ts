// A whole Umbra alone in a child process (run with --expose-gc), so a soak measures Umbra's own
// memory and handles and nothing of the load generator or the upstreams. Answers the parent over
// IPC: `measure` (after full GCs: RSS, heap, open fds, active resources, mirror counters), `stop`.
// Usage: node --expose-gc soak-child.js <config dir> <state dir> [mirror timeout ms]

import { readdirSync, readFileSync } from 'node:fs';
import { startUmbra } from '../../src/runtime/umbra.js';

export interface SoakMeasure {
  readonly rss: number;
  /**
   * The anonymous part of RSS (/proc/self/status RssAnon): what the process allocated. The rest is
   * file-backed — pages of the node binary, whose code paths (the optimizing compilers' among them)
   * fault in as more code runs; on Node 24's larger binary that alone grew RSS by ~40 MiB over a
   * soak whose heap came back to its baseline.
   */
  readonly rssAnon: number;
  readonly heapUsed: number;
  /** V8 heap committed (used + free pages V8 keeps). */
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
  /** Open file descriptors (/proc/self/fd): sockets, files, pipes, watchers. */
  readonly fds: number;
  /** process.getActiveResourcesInfo(): handles and requests keeping the loop alive, by type. */
  readonly resources: Record<string, number>;
  readonly mirrorInFlight: number;
  readonly mirror: unknown;
}

export type ToChild = { type: 'measure' } | { type: 'stop' };
export type FromChild =
  { type: 'ready'; port: number; adminUrl: string } | { type: 'measured'; m: SoakMeasure };

const [dir, stateDir, mirrorTimeout] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const u = await startUmbra({
  files: [dir],
  listen: { host: '127.0.0.1', port: 0 },
  admin: { host: '127.0.0.1', port: 0 },
  stateDir,
  watch: false,
  log: () => undefined,
  mirror: { timeoutMs: Number(mirrorTimeout ?? 1_000) },
});

function send(m: FromChild): void {
  process.send!(m);
}

async function measure(): Promise<SoakMeasure> {
  // Two full collections with turns of the event loop between them (finalizers, weak refs).
  for (let i = 0; i < 3; i++) {
    gc!();
    await new Promise((ok) => setImmediate(ok));
  }
  const mem = process.memoryUsage();
  const resources: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1;
  let mirrorInFlight = 0;
  const mirror: Record<string, unknown> = {};
  for (const [name, c] of u.proxy.mirrors.counters) {
    mirrorInFlight += c.inFlight;
    mirror[name] = {
      considered: c.considered,
      sent: c.sent,
      inFlight: c.inFlight,
      dropped: c.dropped,
      failed: c.failed,
      completed: c.completed,
    };
  }
  const anonKb = /^RssAnon:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return {
    rss: mem.rss,
    rssAnon: Number(anonKb ?? NaN) * 1024,
    heapUsed: mem.heapUsed,
    heapTotal: mem.heapTotal,
    external: mem.external,
    arrayBuffers: mem.arrayBuffers,
    fds: readdirSync('/proc/self/fd').length,
    resources,
    mirrorInFlight,
    mirror,
  };
}

process.on('message', (m: ToChild) => {
  if (m.type === 'measure') void measure().then((r) => send({ type: 'measured', m: r }));
  if (m.type === 'stop') void u.close(1_000).then(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', port: u.listener.address.port, adminUrl: u.adminUrl });
