// Starts a whole Umbra in this process — config loader, proxy listener, admin API — and stops it
// cleanly. Used by `umbra run`, by the demo, and by tests that need the real thing on port 0.

import type { Server } from 'node:http';
import { formatIssue, type ConfigIssue } from '../config/issues.js';
import { startAdmin } from '../admin/admin-server.js';
import { startListener, type Listener } from '../proxy/listener.js';
import { Proxy } from '../proxy/proxy.js';
import { findVirtualHost } from '../proxy/router.js';
import { DEFAULT_MIRROR, type MirrorDefaults } from '../translate/mirror-policies.js';
import { AppliedStore } from './applied-store.js';
import { ConfigLoader } from './config-loader.js';
import { ConfigState } from './config-state.js';

export interface UmbraOptions {
  readonly files: readonly string[];
  readonly listen: { host: string; port: number };
  readonly admin: { host: string; port: number };
  readonly stateDir: string;
  readonly namespace?: string;
  readonly mirror?: Partial<MirrorDefaults>;
  readonly mirrorBodyBudget?: number;
  readonly watch?: boolean;
  readonly adminToken?: string;
  /** Access-log sink; undefined disables access logs. */
  readonly accessLog?: (s: string) => void;
  readonly accessLogFormat?: 'text' | 'json';
  /** Operational messages (reloads, rejected configs). */
  readonly log?: (line: string) => void;
}

export interface Umbra {
  readonly state: ConfigState;
  readonly proxy: Proxy;
  readonly loader: ConfigLoader;
  readonly listener: Listener;
  readonly admin: Server;
  readonly proxyUrl: string;
  readonly adminUrl: string;
  close(drainMs?: number): Promise<void>;
}

export class StartupError extends Error {
  constructor(
    message: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(message);
  }
}

export async function startUmbra(o: UmbraOptions): Promise<Umbra> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const state = new ConfigState();
  const store = new AppliedStore(o.stateDir);
  const storeIssues = store.load();
  const mirrorDefaults = { ...DEFAULT_MIRROR, ...o.mirror };
  const loader = new ConfigLoader(state, {
    paths: o.files,
    store,
    build: { namespace: o.namespace ?? 'default', mirrorDefaults },
    log,
  });
  const first = await loader.reload();
  if (!first.applied) {
    throw new StartupError(`configuration has errors:\n${[...storeIssues, ...first.issues].map((i) => `  ${formatIssue(i)}`).join('\n')}`, first.issues);
  }
  const proxy = new Proxy(state, { mirrorBodyBudget: o.mirrorBodyBudget ?? 64 * 1024 * 1024, accessLog: o.accessLog, accessLogFormat: o.accessLogFormat });
  const listener = await startListener(proxy, findVirtualHost, { host: o.listen.host, port: o.listen.port });
  let admin: Server;
  try {
    admin = await startAdmin({ state, loader, store, proxy, token: o.adminToken }, o.admin.host, o.admin.port);
  } catch (e) {
    await listener.close(0);
    throw e;
  }
  if (o.watch !== false) loader.watch();
  const a = admin.address();
  const adminPort = typeof a === 'object' && a ? a.port : o.admin.port;
  return {
    state,
    proxy,
    loader,
    listener,
    admin,
    proxyUrl: `http://${listener.address.host}:${listener.address.port}`,
    adminUrl: `http://${o.admin.host}:${adminPort}`,
    async close(drainMs = 5_000) {
      loader.close();
      admin.closeAllConnections();
      await Promise.all([listener.close(drainMs), new Promise<void>((ok) => admin.close(() => ok()))]);
      await proxy.close();
    },
  };
}
