// Starts a whole Umbra in this process — config loader, proxy listener, admin API — and stops it
// cleanly. Used by `umbra run`, by the demo, and by tests that need the real thing on port 0.

import type { Server } from 'node:http';
import { formatIssue } from '../config/issues.js';
import { startAdmin } from '../admin/admin-server.js';
import { startListener, type Listener } from '../proxy/listener.js';
import { Proxy } from '../proxy/proxy.js';
import { startRecording } from '../record/start.js';
import type { DownstreamOptions } from '../proxy/downstream-options.js';
import { findVirtualHost } from '../proxy/router.js';
import type { MirrorDefaults } from '../translate/mirror-policies.js';
import { ConfigLoader } from './config-loader.js';
import { ConfigState } from './config-state.js';
import { startGatewayListeners, type GatewayListeners } from './gateway-listeners.js';
import { selfAddresses } from './self-addresses.js';
import { openControlPlaneSources } from './control-plane-sources.js';
import { StartupError } from './startup-error.js';
import { Telemetry } from '../telemetry/telemetry.js';
import type { KubernetesOptions } from '../kubernetes/kube-source.js';
import { startComparison, stopComparison, type CompareOptions } from '../compare/start.js';
import { registerDashboardRoutes } from '../dashboard/dashboard-routes.js';
import type { OverloadGuard, OverloadOptions } from '../proxy/overload-guard.js';
import { startOverloadGuard } from './overload-wiring.js';

export interface UmbraOptions {
  readonly files: readonly string[];
  readonly listen: { host: string; port: number };
  readonly admin: { host: string; port: number };
  readonly stateDir: string;
  readonly namespace?: string;
  /** Umbra's labels as a gateway workload (`--labels`): Istio Gateways selecting them are served. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly mirror?: Partial<MirrorDefaults>;
  readonly mirrorBodyBudget?: number;
  readonly watch?: boolean;
  readonly adminToken?: string;
  /** `POST /quitquitquit` on the admin API (`umbra stop`) calls this; without it that endpoint is absent. */
  readonly onQuit?: () => void;
  /** Access-log sink; undefined disables access logs. */
  readonly accessLog?: (s: string) => void;
  readonly accessLogFormat?: 'text' | 'json';
  /** Operational messages (reloads, rejected configs). */
  readonly log?: (line: string) => void;
  /** Also read resources (and Pods) from a Kubernetes API server. */
  readonly kubernetes?: KubernetesOptions;
  /** Shadow comparison limits (issue 9): retained-body budget, pending pairs, window. */
  readonly compare?: CompareOptions;
  /** How operational lines are written (`log` gets them already formatted); passed on to workers. */
  readonly logFormat?: 'text' | 'json';
  /** Client-side limits of every listener: header limits, timeouts, connection caps, XFF trust, path normalisation. */
  readonly downstream?: Partial<DownstreamOptions>;
  /** Overload guard thresholds (heap, event-loop delay); unset fields keep the defaults. */
  readonly overload?: Partial<OverloadOptions>;
}

export interface Umbra {
  readonly state: ConfigState;
  readonly proxy: Proxy;
  /** Metrics (/stats/prometheus); `telemetry.metricsJson()` feeds a multi-worker primary. */
  readonly telemetry: Telemetry;
  readonly loader: ConfigLoader;
  readonly listener: Listener;
  /** Listeners of the Gateway API Gateways being served (follow the table). */
  readonly gateways: GatewayListeners;
  /** Sheds copies, then refuses new connections, under heap or event-loop pressure. */
  readonly overload: OverloadGuard;
  readonly admin: Server;
  readonly proxyUrl: string;
  readonly adminUrl: string;
  close(drainMs?: number): Promise<void>;
}

export { StartupError };

export async function startUmbra(o: UmbraOptions): Promise<Umbra> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const { state, store, storeIssues, mirrorDefaults, self, kube } = await openControlPlaneSources(o, log);
  const loader = new ConfigLoader(state, {
    paths: o.files,
    store,
    feed: kube,
    build: { namespace: o.namespace ?? 'default', mirrorDefaults, selfAddresses: self, labels: o.labels },
    log,
  });
  kube?.onChange(() => loader.schedule('the API server'));
  const first = await loader.reload();
  if (!first.applied) {
    await kube?.close();
    throw new StartupError(
      `configuration has errors:\n${[...storeIssues, ...first.issues].map((i) => `  ${formatIssue(i)}`).join('\n')}`,
      first.issues,
    );
  }
  const proxy = new Proxy(state, {
    mirrorBodyBudget: o.mirrorBodyBudget ?? 64 * 1024 * 1024,
    accessLog: o.accessLog,
    accessLogFormat: o.accessLogFormat,
    downstream: o.downstream,
  });
  const telemetry = new Telemetry(proxy, state, { namespace: o.namespace, configUpdates: true });
  const overload = startOverloadGuard(o.overload, proxy, telemetry);
  const listener = await startListener(proxy, findVirtualHost, {
    host: o.listen.host,
    port: o.listen.port,
    refuseConnections: overload.refuseConnection,
  });
  self.splice(0, self.length, ...selfAddresses(listener.address.host, listener.address.port));
  // Before the first request can be read (no I/O callback runs between the await above and here).
  startRecording(proxy, telemetry.registry, { log });
  const extraRoutes = new Map([
    ...telemetry.routes(),
    ...(kube ? (await import('../kubernetes/start.js')).kubernetesAdminRoutes(kube) : []),
  ]);
  const comparison = startComparison(
    { proxy, routes: extraRoutes, registry: telemetry.registry, stateDir: o.stateDir, log },
    o.compare,
  );
  registerDashboardRoutes(extraRoutes);
  let admin: Server;
  try {
    admin = await startAdmin(
      { state, loader, store, proxy, token: o.adminToken, extraRoutes, log, onQuit: o.onQuit },
      o.admin.host,
      o.admin.port,
    );
  } catch (e) {
    stopComparison(comparison);
    overload.stop();
    await listener.close(0);
    await kube?.close();
    throw e;
  }
  kube?.attach(state);
  const gateways = startGatewayListeners(proxy, state, { host: o.listen.host, log, overload });
  await gateways.settled();
  if (o.watch !== false) loader.watch();
  const a = admin.address();
  const adminPort = typeof a === 'object' && a ? a.port : o.admin.port;
  return {
    state,
    proxy,
    telemetry,
    loader,
    listener,
    gateways,
    overload,
    admin,
    proxyUrl: `http://${listener.address.host}:${listener.address.port}`,
    adminUrl: `http://${o.admin.host}:${adminPort}`,
    async close(drainMs = 5_000) {
      await kube?.close();
      loader.close();
      admin.closeAllConnections();
      await Promise.all([
        listener.close(drainMs),
        gateways.close(drainMs),
        new Promise<void>((ok) => admin.close(() => ok())),
      ]);
      await proxy.close();
      stopComparison(comparison);
      overload.stop();
    },
  };
}
