// Schema for Umbra's own MirrorPolicy (umbra.dev/v1alpha1): how copies sent to a mirror target are
// shaped and bounded. Attached Gateway API policy-style through targetRefs (GEP-713). Built on first
// use (buildUmbraSchemas).

import { z } from 'zod';
import {
  addError,
  duration,
  has,
  headerListOps,
  headerName,
  httpMethod,
  isRecord,
  nonNegativeInt,
  percentDouble,
  positiveInt,
  strictObject,
  withChecks,
} from './common.js';

/** The kinds a MirrorPolicy can attach to, and the API group each lives in. */
export const MIRROR_TARGET_GROUPS: Readonly<Record<string, string>> = {
  Service: '',
  DestinationRule: 'networking.istio.io',
  ServiceEntry: 'networking.istio.io',
};

export const AUTHORITY_MODES = ['Suffix', 'Keep', 'Literal', 'Template'] as const;

/**
 * The MirrorPolicy schema, built by src/config/validate.ts on the first document that needs them and kept
 * there: a configuration that does not use this API never holds them (README "Memory").
 */
export function buildUmbraSchemas() {
  const TEMPLATE_VARS = ['host', 'port'];

  const targetRef = withChecks(
    strictObject({
      group: z.enum(['', 'networking.istio.io']).optional(),
      kind: z.enum(['Service', 'DestinationRule', 'ServiceEntry']),
      name: z.string().min(1),
      sectionName: z.string().min(1).optional(),
    }).transform((r) => ({ ...r, group: r.group ?? MIRROR_TARGET_GROUPS[r.kind] })),
    (r, ctx) => {
      const expected = typeof r.kind === 'string' ? MIRROR_TARGET_GROUPS[r.kind] : undefined;
      if (expected !== undefined && typeof r.group === 'string' && r.group !== expected)
        addError(
          ctx,
          ['group'],
          `${String(r.kind)} is in group "${expected}", not "${r.group}"`,
          `set group: "${expected}" or leave it out`,
        );
      if (has(r, 'sectionName') && r.kind !== 'DestinationRule')
        addError(
          ctx,
          ['sectionName'],
          'sectionName names a DestinationRule subset; it is only allowed when kind is DestinationRule',
        );
    },
  );

  /** How the copy's Host/authority is derived (docs/architecture.md: "Host of the copy"). */
  const authority = withChecks(
    strictObject({
      mode: z.enum(AUTHORITY_MODES),
      suffix: z.string().optional(),
      value: z.string().min(1).optional(),
    }).transform((a) => (a.mode === 'Suffix' ? { ...a, suffix: a.suffix ?? '-shadow' } : a)),
    (a, ctx) => {
      const mode = a.mode;
      if (mode === 'Suffix' || mode === 'Keep') {
        if (has(a, 'value'))
          addError(ctx, ['value'], `value is only used with mode Literal or Template, not ${mode}`);
      }
      if (mode !== 'Suffix' && has(a, 'suffix'))
        addError(ctx, ['suffix'], `suffix is only used with mode Suffix, not ${String(mode)}`);
      if ((mode === 'Literal' || mode === 'Template') && !has(a, 'value'))
        addError(ctx, ['value'], `mode ${mode} needs a value`);
      if (typeof a.suffix === 'string' && /[\s/:@[\]]/.test(a.suffix))
        addError(ctx, ['suffix'], `suffix "${a.suffix}" would make an invalid host name`);
      if (mode === 'Literal' && typeof a.value === 'string' && /[\s/@]|\$\{/.test(a.value))
        addError(ctx, ['value'], `"${a.value}" is not a valid authority (host[:port])`);
      if (mode === 'Template' && typeof a.value === 'string') {
        for (const m of a.value.matchAll(/\$\{([^}]*)\}/g))
          if (!TEMPLATE_VARS.includes(m[1]))
            addError(ctx, ['value'], `unknown template variable \${${m[1]}}`, 'use ${host} and ${port}');
        if (/\$(?!\{)|\$\{[^}]*$/.test(a.value))
          addError(ctx, ['value'], 'unterminated template variable', 'write ${host} or ${port}');
        if (/[\s/@]/.test(a.value.replace(/\$\{[^}]*\}/g, '')))
          addError(ctx, ['value'], `"${a.value}" would not make a valid authority`);
      }
    },
  );

  const sampling = strictObject({
    key: strictObject({ header: headerName.optional(), cookie: z.string().min(1).optional() }).superRefine(
      (k, ctx) => {
        const set = ['header', 'cookie'].filter((x) => has(k, x));
        if (set.length !== 1) addError(ctx, [], 'sampling key needs exactly one of header or cookie');
      },
    ),
  });

  /** JSON paths to ignore when comparing: "$.origin", "headers.X-Amzn-Trace-Id", "$.items[0].id". */
  const ignoreField = z.string().superRefine((s, ctx) => {
    if (!/^(\$\.?)?[^\s.[\]]+(\.[^\s.[\]]+|\[\d+\]|\[\*\])*$/.test(s))
      addError(
        ctx,
        [],
        `"${s}" is not a field path`,
        'write a dotted path such as $.origin or headers.X-Request-Id',
      );
  });

  const compare = strictObject({
    enabled: z.boolean(),
    maxBodyBytes: nonNegativeInt.optional(),
    ignoreHeaders: z.array(headerName).optional(),
    ignoreFields: z.array(ignoreField).optional(),
    baseline: strictObject({ host: z.string().min(1), subset: z.string().min(1).optional() }).optional(),
    /** Diffy-style verdict thresholds, in percent: a field is reported when its candidate difference
     *  rate exceeds its noise rate by `absolute` points and by `relative` % of its own rate. */
    thresholds: strictObject({
      absolute: percentDouble.optional(),
      relative: percentDouble.optional(),
    }).optional(),
  });

  /**
   * A recording sink (issue 16): every copy the policy admits is also written to a JSON Lines file,
   * after the policy's header changes, sampling and method guard (docs/record-replay.md).
   */
  const record = withChecks(
    strictObject({
      path: z.string().min(1, 'path needs a file name'),
      /** A file is rotated once it would grow past this size. */
      maxBytes: positiveInt.optional(),
      /** Files kept: the one being written plus rotated ones (path.1, path.2, …). */
      maxFiles: positiveInt.max(1000, 'must be ≤ 1000').optional(),
      /** Request body bytes kept per record; a longer body is cut and flagged truncated. */
      maxBodyBytes: nonNegativeInt.optional(),
      /** false: record only, send no copy (a tap with no mirror deployed). */
      sendCopies: z.boolean().optional(),
    }),
    (r, ctx) => {
      if (typeof r.path === 'string' && (r.path.endsWith('/') || r.path.includes('\0')))
        addError(
          ctx,
          ['path'],
          `"${r.path}" is not a file name`,
          'name a file, e.g. /var/lib/umbra/v2.jsonl',
        );
      if (typeof r.maxBytes === 'number' && r.maxBytes < 1024)
        addError(ctx, ['maxBytes'], `maxBytes ${r.maxBytes} is too small for a record`, 'use at least 1024');
    },
  );

  const mirrorPolicySpec = withChecks(
    strictObject({
      targetRefs: z.array(targetRef).min(1, 'targetRefs needs at least one target'),
      authority: authority.optional(),
      timeout: duration.optional(),
      maxInFlight: positiveInt.optional(),
      bodyBufferBytes: nonNegativeInt.optional(),
      totalBodyBufferBytes: nonNegativeInt.optional(),
      breaker: strictObject({
        consecutiveFailures: positiveInt.optional(),
        latencyThreshold: duration.optional(),
        cooldown: duration.optional(),
      }).optional(),
      headers: headerListOps.optional(),
      methods: z.array(httpMethod).min(1, 'methods, when set, needs at least one method').optional(),
      sampling: sampling.optional(),
      compare: compare.optional(),
      record: record.optional(),
    }),
    (spec, ctx) => {
      const rec = spec.record;
      const cmp = spec.compare;
      if (isRecord(rec) && rec.sendCopies === false && isRecord(cmp) && cmp.enabled === true)
        addError(
          ctx,
          ['record', 'sendCopies'],
          'sendCopies: false sends no copy, so there is nothing to compare',
          'turn compare off, or send copies',
        );
      const per = spec.bodyBufferBytes;
      const total = spec.totalBodyBufferBytes;
      if (typeof per === 'number' && typeof total === 'number' && per > total)
        addError(
          ctx,
          ['bodyBufferBytes'],
          `bodyBufferBytes (${per}) exceeds totalBodyBufferBytes (${total})`,
        );
      if (Array.isArray(spec.targetRefs)) {
        const seen = new Map<string, number>();
        spec.targetRefs.forEach((r, i) => {
          if (!isRecord(r)) return;
          const key = `${String(r.kind)}/${String(r.name)}/${String(r.sectionName ?? '')}`;
          if (seen.has(key))
            addError(ctx, ['targetRefs', i], `duplicate target (same as targetRefs[${seen.get(key)}])`);
          else seen.set(key, i);
        });
      }
    },
  );
  return { mirrorPolicySpec, targetRef };
}

type Built = ReturnType<typeof buildUmbraSchemas>;

export type MirrorPolicySpec = z.output<Built['mirrorPolicySpec']>;
export type MirrorPolicyTargetRef = z.output<Built['targetRef']>;
