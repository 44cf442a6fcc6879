// Turns a mirror destination into a MirrorPolicy: Umbra's defaults (from the command line),
// overridden by any umbra.dev MirrorPolicy attached to the target Service or DestinationRule subset.

import type { Resource } from '../config/resource.js';
import type { BreakerSettings, HeaderOps, MirrorPolicy, ShadowAuthority } from '../model/route-table.js';
import { parseDurationMs } from './duration.js';
import type { MeshService } from './service-registry.js';

export interface MirrorDefaults {
  /** Suffix appended to the copy's host; '' turns the rewrite off (Istio ≥ 1.28 behaviour). */
  readonly shadowSuffix: string;
  readonly timeoutMs: number;
  readonly maxInFlight: number;
  readonly bodyBufferBytes: number;
}

export const DEFAULT_MIRROR: MirrorDefaults = {
  shadowSuffix: '-shadow',
  timeoutMs: 10_000,
  maxInFlight: 512,
  bodyBufferBytes: 4 * 1024 * 1024,
};

interface NameValue {
  name: string;
  value: string;
}
export interface MirrorPolicySpecView {
  targetRefs: { group?: string; kind: string; name: string; sectionName?: string }[];
  authority?: { mode: 'Suffix' | 'Keep' | 'Literal' | 'Template'; suffix?: string; value?: string };
  timeout?: string;
  maxInFlight?: number;
  bodyBufferBytes?: number;
  breaker?: { consecutiveFailures?: number; latencyThreshold?: string; cooldown?: string };
  headers?: { set?: NameValue[]; add?: NameValue[]; remove?: string[] };
  methods?: string[];
  sampling?: { key: { header?: string; cookie?: string } };
  compare?: { enabled: boolean; maxBodyBytes?: number; ignoreHeaders?: string[]; ignoreFields?: string[] };
}

/** Finds the MirrorPolicy for a target: a subset-specific one wins over one for the whole service. */
export function findMirrorPolicy(
  policies: readonly Resource[],
  svc: MeshService,
  subset: string | undefined,
): Resource<MirrorPolicySpecView> | undefined {
  let whole: Resource<MirrorPolicySpecView> | undefined;
  for (const p of policies as readonly Resource<MirrorPolicySpecView>[]) {
    if (p.metadata.namespace !== svc.namespace) continue;
    for (const ref of p.spec.targetRefs) {
      const sameName = ref.name === svc.name || ref.name === svc.fqdn;
      if (!sameName) continue;
      if (ref.kind === 'DestinationRule' && subset !== undefined && ref.sectionName === subset) return p;
      if ((ref.kind === 'Service' || ref.kind === 'ServiceEntry') && ref.sectionName === undefined) whole ??= p;
      if (ref.kind === 'DestinationRule' && ref.sectionName === undefined) whole ??= p;
    }
  }
  return whole;
}

function authorityOf(spec: MirrorPolicySpecView | undefined, defaults: MirrorDefaults): ShadowAuthority {
  const a = spec?.authority;
  if (!a) return defaults.shadowSuffix ? { mode: 'suffix', suffix: defaults.shadowSuffix } : { mode: 'keep' };
  switch (a.mode) {
    case 'Keep':
      return { mode: 'keep' };
    case 'Literal':
      return { mode: 'literal', value: a.value ?? '' };
    case 'Template':
      return { mode: 'template', template: a.value ?? '${host}${port}' };
    default:
      return { mode: 'suffix', suffix: a.suffix ?? '-shadow' };
  }
}

function headerOps(h: MirrorPolicySpecView['headers']): HeaderOps | undefined {
  if (!h) return undefined;
  return {
    set: h.set?.map((x) => [x.name.toLowerCase(), x.value] as const),
    add: h.add?.map((x) => [x.name.toLowerCase(), x.value] as const),
    remove: h.remove?.map((x) => x.toLowerCase()),
  };
}

function breaker(b: MirrorPolicySpecView['breaker']): BreakerSettings | undefined {
  if (!b) return undefined;
  return {
    consecutiveFailures: b.consecutiveFailures ?? 5,
    latencyMs: parseDurationMs(b.latencyThreshold),
    cooldownMs: parseDurationMs(b.cooldown) ?? 10_000,
  };
}

export function mirrorPolicy(
  cluster: string,
  name: string,
  ppm: number,
  policy: Resource<MirrorPolicySpecView> | undefined,
  defaults: MirrorDefaults,
): MirrorPolicy {
  const s = policy?.spec;
  return {
    cluster,
    name,
    ppm,
    authority: authorityOf(s, defaults),
    timeoutMs: parseDurationMs(s?.timeout) ?? defaults.timeoutMs,
    maxInFlight: s?.maxInFlight ?? defaults.maxInFlight,
    bodyBufferBytes: s?.bodyBufferBytes ?? defaults.bodyBufferBytes,
    methods: s?.methods ? new Set(s.methods.map((m) => m.toUpperCase())) : undefined,
    headers: headerOps(s?.headers),
    sampleKey: s?.sampling?.key,
    breaker: breaker(s?.breaker),
    compare: s?.compare?.enabled
      ? {
          maxBodyBytes: s.compare.maxBodyBytes ?? 256 * 1024,
          ignoreHeaders: (s.compare.ignoreHeaders ?? []).map((h) => h.toLowerCase()),
          ignoreFields: s.compare.ignoreFields ?? [],
        }
      : undefined,
    policy: policy ? `${policy.metadata.namespace}/${policy.metadata.name}` : undefined,
  };
}
