// Turns a mirror destination into a MirrorPolicy: Umbra's defaults (from the command line),
// overridden by any umbra.dev MirrorPolicy attached to the target Service or DestinationRule subset.

import type { Resource } from '../config/resource.js';
import type {
  BreakerSettings,
  CompareSettings,
  RecordSettings,
  HeaderOps,
  MirrorPolicy,
  ShadowAuthority,
} from '../model/route-table.js';
import { parseDurationMs } from '../config/duration.js';
import type { MeshService } from './service-registry.js';

export interface MirrorDefaults {
  /** Suffix appended to the copy's host; '' turns the rewrite off (Istio ≥ 1.28 behaviour). */
  readonly shadowSuffix: string;
  readonly timeoutMs: number;
  readonly maxInFlight: number;
  readonly bodyBufferBytes: number;
  /** Body bytes buffered for all copies to one mirror together (`umbra run --mirror-body-budget`). */
  readonly totalBodyBufferBytes: number;
  /** The breaker every mirror has unless its policy sets one (a refusing mirror costs a connect each time). */
  readonly breaker: BreakerSettings;
}

export const DEFAULT_MIRROR: MirrorDefaults = {
  shadowSuffix: '-shadow',
  timeoutMs: 10_000,
  // 128, not more: with 512 copies outstanding to a mirror that answers in 200 ms, the primary's p99
  // rose to 1.5–3 × the fast-mirror case on the bench (cases D and D-node); with 128 it stayed
  // within 0.7–1.07 × (docs/mirror-safety.md, "In-flight cap"). A fast mirror never comes near the cap.
  maxInFlight: 128,
  bodyBufferBytes: 4 * 1024 * 1024,
  totalBodyBufferBytes: 16 * 1024 * 1024,
  breaker: { consecutiveFailures: 5, cooldownMs: 10_000 },
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
  totalBodyBufferBytes?: number;
  breaker?: { consecutiveFailures?: number; latencyThreshold?: string; cooldown?: string };
  headers?: { set?: NameValue[]; add?: NameValue[]; remove?: string[] };
  methods?: string[];
  sampling?: { key: { header?: string; cookie?: string } };
  compare?: {
    enabled: boolean;
    maxBodyBytes?: number;
    ignoreHeaders?: string[];
    ignoreFields?: string[];
    baseline?: { host: string; subset?: string };
    thresholds?: { absolute?: number; relative?: number };
  };
  record?: {
    path: string;
    maxBytes?: number;
    maxFiles?: number;
    maxBodyBytes?: number;
    sendCopies?: boolean;
  };
}

/**
 * Finds the MirrorPolicy for a target: a subset-specific one wins over one for the whole service.
 * A `DestinationRule` target names the DestinationRule in effect for the service (`destinationRule`)
 * by its own name, as policy attachment does (GEP-713), whatever host it is for; a `ServiceEntry`
 * target likewise names the ServiceEntry object, whatever its hosts are called.
 */
export function findMirrorPolicy(
  policies: readonly Resource[],
  svc: MeshService,
  subset: string | undefined,
  destinationRule?: Resource,
): Resource<MirrorPolicySpecView> | undefined {
  let whole: Resource<MirrorPolicySpecView> | undefined;
  for (const p of policies as readonly Resource<MirrorPolicySpecView>[]) {
    if (p.metadata.namespace !== svc.namespace) continue;
    for (const ref of p.spec.targetRefs) {
      const sameName =
        ref.kind === 'DestinationRule'
          ? destinationRule !== undefined &&
            ref.name === destinationRule.metadata.name &&
            destinationRule.metadata.namespace === p.metadata.namespace
          : ref.kind === 'ServiceEntry' && svc.origin.kind === 'ServiceEntry'
            ? // Policy attachment names the object (GEP-713): the ServiceEntry's metadata.name, which
              // covers each of its hosts; a host as name is still accepted, as earlier versions read it.
              ref.name === svc.origin.metadata.name || ref.name === svc.fqdn
            : ref.name === svc.name || ref.name === svc.fqdn;
      if (!sameName) continue;
      if (ref.kind === 'DestinationRule' && subset !== undefined && ref.sectionName === subset) return p;
      if ((ref.kind === 'Service' || ref.kind === 'ServiceEntry') && ref.sectionName === undefined)
        whole ??= p;
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

function breaker(b: MirrorPolicySpecView['breaker'], defaults: BreakerSettings): BreakerSettings {
  if (!b) return defaults;
  return {
    consecutiveFailures: b.consecutiveFailures ?? defaults.consecutiveFailures,
    latencyMs: parseDurationMs(b.latencyThreshold) ?? defaults.latencyMs,
    cooldownMs: parseDurationMs(b.cooldown) ?? defaults.cooldownMs,
  };
}

/** Header names are matched lower-case on the hot path; lower them once here. */
function sampleKey(k: { header?: string; cookie?: string } | undefined): MirrorPolicy['sampleKey'] {
  if (!k) return undefined;
  return k.header !== undefined ? { header: k.header.toLowerCase() } : { cookie: k.cookie };
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
    totalBodyBufferBytes: s?.totalBodyBufferBytes ?? defaults.totalBodyBufferBytes,
    methods: s?.methods ? new Set(s.methods.map((m) => m.toUpperCase())) : undefined,
    headers: headerOps(s?.headers),
    sampleKey: sampleKey(s?.sampling?.key),
    breaker: breaker(s?.breaker, defaults.breaker),
    compare: s?.compare?.enabled ? compareSettings(s.compare, policy!.metadata.namespace) : undefined,
    policy: policy ? `${policy.metadata.namespace}/${policy.metadata.name}` : undefined,
    record: s?.record ? recordSettings(s.record, s?.bodyBufferBytes ?? defaults.bodyBufferBytes) : undefined,
  };
}

/** Recording defaults: 5 files of 64 MiB at most (320 MiB of disk per recording path). */
export const DEFAULT_RECORD = { maxBytes: 64 * 1024 * 1024, maxFiles: 5 } as const;

function recordSettings(
  r: NonNullable<MirrorPolicySpecView['record']>,
  bodyBufferBytes: number,
): RecordSettings {
  return {
    path: r.path,
    maxBytes: r.maxBytes ?? DEFAULT_RECORD.maxBytes,
    maxFiles: r.maxFiles ?? DEFAULT_RECORD.maxFiles,
    // By default a record keeps what the copy would carry: the copy's own body buffer bound.
    maxBodyBytes: r.maxBodyBytes ?? bodyBufferBytes,
    sendCopies: r.sendCopies ?? true,
  };
}

/** Diffy's defaults, in fractions: 3 points over the noise rate, and 20 % of the field's own rate. */
export const DEFAULT_COMPARE_THRESHOLDS = { absolute: 0.03, relative: 0.2 } as const;

function compareSettings(
  c: NonNullable<MirrorPolicySpecView['compare']>,
  namespace: string,
): CompareSettings {
  return {
    maxBodyBytes: c.maxBodyBytes ?? 256 * 1024,
    ignoreHeaders: (c.ignoreHeaders ?? []).map((h) => h.toLowerCase()),
    ignoreFields: c.ignoreFields ?? [],
    baselineTarget: c.baseline ? { host: c.baseline.host, namespace, subset: c.baseline.subset } : undefined,
    thresholds: {
      absolute:
        c.thresholds?.absolute !== undefined
          ? c.thresholds.absolute / 100
          : DEFAULT_COMPARE_THRESHOLDS.absolute,
      relative:
        c.thresholds?.relative !== undefined
          ? c.thresholds.relative / 100
          : DEFAULT_COMPARE_THRESHOLDS.relative,
    },
  };
}

/** Splits an Envoy-style cluster name ("outbound|80|v1|httpbin.default.svc.cluster.local"). */
function clusterTarget(cluster: string): { fqdn: string; subset: string } | undefined {
  const parts = cluster.split('|');
  return parts.length === 4 ? { subset: parts[2], fqdn: parts[3] } : undefined;
}

/**
 * Noise cancellation as Diffy does it: a candidate whose policy names a baseline (a second copy of
 * the primary's version, e.g. Istio `mirrors: [v1, v2]`) is paired with that mirror of the same rule.
 * The baseline gets the candidate's compare settings with `baseline: true`, so its response is kept
 * too. Returns the rule's mirrors with links set; a baseline the rule does not mirror is reported.
 */
export function linkBaselines(
  mirrors: readonly MirrorPolicy[],
  resolveFqdn: (host: string, namespace: string) => string | undefined,
  report: (candidate: MirrorPolicy, message: string) => void,
): MirrorPolicy[] {
  const out = [...mirrors];
  out.forEach((m, i) => {
    const target = m.compare?.baselineTarget;
    if (!m.compare || !target) return;
    const fqdn = resolveFqdn(target.host, target.namespace);
    const j =
      fqdn === undefined
        ? -1
        : out.findIndex(
            (o, k) =>
              k !== i &&
              clusterTarget(o.cluster)?.fqdn === fqdn &&
              clusterTarget(o.cluster)?.subset === (target.subset ?? ''),
          );
    if (j === -1) {
      const what = `${target.host}${target.subset ? ` subset ${target.subset}` : ''}`;
      report(
        m,
        `baseline ${what} is not mirrored by this rule, so noise is not measured for ${m.name}; add it to the rule's mirrors`,
      );
      return;
    }
    const base = out[j];
    out[i] = { ...out[i], compare: { ...m.compare, baselineMirror: base.name } };
    const own = base.compare;
    out[j] = {
      ...base,
      compare: {
        maxBodyBytes: Math.max(own?.maxBodyBytes ?? 0, m.compare.maxBodyBytes),
        ignoreHeaders: m.compare.ignoreHeaders,
        ignoreFields: m.compare.ignoreFields,
        thresholds: own?.thresholds ?? m.compare.thresholds,
        baselineMirror: own?.baselineMirror,
        baselineTarget: own?.baselineTarget,
        baseline: true,
      },
    };
  });
  return out;
}
