// Pods as workloads: a Service's endpoints come from its EndpointSlices, which name pods through
// targetRef; the pod lends its labels (DestinationRule subsets). ServiceEntry workloadSelectors
// select pods directly, and then a pod counts only while it is Running, has an IP, is Ready and is
// not terminating — what the EndpointSlice controller reports as ready.

import type { Workload } from '../translate/service-registry.js';
import type { KubeObject } from './informer.js';

interface PodView {
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    deletionTimestamp?: string | null;
    resourceVersion?: string;
    uid?: string;
  };
  spec?: {
    containers?: { name?: string; ports?: { name?: string; containerPort?: number; protocol?: string }[] }[];
  };
  status?: { phase?: string; podIP?: string; conditions?: { type?: string; status?: string }[] };
}

export function podReady(p: PodView): boolean {
  if (p.metadata.deletionTimestamp) return false;
  if (!p.status?.podIP || p.status.phase !== 'Running') return false;
  return (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export function podWorkload(obj: KubeObject): Workload {
  const p = obj as unknown as PodView;
  const ports: Record<string, number> = {};
  for (const c of p.spec?.containers ?? [])
    for (const port of c.ports ?? [])
      if (port.name && typeof port.containerPort === 'number' && (port.protocol ?? 'TCP') === 'TCP')
        ports[port.name] = port.containerPort;
  return {
    name: p.metadata.name,
    namespace: p.metadata.namespace ?? 'default',
    address: p.status?.podIP ?? '',
    labels: p.metadata.labels ?? {},
    ports,
    ready: podReady(p),
    kind: 'Pod',
  };
}

/** Keeps only what podWorkload reads, so a cluster's pods cost little memory. */
export function trimPod(obj: KubeObject): KubeObject {
  const p = obj as unknown as PodView & { apiVersion?: string; kind?: string };
  return {
    apiVersion: p.apiVersion,
    kind: p.kind,
    metadata: {
      name: p.metadata.name,
      namespace: p.metadata.namespace,
      uid: p.metadata.uid,
      resourceVersion: p.metadata.resourceVersion,
      labels: p.metadata.labels,
      deletionTimestamp: p.metadata.deletionTimestamp ?? undefined,
    },
    spec: { containers: (p.spec?.containers ?? []).map((c) => ({ name: c.name, ports: c.ports })) },
    status: {
      phase: p.status?.phase,
      podIP: p.status?.podIP,
      conditions: (p.status?.conditions ?? []).map((c) => ({ type: c.type, status: c.status })),
    },
  };
}
