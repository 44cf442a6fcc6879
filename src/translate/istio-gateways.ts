// Istio `Gateway` resources (networking.istio.io) that Umbra serves as a gateway workload: those whose
// selector matches the labels Umbra runs with (`umbra run --labels istio=ingressgateway`). Each
// server becomes part of a listener on its port — HTTP, or HTTPS (tls.mode SIMPLE, certificate from
// the credentialName Secret, picked by SNI among the server hosts) — routed by the VirtualServices
// bound to the gateway with `gateways:`. Semantics: istio.io/latest/docs/reference/config/networking/gateway/.

import type { Resource } from '../config/resource.js';
import type { IstioGatewaySpec } from '../config/schemas/istio.js';
import { isIstioGateway } from '../config/validate.js';
import type {
  GatewayListener,
  Route,
  ServerCertificate,
  VirtualHost,
  WildcardHost,
} from '../model/route-table.js';
import type { MeshRouteSource, RouteSourceContext } from './build-table.js';
import { ANY_HOST, intersectHostnames } from './gateway-api/hostnames.js';
import { byAge } from './gateway-api/precedence.js';
import { issueAt } from './issue-at.js';
import { qualifyGateway, virtualServiceRoutes, type VirtualServiceView } from './istio-routes.js';
import { secretCertificate } from './tls-secrets.js';

type Server = NonNullable<IstioGatewaySpec['servers']>[number];

/** A server host: the namespaces whose VirtualServices may bind ("*" any) and the host name. */
interface ServerHost {
  readonly namespace: string;
  readonly host: string;
}

interface PortGroup {
  readonly address: string;
  readonly port: number;
  readonly tls: boolean;
  readonly names: string[];
  /** Routes by served hostname, in the order VirtualServices were bound (oldest first). */
  readonly hosts: Map<string, Route[]>;
  readonly certificates: ServerCertificate[];
  /** Hostnames answered with a redirect to HTTPS (server tls.httpsRedirect). */
  readonly redirect: Set<string>;
}

/** Istio's server host syntax: "ns/host", "./host" (the Gateway's namespace), "*\/host" or "host". */
function parseHost(h: string, gatewayNamespace: string): ServerHost {
  const slash = h.indexOf('/');
  if (slash < 0) return { namespace: '*', host: h.toLowerCase() };
  const ns = h.slice(0, slash);
  return { namespace: ns === '.' ? gatewayNamespace : ns, host: h.slice(slash + 1).toLowerCase() };
}

/** Selector labels all present among Umbra's (an empty selector selects every gateway workload). */
function selects(
  selector: Readonly<Record<string, string>> | undefined,
  labels: Readonly<Record<string, string>>,
) {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

const PROTOCOLS = new Set(['HTTP', 'HTTPS']);

export function istioGatewayRoutes(ctx: RouteSourceContext): MeshRouteSource {
  const none: MeshRouteSource = { routesFor: () => undefined, gatewayListeners: [] };
  const gateways = ctx.resources.filter(isIstioGateway).sort(byAge);
  if (gateways.length === 0) return none;
  const labels = ctx.options.labels;
  if (!labels || Object.keys(labels).length === 0) {
    for (const gw of gateways)
      ctx.issues.push(
        issueAt(
          gw,
          'spec.selector',
          'info',
          'not served: Umbra is not running as a gateway workload',
          'give Umbra the labels of the gateway pods the selector picks, e.g. umbra run --labels istio=ingressgateway',
        ),
      );
    return none;
  }
  const vss = ctx.resources.filter((r) => r.kind === 'VirtualService').sort(byAge);
  const groups = new Map<string, PortGroup>();

  for (const gw of gateways) {
    const gwName = `${gw.metadata.namespace}/${gw.metadata.name}`;
    if (!selects(gw.spec.selector, labels)) {
      ctx.issues.push(
        issueAt(
          gw,
          'spec.selector',
          'info',
          `not served: the selector does not match Umbra's labels (${Object.entries(labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(',')})`,
        ),
      );
      continue;
    }
    const bound = vss.filter((vs) =>
      ((vs.spec as VirtualServiceView).gateways ?? []).some(
        (g) => qualifyGateway(g, vs.metadata.namespace) === gwName,
      ),
    );
    (gw.spec.servers ?? []).forEach((server, si) => {
      const at = `spec.servers[${si}]`;
      const protocol = server.port.protocol.toUpperCase();
      if (!PROTOCOLS.has(protocol)) {
        ctx.issues.push(
          issueAt(
            gw,
            `${at}.port.protocol`,
            'warning',
            `protocol ${server.port.protocol} is not supported by Umbra (HTTP and HTTPS only); the server is not served`,
          ),
        );
        return;
      }
      const tls = protocol === 'HTTPS';
      const address = server.bind ?? '';
      const key = `${address}|${server.port.number}`;
      let group = groups.get(key);
      if (group && group.tls !== tls) {
        ctx.issues.push(
          issueAt(
            gw,
            `${at}.port`,
            'warning',
            `port ${server.port.number} is already served as ${group.tls ? 'HTTPS' : 'HTTP'} by ${group.names[0]}; this server is not served`,
          ),
        );
        return;
      }
      const hosts = server.hosts.map((h) => parseHost(h, gw.metadata.namespace));
      let certificate: { certPem: string; keyPem: string; source: string } | undefined;
      if (tls) {
        certificate = serverCertificate(ctx, gw, server, at);
        if (!certificate) return;
      }
      if (!group)
        groups.set(
          key,
          (group = {
            address,
            port: server.port.number,
            tls,
            names: [],
            hosts: new Map(),
            certificates: [],
            redirect: new Set(),
          }),
        );
      if (!group.names.includes(gwName)) group.names.push(gwName);
      if (certificate)
        for (const h of hosts) {
          if (group.certificates.some((c) => c.hostname === h.host)) {
            ctx.issues.push(
              issueAt(
                gw,
                `${at}.hosts`,
                'warning',
                `host ${h.host} already has a certificate on port ${server.port.number}; the first server's is used`,
              ),
            );
            continue;
          }
          group.certificates.push({ hostname: h.host, ...certificate });
        }
      if (!tls && server.tls?.httpsRedirect) for (const h of hosts) group.redirect.add(h.host);
      // Each bound VirtualService host that a server host admits (namespace and name) is served with
      // that VirtualService's rules; several VirtualServices for one host are merged, oldest first.
      for (const vs of bound) {
        const vsHosts = ((vs.spec as VirtualServiceView).hosts ?? []).map((h) => h.toLowerCase());
        const served = new Set<string>();
        for (const sh of hosts) {
          if (sh.namespace !== '*' && sh.namespace !== vs.metadata.namespace) continue;
          for (const h of intersectHostnames(sh.host === ANY_HOST ? undefined : sh.host, vsHosts))
            served.add(h);
        }
        if (served.size === 0) continue;
        const routes = virtualServiceRoutes(vs, ctx, server.port.number, { name: gwName, labels });
        for (const h of served) group.hosts.set(h, [...(group.hosts.get(h) ?? []), ...routes]);
      }
    });
  }

  const gatewayListeners: GatewayListener[] = [];
  for (const g of groups.values()) {
    const hostIndex = new Map<string, VirtualHost>();
    const wildcardHosts: WildcardHost[] = [];
    let catchAll: VirtualHost | undefined;
    const all = new Set([...g.hosts.keys(), ...g.redirect]);
    for (const h of all) {
      const routes = g.redirect.has(h) ? [httpsRedirect(g.names[0])] : (g.hosts.get(h) ?? []);
      const vhost: VirtualHost = { name: `istio-gateway:${g.port}/${h}`, routes };
      if (h === ANY_HOST) catchAll = vhost;
      else if (h.startsWith('*.')) wildcardHosts.push({ suffix: h.slice(1), vhost });
      else hostIndex.set(`${h}:*`, vhost);
    }
    wildcardHosts.sort((a, b) => b.suffix.length - a.suffix.length);
    gatewayListeners.push({
      name: g.names.map((n) => `istio:${n}`).join(','),
      address: g.address,
      port: g.port,
      hostIndex,
      wildcardHosts,
      catchAll,
      ...(g.tls ? { tls: { certificates: g.certificates } } : {}),
    });
  }
  return { routesFor: () => undefined, gatewayListeners };
}

/** Server tls.httpsRedirect: every request gets a 301 to the same URL over https. */
function httpsRedirect(gateway: string): Route {
  const [namespace, name] = gateway.split('/');
  return {
    name: `${gateway}#https-redirect`,
    origin: { kind: 'Gateway', namespace, name, path: 'spec.servers.tls.httpsRedirect' },
    match: {},
    action: { kind: 'redirect', scheme: 'https', status: 301 },
  };
}

/**
 * The certificate of an HTTPS server: tls.mode SIMPLE with credentialName, a kubernetes.io/tls
 * Secret (or one with `cert`/`key`, as Istio also reads) in the Gateway's namespace. Anything else
 * is reported and the server is not served.
 */
function serverCertificate(
  ctx: RouteSourceContext,
  gw: Resource<IstioGatewaySpec>,
  server: Server,
  at: string,
): { certPem: string; keyPem: string; source: string } | undefined {
  const t = server.tls;
  const fail = (path: string, message: string) => {
    ctx.issues.push(issueAt(gw, path, 'warning', message, 'the server is not served; the others are'));
    return undefined;
  };
  if (!t) return fail(at, 'an HTTPS server needs tls (mode SIMPLE with credentialName)');
  const mode = t.mode ?? 'PASSTHROUGH';
  if (mode !== 'SIMPLE')
    return fail(`${at}.tls.mode`, `tls mode ${mode} is not supported by Umbra (SIMPLE only)`);
  if (!t.credentialName)
    return fail(
      `${at}.tls`,
      t.serverCertificate
        ? 'certificates from files (serverCertificate/privateKey) are not supported by Umbra; use credentialName'
        : 'tls.credentialName is required (the kubernetes.io/tls Secret holding the certificate)',
    );
  const ns = gw.metadata.namespace;
  const c = secretCertificate(ctx.resources, ns, t.credentialName, { cert: 'cert', key: 'key' });
  if (!c.ok) return fail(`${at}.tls.credentialName`, c.message);
  return { certPem: c.certPem, keyPem: c.keyPem, source: `Secret ${ns}/${t.credentialName}` };
}
