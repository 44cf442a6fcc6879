// Serves the Gateway API Gateways in the table: one proxy listener per Gateway listener address
// and port, started and stopped as tables swap. Requests on such a listener are routed by that
// listener's own virtual hosts (its hostnames and attached HTTPRoutes), looked up in the table the
// request pins, so a reload never mixes two configurations in one request. TLS listeners pick
// their certificate by SNI from the table current at each handshake (listener-tls.ts).

import type { GatewayListener, RouteTable } from '../model/route-table.js';
import { startListener, type Listener } from '../proxy/listener.js';
import type { OverloadGuard } from '../proxy/overload-guard.js';
import type { Proxy, VhostResolver } from '../proxy/proxy.js';
import { findGatewayVirtualHost } from '../proxy/router.js';
import type { ConfigState } from './config-state.js';
import { listenerTls, secureListener, type ListenerTlsRuntime } from './listener-tls.js';

export interface GatewayListenerOptions {
  /** Address for Gateways that name none (spec.addresses): Umbra's own listen host. */
  readonly host: string;
  readonly log: (line: string) => void;
  /** Refuses the listeners' new connections under overload, as on the main listener. */
  readonly overload?: OverloadGuard;
  /** How long a removed listener lets in-flight requests finish. */
  readonly drainMs?: number;
}

export interface GatewayListeners {
  /** Listeners being served, by "address:port" ("https://address:port" for TLS ones). */
  readonly bound: ReadonlyMap<string, Listener>;
  /** Listeners the table wants but that could not be opened, with the reason. */
  readonly failed: ReadonlyMap<string, string>;
  /** Resolves once the served listeners match the current table. */
  settled(): Promise<void>;
  close(drainMs?: number): Promise<void>;
}

interface ConditionView {
  readonly type: string;
  readonly status: string;
  readonly reason: string;
  readonly message: string;
}
interface GatewayStatusView {
  readonly conditions: readonly ConditionView[];
  readonly listeners: readonly { readonly name: string; readonly conditions: readonly ConditionView[] }[];
}

function notProgrammed(
  conditions: readonly ConditionView[],
  reason: string,
  message: string,
): ConditionView[] {
  return conditions.map((c) => (c.type === 'Programmed' ? { ...c, status: 'False', reason, message } : c));
}

/**
 * A listener translation programmed but the OS would not open (port taken, address not local):
 * its Gateway's status says so — the listener, and the Gateway when none of its listeners is open.
 */
function reportNotProgrammed(state: ConfigState, gl: GatewayListener, message: string): void {
  const next = new Map(state.statuses);
  for (const id of gl.name.split(',')) {
    const [ns, gateway, listener] = id.split('/');
    const key = `gateway.networking.k8s.io/Gateway/${ns}/${gateway}`;
    const st = next.get(key) as GatewayStatusView | undefined;
    if (!st?.listeners) continue;
    const listeners = st.listeners.map((l) =>
      l.name === listener ? { ...l, conditions: notProgrammed(l.conditions, 'Invalid', message) } : l,
    );
    const anyOpen = listeners.some((l) =>
      l.conditions.some((c) => c.type === 'Programmed' && c.status === 'True'),
    );
    next.set(key, {
      ...st,
      listeners,
      conditions: anyOpen ? st.conditions : notProgrammed(st.conditions, 'AddressNotUsable', message),
    });
  }
  state.statuses = next;
}

export function startGatewayListeners(
  proxy: Proxy,
  state: ConfigState,
  o: GatewayListenerOptions,
): GatewayListeners {
  const bound = new Map<string, Listener>();
  const failed = new Map<string, string>();
  const byTable = new WeakMap<RouteTable, Map<string, GatewayListener>>();
  // A port that turns from plain to TLS (or back) is a different listener: it is reopened.
  const keyOf = (gl: GatewayListener) => `${gl.tls ? 'https://' : ''}${gl.address || o.host}:${gl.port}`;
  const tlsOf = new Map<string, ListenerTlsRuntime>();
  const listenersOf = (t: RouteTable) => {
    let m = byTable.get(t);
    if (!m) byTable.set(t, (m = new Map(t.gatewayListeners.map((gl) => [keyOf(gl), gl]))));
    return m;
  };
  const resolverFor =
    (key: string): VhostResolver =>
    (table, authority) => {
      const gl = listenersOf(table).get(key);
      return gl ? findGatewayVirtualHost(gl, authority) : undefined;
    };

  let queue: Promise<void> = Promise.resolve();
  let closed = false;
  const sync = async () => {
    if (closed) return;
    const want = listenersOf(state.table);
    for (const [key, l] of [...bound]) {
      if (want.has(key)) continue;
      bound.delete(key);
      tlsOf.delete(key);
      await l.close(o.drainMs ?? 5_000);
      o.log(`gateway listener ${key} closed`);
    }
    for (const [key, gl] of want) {
      if (bound.has(key)) {
        const tlsServer = bound.get(key)!.tlsServer;
        if (tlsServer) tlsOf.get(key)?.refresh(tlsServer);
        continue;
      }
      try {
        const tls = gl.tls ? listenerTls(() => listenersOf(state.table).get(key)) : undefined;
        const l = await startListener(proxy, resolverFor(key), {
          host: gl.address || o.host,
          port: gl.port,
          refuseConnections: o.overload?.refuseConnection,
          ...(tls ? { secure: secureListener(tls) } : {}),
        });
        if (tls) {
          if (l.tlsServer) tls.refresh(l.tlsServer);
          tlsOf.set(key, tls);
        }
        bound.set(key, l);
        failed.delete(key);
        o.log(`gateway listener ${key} serving ${gl.name}`);
      } catch (e) {
        const why = (e as Error).message;
        if (failed.get(key) !== why) o.log(`gateway listener ${key} (${gl.name}) cannot listen: ${why}`);
        failed.set(key, why);
        reportNotProgrammed(state, gl, `cannot listen on ${key}: ${why}`);
      }
    }
    for (const key of [...failed.keys()]) if (!want.has(key)) failed.delete(key);
  };
  const schedule = () => {
    queue = queue.then(sync, sync);
    return queue;
  };
  state.on('swap', schedule);
  schedule();

  return {
    bound,
    failed,
    settled: () => queue,
    async close(drainMs?: number) {
      closed = true;
      state.off('swap', schedule);
      await queue.catch(() => undefined);
      const all = [...bound.values()];
      bound.clear();
      await Promise.all(all.map((l) => l.close(drainMs ?? o.drainMs ?? 5_000)));
    },
  };
}
