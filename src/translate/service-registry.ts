// Builds the mesh's service registry from Kubernetes Services, Istio ServiceEntries and the
// workloads behind them: EndpointSlices give a Service's endpoints (addresses, ports, readiness) as
// they do for kube-proxy and istiod; Pods only lend their labels (through targetRef) for subsets;
// WorkloadEntries are selected by a Service's selector, as istiod does for VMs.

import type { ConfigIssue } from '../config/issues.js';
import type { Resource } from '../config/resource.js';
import { resourceId } from '../config/resource.js';
import { isIP } from 'node:net';
import type { Endpoint } from '../model/route-table.js';
import { qualifyHost, serviceAliases, serviceFqdn } from './host-names.js';
import { issueAt } from './issue-at.js';
import { serviceEntryPortProtocol, servicePortProtocol, type PortProtocol } from './upstream-protocol.js';

export interface ServicePort {
  readonly name?: string;
  readonly port: number;
  readonly targetPort?: number | string;
  readonly protocol?: string;
  /** The HTTP protocol Istio would assign the port (appProtocol, name prefix, ServiceEntry protocol). */
  readonly httpProtocol?: PortProtocol;
}

export interface MeshService {
  readonly name: string;
  readonly namespace: string;
  readonly fqdn: string;
  /** Lower-case names a client may use for it (without port). */
  readonly aliases: readonly string[];
  readonly ports: readonly ServicePort[];
  /** Endpoints for each service port number, with the workload port already mapped. */
  readonly endpoints: ReadonlyMap<number, readonly Endpoint[]>;
  readonly origin: Resource;
}

/** A workload instance: a WorkloadEntry standalone, a Pod in Kubernetes. */
export interface Workload {
  readonly name: string;
  readonly namespace: string;
  readonly address: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Port name → workload port (WorkloadEntry.ports; container ports by name for Pods). */
  readonly ports: Readonly<Record<string, number>>;
  readonly ready: boolean;
  /**
   * 'Pod' for Kubernetes pods: they are never selected as a Service's endpoints directly (the
   * EndpointSlices are), only read for their labels through an endpoint's targetRef.
   */
  readonly kind?: 'Pod';
}

export interface ServiceRegistry {
  readonly services: readonly MeshService[];
  /** Resolve a host as written in a resource of `namespace` (short names allowed). */
  resolve(host: string, namespace: string): MeshService | undefined;
}

interface K8sServiceSpec {
  ports?: {
    name?: string;
    port: number;
    targetPort?: number | string;
    protocol?: string;
    appProtocol?: string;
  }[];
  selector?: Record<string, string>;
  type?: string;
  externalName?: string;
}
interface WorkloadEntrySpec {
  address?: string;
  ports?: Record<string, number>;
  labels?: Record<string, string>;
}
interface ServiceEntrySpec {
  hosts: string[];
  addresses?: string[];
  ports?: { number: number; name?: string; protocol?: string; targetPort?: number }[];
  resolution?: string;
  endpoints?: WorkloadEntrySpec[];
  workloadSelector?: { labels?: Record<string, string> };
}
interface EndpointSliceObj {
  metadata: { labels?: Record<string, string> };
  spec: {
    endpoints?: {
      addresses: string[];
      conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
      targetRef?: { kind?: string; name?: string; namespace?: string };
    }[];
    ports?: { name?: string | null; port?: number | null; protocol?: string | null }[];
  };
}

function selects(
  selector: Record<string, string> | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  if (!selector) return false;
  for (const k of Object.keys(selector)) if (labels[k] !== selector[k]) return false;
  return true;
}

/** The workload port for a service port: the named port on the workload wins, then targetPort. */
function workloadPort(sp: ServicePort, w: Workload): number | undefined {
  if (sp.name && w.ports[sp.name] !== undefined) return w.ports[sp.name];
  if (typeof sp.targetPort === 'string') return w.ports[sp.targetPort];
  return sp.targetPort ?? sp.port;
}

export function workloadsFromEntries(entries: readonly Resource[]): Workload[] {
  return entries.map((r) => {
    const s = r.spec as WorkloadEntrySpec;
    return {
      name: r.metadata.name,
      namespace: r.metadata.namespace,
      address: s.address ?? '',
      labels: s.labels ?? {},
      ports: s.ports ?? {},
      ready: Boolean(s.address),
    };
  });
}

export function buildServiceRegistry(
  resources: readonly Resource[],
  extraWorkloads: readonly Workload[],
  issues: ConfigIssue[],
): ServiceRegistry {
  const workloads = [
    ...workloadsFromEntries(resources.filter((r) => r.kind === 'WorkloadEntry')),
    ...extraWorkloads,
  ];
  const slices = resources.filter((r) => r.kind === 'EndpointSlice') as unknown as (Resource &
    EndpointSliceObj)[];
  const services: MeshService[] = [];

  for (const r of resources) {
    if (r.kind === 'Service') services.push(fromKubernetesService(r, workloads, slices, issues));
    else if (r.kind === 'ServiceEntry') services.push(...fromServiceEntry(r, workloads, issues));
  }

  const byName = new Map<string, MeshService>();
  for (const s of services) {
    const prev = byName.get(s.fqdn);
    if (prev) {
      issues.push(
        issueAt(
          s.origin,
          'metadata.name',
          'warning',
          `host ${s.fqdn} is also defined by ${resourceId(prev.origin)}; the first definition is used`,
        ),
      );
      continue;
    }
    byName.set(s.fqdn, s);
  }
  return {
    services: [...byName.values()],
    resolve(host, namespace) {
      const h = host.toLowerCase();
      return byName.get(h) ?? byName.get(qualifyHost(h, namespace));
    },
  };
}

function fromKubernetesService(
  r: Resource,
  workloads: readonly Workload[],
  slices: readonly (Resource & EndpointSliceObj)[],
  issues: ConfigIssue[],
): MeshService {
  const spec = r.spec as K8sServiceSpec;
  const { name, namespace } = r.metadata;
  const ports: ServicePort[] = (spec.ports ?? []).map((p) => ({
    name: p.name,
    port: p.port,
    targetPort: p.targetPort,
    protocol: p.protocol,
    httpProtocol: servicePortProtocol(p),
  }));
  const endpoints = new Map<number, Endpoint[]>();
  // Pods are left to the EndpointSlice controller: its slices say which pod serves on which port.
  const selected = spec.selector
    ? workloads.filter(
        (w) => w.kind !== 'Pod' && w.namespace === namespace && w.ready && selects(spec.selector, w.labels),
      )
    : [];
  for (const sp of ports) {
    const eps: Endpoint[] = endpointsFromSlices(name, namespace, sp, slices, workloads);
    for (const w of selected) {
      const port = workloadPort(sp, w);
      if (port === undefined) continue;
      eps.push({ address: w.address, port, labels: w.labels, workload: `${w.namespace}/${w.name}` });
    }
    endpoints.set(sp.port, eps);
  }
  if (ports.length === 0)
    issues.push(issueAt(r, 'spec.ports', 'warning', 'service has no ports; it receives no traffic'));
  return {
    name,
    namespace,
    fqdn: serviceFqdn(name, namespace),
    aliases: serviceAliases(name, namespace),
    ports,
    endpoints,
    origin: r,
  };
}

/**
 * A Service's endpoints from every EndpointSlice labelled `kubernetes.io/service-name` with its
 * name, whoever maintains it (the endpoint controller, or another one for selector-less Services).
 * The slice's port is matched to the service port by name (discovery.k8s.io/v1 EndpointPort: "must
 * match the name of a port in the Service"). Ready endpoints get traffic; `ready` unset means ready
 * (the API's "unknown state ... interpreted as ready"). Only when no endpoint is ready do the
 * serving-and-terminating ones take it, as kube-proxy does (KEP-1669).
 */
function endpointsFromSlices(
  name: string,
  namespace: string,
  sp: ServicePort,
  slices: readonly (Resource & EndpointSliceObj)[],
  workloads: readonly Workload[],
): Endpoint[] {
  const ready: Endpoint[] = [];
  const terminating: Endpoint[] = [];
  const seen = new Set<string>();
  for (const s of slices) {
    if (s.metadata.namespace !== namespace || s.metadata.labels?.['kubernetes.io/service-name'] !== name)
      continue;
    const port = (s.spec.ports ?? []).find(
      (p) => (p.name ?? '') === (sp.name ?? '') && (p.protocol ?? 'TCP') === 'TCP',
    );
    if (typeof port?.port !== 'number') continue;
    for (const e of s.spec.endpoints ?? []) {
      const c = e.conditions ?? {};
      const isReady = c.ready !== false;
      const fallback = !isReady && c.serving === true && c.terminating === true;
      if (!isReady && !fallback) continue;
      const ref = e.targetRef?.kind === undefined || e.targetRef.kind === 'Pod' ? e.targetRef : undefined;
      const pod = ref?.name
        ? workloads.find((w) => w.namespace === (ref.namespace ?? namespace) && w.name === ref.name)
        : undefined;
      for (const address of e.addresses) {
        const key = `${address}|${port.port}`;
        if (seen.has(key)) continue;
        seen.add(key);
        (isReady ? ready : terminating).push({
          address,
          port: port.port,
          labels: pod?.labels ?? {},
          workload: `${namespace}/${e.targetRef?.name ?? address}`,
        });
      }
    }
  }
  return ready.length > 0 ? ready : terminating;
}

/**
 * ServiceEntry hosts (istio.io networking/service-entry): `STATIC` endpoints are IP addresses;
 * `DNS`/`DNS_ROUND_ROBIN` endpoints are names resolved per connection, and with no endpoints the
 * host itself is dialled; `NONE` forwards to the host as addressed. `addresses` (VIPs, not CIDRs)
 * become names the service answers to, so "curl http://10.0.0.7:80" reaches it like its host does.
 */
function fromServiceEntry(r: Resource, workloads: readonly Workload[], issues: ConfigIssue[]): MeshService[] {
  const spec = r.spec as ServiceEntrySpec;
  const { namespace } = r.metadata;
  const resolution = spec.resolution ?? 'NONE';
  if (resolution === 'STATIC')
    (spec.endpoints ?? []).forEach((e, i) => {
      if (e.address && !isIP(e.address) && !e.address.startsWith('unix://'))
        issues.push(
          issueAt(
            r,
            `spec.endpoints[${i}].address`,
            'error',
            `"${e.address}" is not an IP address; resolution STATIC needs IP endpoints`,
            'use resolution: DNS for host names',
          ),
        );
    });
  if (resolution === 'DYNAMIC_DNS')
    issues.push(
      issueAt(r, 'spec.resolution', 'warning', 'DYNAMIC_DNS is not supported by Umbra; treated as DNS'),
    );
  spec.hosts.forEach((h, i) => {
    if (h.startsWith('*'))
      issues.push(
        issueAt(
          r,
          `spec.hosts[${i}]`,
          'warning',
          `wildcard host "${h}" is not supported by Umbra; ignored`,
          'list each host name',
        ),
      );
  });
  (spec.addresses ?? []).forEach((a, i) => {
    if (a.includes('/'))
      issues.push(
        issueAt(
          r,
          `spec.addresses[${i}]`,
          'warning',
          `CIDR range ${a} is not supported by Umbra; ignored`,
          'list single addresses',
        ),
      );
  });
  const vips = (spec.addresses ?? []).filter((a) => !a.includes('/')).map((a) => a.toLowerCase());
  const ports: ServicePort[] = (spec.ports ?? []).map((p) => ({
    name: p.name,
    port: p.number,
    targetPort: p.targetPort,
    protocol: p.protocol,
    httpProtocol: serviceEntryPortProtocol(p.protocol),
  }));
  const members: Workload[] = (spec.endpoints ?? []).map((e, i) => ({
    name: `${r.metadata.name}[${i}]`,
    namespace,
    address: e.address ?? '',
    labels: e.labels ?? {},
    ports: e.ports ?? {},
    ready: Boolean(e.address),
  }));
  if (spec.workloadSelector?.labels)
    members.push(
      ...workloads.filter(
        (w) => w.namespace === namespace && w.ready && selects(spec.workloadSelector!.labels, w.labels),
      ),
    );
  return spec.hosts
    .filter((h) => !h.startsWith('*'))
    .map((host) => {
      const endpoints = new Map<number, Endpoint[]>();
      for (const sp of ports) {
        // DNS (or NONE) with no endpoints: the host itself is the endpoint (resolved per connection).
        const eps: Endpoint[] =
          members.length === 0 && resolution !== 'STATIC' && !spec.workloadSelector
            ? [
                {
                  address: host,
                  port: typeof sp.targetPort === 'number' ? sp.targetPort : sp.port,
                  labels: {},
                  workload: host,
                },
              ]
            : members.flatMap((w) => {
                const port =
                  (sp.name ? w.ports[sp.name] : undefined) ??
                  (typeof sp.targetPort === 'number' ? sp.targetPort : sp.port);
                return [{ address: w.address, port, labels: w.labels, workload: `${w.namespace}/${w.name}` }];
              });
        endpoints.set(sp.port, eps);
      }
      const h = host.toLowerCase();
      return { name: h, namespace, fqdn: h, aliases: [h, ...vips], ports, endpoints, origin: r };
    });
}
