// What kube-controller-manager's EndpointSlice controller would write for the Services and Pods of a
// namespace (written from the discovery.k8s.io/v1 API reference, not from its code): one slice per
// distinct set of resolved ports, endpoints with ready/serving/terminating, targetRef to the Pod.

import { createHash } from 'node:crypto';

type Json = Record<string, unknown>;

export const ENDPOINT_CONTROLLER = 'endpointslice-controller.k8s.io';

interface ServiceView {
  metadata: { name: string; namespace?: string };
  spec?: {
    selector?: Record<string, string>;
    ports?: { name?: string; port: number; targetPort?: number | string; protocol?: string }[];
  };
}
interface PodView {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec?: { containers?: { ports?: { name?: string; containerPort?: number; protocol?: string }[] }[] };
  status?: { phase?: string; podIP?: string; conditions?: { type?: string; status?: string }[] };
}

/** The container port a Service port reaches on this pod: a number, or a named container port. */
function resolvePort(
  sp: NonNullable<NonNullable<ServiceView['spec']>['ports']>[number],
  pod: PodView,
): number | undefined {
  const t = sp.targetPort ?? sp.port;
  if (typeof t === 'number') return t;
  if (/^\d+$/.test(t)) return Number(t);
  for (const c of pod.spec?.containers ?? [])
    for (const p of c.ports ?? [])
      if (p.name === t && (p.protocol ?? 'TCP') === (sp.protocol ?? 'TCP')) return p.containerPort;
  return undefined;
}

export function desiredSlices(services: readonly Json[], pods: readonly Json[]): Json[] {
  const out: Json[] = [];
  for (const so of services) {
    const svc = so as unknown as ServiceView;
    const selector = svc.spec?.selector;
    if (!selector || Object.keys(selector).length === 0) continue; // selector-less: not ours
    const namespace = svc.metadata.namespace ?? 'default';
    const groups = new Map<string, { ports: Json[]; endpoints: Json[] }>();
    for (const po of pods) {
      const pod = po as unknown as PodView;
      const labels = pod.metadata.labels ?? {};
      if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) continue;
      if (!pod.status?.podIP || pod.status.phase === 'Succeeded' || pod.status.phase === 'Failed') continue;
      const ports: Json[] = [];
      for (const sp of svc.spec?.ports ?? []) {
        const port = resolvePort(sp, pod);
        if (port !== undefined) ports.push({ name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP' });
      }
      const key = JSON.stringify(ports);
      const podReady = (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
      const terminating = Boolean(pod.metadata.deletionTimestamp);
      const g = groups.get(key) ?? { ports, endpoints: [] };
      groups.set(key, g);
      g.endpoints.push({
        addresses: [pod.status.podIP],
        conditions: { ready: podReady && !terminating, serving: podReady, terminating },
        targetRef: { kind: 'Pod', namespace, name: pod.metadata.name },
      });
    }
    // A Service whose selector matches nothing still gets one empty slice, as the controller keeps.
    if (groups.size === 0) groups.set('[]', { ports: [], endpoints: [] });
    for (const [key, g] of groups) {
      const hash = createHash('sha256').update(key).digest('hex').slice(0, 5);
      out.push({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: `${svc.metadata.name}-${hash}`,
          namespace,
          labels: {
            'kubernetes.io/service-name': svc.metadata.name,
            'endpointslice.kubernetes.io/managed-by': ENDPOINT_CONTROLLER,
          },
        },
        addressType: 'IPv4',
        endpoints: g.endpoints,
        ports: g.ports,
      });
    }
  }
  return out;
}
