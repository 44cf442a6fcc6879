// deploy/ checked offline, as CI can: every manifest against the Kubernetes schemas (kubernetes-models
// validators + unknown fields from client-node's API models; GatewayClass with Umbra's own schema),
// the kustomizations rendered (and compared with `kubectl kustomize` when kubectl is installed), and
// what the shapes promise: RBAC covering exactly what Umbra watches and writes, non-root read-only
// containers with probes on the admin port, Prometheus annotations, requests, flags `umbra run`
// knows — and the MirrorPolicy CRD agreeing with Umbra's schema, field for field, both ways.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { validateObject } from '../../src/config/load.js';
import { WATCHED_KINDS } from '../../src/kubernetes/kinds.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { IMAGE_ENV, IMAGE_NODE_FLAGS } from '../../bench/image-runtime.js';
import {
  checkSchema,
  hasModel,
  modelName,
  unknownFields,
  validateBuiltin,
  type SchemaProps,
} from './k8s-schema.js';

// Manifests are free-form YAML walked by many paths; the assertions below are their typing.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const DEPLOY = join(REPO_ROOT, 'deploy');
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'GatewayClass',
]);
const SOURCE = { file: 'deploy', doc: 0, lineOf: () => undefined };

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? yamlFiles(p) : /\.ya?ml$/.test(n) ? [p] : [];
    })
    .sort();
}

const docs = (file: string): Json[] =>
  parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as Json)
    .filter(Boolean);

/** `kustomize build` for the features deploy/ uses: resources, namespace, images. */
function render(dir: string): Json[] {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Json;
  const extra = Object.keys(k).filter(
    (key) => !['apiVersion', 'kind', 'namespace', 'resources', 'images'].includes(key),
  );
  assert.deepEqual(
    extra,
    [],
    `${relative(REPO_ROOT, dir)}/kustomization.yaml uses fields this check does not model`,
  );
  const out: Json[] = [];
  for (const r of k.resources as string[]) {
    const p = resolve(dir, r);
    assert.ok(existsSync(p), `${relative(REPO_ROOT, dir)}: resource ${r} does not exist`);
    out.push(...(statSync(p).isDirectory() ? render(p) : docs(p)));
  }
  for (const o of out) {
    if (k.namespace && !CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
    for (const c of containers(o))
      for (const img of (k.images ?? []) as Json[])
        if (c.image === img.name) c.image = `${img.newName ?? img.name}:${img.newTag}`;
  }
  return out;
}

function containers(o: Json): Json[] {
  const spec = o.spec?.template?.spec;
  return spec ? [...(spec.initContainers ?? []), ...(spec.containers ?? [])] : [];
}

const idOf = (o: Json) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const SHAPES = ['gateway', 'sidecar'] as const;

test('every manifest in deploy/ passes the Kubernetes schemas, with no unknown field', async () => {
  const files = yamlFiles(DEPLOY);
  assert.ok(files.length >= 8, files.join('\n'));
  let checked = 0;
  for (const file of files) {
    for (const o of docs(file)) {
      const where = `${relative(REPO_ROOT, file)}: ${o.kind} ${o.metadata?.name ?? ''}`;
      if (o.kind === 'Kustomization') continue;
      if (hasModel(o.apiVersion, o.kind)) {
        await assert.doesNotReject(validateBuiltin(o), where);
        assert.deepEqual(unknownFields(o, modelName(o.apiVersion, o.kind)), [], `${where}: unknown fields`);
      } else {
        const r = validateObject(o, SOURCE);
        assert.ok(r.resource, `${where}: ${r.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
      }
      checked++;
    }
  }
  assert.ok(checked >= 15, `only ${checked} objects checked`);
});

test('the checks catch what they are meant to catch (typo, wrong type, bad enum)', async () => {
  const dep = docs(join(DEPLOY, 'gateway/deployment.yaml'))[0];
  const typo = structuredClone(dep);
  typo.spec.template.spec.containers[0].readinesProbe = typo.spec.template.spec.containers[0].readinessProbe;
  assert.deepEqual(unknownFields(typo, modelName(typo.apiVersion, typo.kind)), [
    'spec.template.spec.containers[0].readinesProbe',
  ]);
  const wrongType = structuredClone(dep);
  wrongType.spec.replicas = 'two';
  await assert.rejects(validateBuiltin(wrongType), /replicas/);
  const badEnum = structuredClone(dep);
  badEnum.spec.template.spec.containers[0].imagePullPolicy = 'Sometimes';
  await assert.rejects(validateBuiltin(badEnum), /imagePullPolicy/);
});

test('the kustomizations render, and agree with kubectl kustomize where kubectl is installed', (t) => {
  let kubectl = true;
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
  } catch {
    kubectl = false;
  }
  for (const shape of [...SHAPES, 'crds']) {
    const mine = render(join(DEPLOY, shape));
    assert.equal(new Set(mine.map(idOf)).size, mine.length, `${shape}: duplicate objects`);
    if (!kubectl) continue;
    const theirs = parseAllDocuments(
      execFileSync('kubectl', ['kustomize', join(DEPLOY, shape)], { encoding: 'utf8' }),
    ).map((d) => d.toJS() as Json);
    const byId = new Map(theirs.map((o) => [idOf(o), o]));
    assert.deepEqual([...byId.keys()].sort(), mine.map(idOf).sort(), shape);
    for (const o of mine) assert.deepEqual(byId.get(idOf(o)), o, `${shape}: ${idOf(o)}`);
  }
  t.diagnostic(
    kubectl
      ? 'compared with kubectl kustomize'
      : 'kubectl not installed: rendered with the built-in renderer only',
  );
});

/** Verbs granted per "group/resource" by the Roles/ClusterRoles a service account is bound to. */
function grants(
  objs: Json[],
  sa: Json,
): { namespaced: Map<string, Set<string>>; cluster: Map<string, Set<string>> } {
  const namespaced = new Map<string, Set<string>>();
  const cluster = new Map<string, Set<string>>();
  for (const b of objs.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
    if (
      !b.subjects.some(
        (s: Json) =>
          s.kind === 'ServiceAccount' && s.name === sa.metadata.name && s.namespace === sa.metadata.namespace,
      )
    )
      continue;
    const role = objs.find(
      (o) =>
        o.kind === b.roleRef.kind &&
        o.metadata.name === b.roleRef.name &&
        (o.kind === 'ClusterRole' || o.metadata.namespace === b.metadata.namespace),
    );
    assert.ok(role, `${idOf(b)} refers to a missing ${b.roleRef.kind} ${b.roleRef.name}`);
    const into = b.kind === 'ClusterRoleBinding' ? cluster : namespaced;
    for (const rule of role.rules as Json[])
      for (const g of rule.apiGroups as string[])
        for (const r of rule.resources as string[]) {
          const key = `${g}/${r}`;
          if (!into.has(key)) into.set(key, new Set());
          for (const v of rule.verbs as string[]) into.get(key)!.add(v);
        }
  }
  return { namespaced, cluster };
}

for (const shape of SHAPES) {
  test(`${shape}: RBAC grants exactly what Umbra reads and writes, to the account its pods run as`, () => {
    const objs = render(join(DEPLOY, shape));
    const deployment = objs.find((o) => o.kind === 'Deployment')!;
    const saName = deployment.spec.template.spec.serviceAccountName;
    const sa = objs.find(
      (o) =>
        o.kind === 'ServiceAccount' &&
        o.metadata.name === saName &&
        o.metadata.namespace === deployment.metadata.namespace,
    );
    assert.ok(sa, `service account ${saName} is part of the ${shape} shape`);
    const { namespaced, cluster } = grants(objs, sa);
    const args: string[] = containers(deployment).find((c) => c.name === 'umbra')!.args;
    const allNamespaces = args.includes('--all-namespaces');
    const writesStatus = !args.includes('--no-write-status');
    const expected = new Map<string, string[]>();
    for (const k of WATCHED_KINDS) {
      expected.set(`${k.group}/${k.plural}`, ['get', 'list', 'watch']);
      // Both shapes: a sidecar also serves (and reports on) a Gateway of Umbra's class in its namespace.
      if (k.writesStatus && writesStatus) expected.set(`${k.group}/${k.plural}/status`, ['patch']);
    }
    const granted = new Map<string, string[]>();
    for (const [key, verbs] of [...namespaced, ...cluster])
      granted.set(key, [...new Set([...(granted.get(key) ?? []), ...verbs])].sort());
    assert.deepEqual(
      new Map([...granted].sort()),
      new Map([...expected].map(([k, v]): [string, string[]] => [k, [...v].sort()]).sort()),
    );
    // Scope: one namespace needs namespaced grants (plus cluster-scoped kinds); all namespaces needs cluster grants.
    for (const k of WATCHED_KINDS) {
      const key = `${k.group}/${k.plural}`;
      if (!k.namespaced || allNamespaces) assert.ok(cluster.has(key), `${key} must be granted cluster-wide`);
      else
        assert.ok(namespaced.has(key) && !cluster.has(key), `${key} should be granted in the namespace only`);
    }
  });

  test(`${shape}: Umbra's container is non-root, read-only, probed on the admin port, scraped, and given requests`, async () => {
    const objs = render(join(DEPLOY, shape));
    const deployment = objs.find((o) => o.kind === 'Deployment')!;
    const pod = deployment.spec.template.spec;
    const umbra = containers(deployment).find((c) => c.name === 'umbra')!;
    const flag = (name: string) =>
      (umbra.args as string[]).find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
    assert.match(umbra.image, /^umbra:dev$/);
    const sc = { ...pod.securityContext, ...umbra.securityContext };
    assert.equal(sc.runAsNonRoot, true);
    assert.ok(sc.runAsUser > 0);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.deepEqual(sc.capabilities.drop, ['ALL']);
    assert.equal(sc.seccompProfile.type, 'RuntimeDefault');
    assert.ok(umbra.resources.requests.cpu && umbra.resources.requests.memory);
    // --workers defaults to the node's CPU count, which a container's requests/limits do not bound.
    assert.ok(Number(flag('workers')) >= 1, 'an explicit --workers');
    // Every flag is one `umbra run` knows, and the addresses are where the probes look.
    const help = (await runCli(['run', '--help'])).stdout;
    for (const a of umbra.args.slice(1) as string[])
      if (a.startsWith('--')) assert.ok(help.includes(a.split('=')[0]), `umbra run has no ${a}`);
    const adminPort = Number(flag('admin')!.split(':')[1]);
    assert.equal(
      flag('admin')!.split(':')[0],
      '0.0.0.0',
      'probes and Prometheus reach the admin port on the pod IP',
    );
    assert.ok(
      umbra.env.some((e: Json) => e.name === 'UMBRA_ADMIN_TOKEN' && e.valueFrom?.secretKeyRef),
      'a non-loopback admin port needs a token',
    );
    const adminName = umbra.ports.find((p: Json) => p.containerPort === adminPort)?.name;
    assert.ok(adminName, 'the admin port is a named container port');
    for (const [probe, path] of [
      ['livenessProbe', '/healthz'],
      ['readinessProbe', '/ready'],
    ] as const) {
      assert.equal(umbra[probe].httpGet.path, path);
      assert.equal(umbra[probe].httpGet.port, adminName);
    }
    assert.equal(umbra.startupProbe.httpGet.port, adminName);
    const ann = deployment.spec.template.metadata.annotations;
    assert.deepEqual(
      [ann['prometheus.io/scrape'], ann['prometheus.io/port'], ann['prometheus.io/path']],
      ['true', String(adminPort), '/stats/prometheus'],
    );
    // Writable places are emptyDirs: the state dir and /tmp.
    const mounts = new Map<string, string>(umbra.volumeMounts.map((m: Json) => [m.mountPath, m.name]));
    for (const dir of [flag('state-dir')!, '/tmp']) {
      const vol = pod.volumes.find((v: Json) => v.name === mounts.get(dir));
      assert.ok(vol?.emptyDir, `${dir} is an emptyDir`);
    }
    if (shape === 'sidecar') {
      assert.equal(umbra.restartPolicy, 'Always', 'a native sidecar');
      const app = pod.containers.find((c: Json) => c.name === 'curl');
      const proxy = app.env.find((e: Json) => e.name === 'http_proxy').value;
      assert.equal(proxy, `http://${flag('listen')}`, 'the app reaches Umbra through http_proxy');
    } else {
      const svc = objs.find((o) => o.kind === 'Service')!;
      for (const [k, v] of Object.entries(svc.spec.selector))
        assert.equal(deployment.spec.template.metadata.labels[k], v);
      const target = svc.spec.ports[0].targetPort;
      const port = umbra.ports.find((p: Json) => p.name === target);
      assert.equal(`0.0.0.0:${port.containerPort}`, flag('listen'), 'the Service reaches the proxy listener');
      assert.ok(
        objs.some(
          (o) => o.kind === 'GatewayClass' && o.spec.controllerName === 'umbra.dev/gateway-controller',
        ),
      );
    }
  });
}

// ---------------------------------------------------------------------------------------------
// MirrorPolicy CRD ↔ src/config/schemas/umbra.ts

const crd = docs(join(DEPLOY, 'crds/mirrorpolicies.umbra.dev.yaml'))[0];
const crdSpec = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec as SchemaProps;
const policy = (spec: Json): Json => ({
  apiVersion: 'umbra.dev/v1alpha1',
  kind: 'MirrorPolicy',
  metadata: { name: 'p', namespace: 'default' },
  spec,
});

/** Object-schema nodes of the CRD's spec, with a path and a way to build an object reaching them. */
function objectNodes(s: SchemaProps, path: string[] = []): { path: string[]; schema: SchemaProps }[] {
  const out: { path: string[]; schema: SchemaProps }[] = [];
  if (s.type === 'object' && s.properties) {
    out.push({ path, schema: s });
    for (const [k, p] of Object.entries(s.properties)) out.push(...objectNodes(p, [...path, k]));
  }
  if (s.type === 'array' && s.items) out.push(...objectNodes(s.items, [...path, '[0]']));
  return out;
}

function reach(path: string[], leaf: Json): Json {
  let v: unknown = leaf;
  for (let i = path.length - 1; i >= 0; i--) v = path[i] === '[0]' ? [v] : { [path[i]]: v };
  return v as Json;
}

test('MirrorPolicy CRD: every object in its schema has exactly the fields Umbra accepts there', () => {
  const nodes = objectNodes(crdSpec);
  assert.ok(nodes.length >= 10, String(nodes.length));
  for (const n of nodes) {
    const r = validateObject(policy(reach(n.path, { zzzzunknownfield: 1 })), SOURCE);
    const at = ['spec', ...n.path].join('.').replace(/\.\[0\]/g, '[0]');
    const issue = r.issues.find((i) => i.path === `${at}.zzzzunknownfield`);
    const hint = issue?.hint ?? '';
    assert.ok(hint.startsWith('known fields: '), `${at}: ${JSON.stringify(r.issues)}`);
    assert.deepEqual(
      hint.slice('known fields: '.length).split(', ').sort(),
      Object.keys(n.schema.properties!).sort(),
      `fields at ${at}`,
    );
  }
});

test('MirrorPolicy CRD: enums match, and samples are judged the same by the CRD and by Umbra', () => {
  const enums: [string[], unknown[]][] = [];
  const walk = (s: SchemaProps, path: string[]) => {
    if (s.enum) enums.push([path, s.enum]);
    for (const [k, p] of Object.entries(s.properties ?? {})) walk(p, [...path, k]);
    if (s.items) walk(s.items, [...path, '[0]']);
  };
  walk(crdSpec, []);
  assert.ok(enums.length >= 3);
  for (const [path, values] of enums) {
    const r = validateObject(policy(reach(path, 'zzzz' as unknown as Json)), SOURCE);
    const at = ['spec', ...path].join('.').replace(/\.\[0\]/g, '[0]');
    const issue = r.issues.find((i) => i.path === at && i.message.includes('is not one of'));
    assert.ok(issue, `${at}: ${JSON.stringify(r.issues)}`);
    assert.deepEqual(
      issue.message
        .replace(/^"zzzz" is not one of /, '')
        .split(', ')
        .sort(),
      values.map(String).sort(),
      at,
    );
  }
  const valid = docs(join(REPO_ROOT, 'test/fixtures/valid/umbra-extras.yaml')).filter(
    (o) => o.kind === 'MirrorPolicy',
  );
  const invalid: Json[] = [
    { targetRefs: [] },
    { targetRefs: [{ kind: 'Pod', name: 'x' }] },
    { targetRefs: [{ kind: 'Service', name: 'x' }], timeout: 'soon' },
    { targetRefs: [{ kind: 'Service', name: 'x' }], maxInFlight: 0 },
    { targetRefs: [{ kind: 'Service', name: 'x' }], methods: ['get'] },
    { targetRefs: [{ kind: 'Service', name: 'x' }], headers: { set: [{ name: 'bad header', value: 'v' }] } },
    { targetRefs: [{ kind: 'Service', name: 'x' }], compare: { maxBodyBytes: 10 } },
    { targetRefs: [{ kind: 'Service', name: 'x' }], bogus: true },
    {
      targetRefs: [{ kind: 'Service', name: 'x' }],
      compare: { enabled: true, thresholds: { absolute: 101 } },
    },
  ];
  assert.ok(valid.length >= 1);
  for (const v of valid) {
    assert.deepEqual(
      checkSchema(v.spec, crdSpec),
      [],
      `CRD rejects a policy Umbra accepts: ${JSON.stringify(v.spec)}`,
    );
    assert.ok(validateObject(v, SOURCE).resource);
  }
  for (const spec of invalid) {
    assert.notDeepEqual(checkSchema(spec, crdSpec), [], `CRD accepts ${JSON.stringify(spec)}`);
    assert.equal(
      validateObject(policy(spec), SOURCE).resource,
      undefined,
      `Umbra accepts ${JSON.stringify(spec)}`,
    );
  }
  assert.equal(crd.spec.names.kind, 'MirrorPolicy');
  assert.equal(`${crd.spec.names.plural}.${crd.spec.group}`, crd.metadata.name);
  const watched = WATCHED_KINDS.find((k) => k.kind === 'MirrorPolicy')!;
  assert.deepEqual(
    [crd.spec.group, crd.spec.versions[0].name, crd.spec.names.plural, crd.spec.scope],
    [watched.group, watched.version, watched.plural, 'Namespaced'],
  );
});

test('the Dockerfile builds src only, prunes dev dependencies and runs as a non-root user (not built here: no Docker)', () => {
  const dockerfile = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
  const stages = dockerfile.match(/^FROM .*/gm) ?? [];
  assert.equal(stages.length, 2, 'multi-stage');
  assert.match(dockerfile, /npm ci /);
  assert.match(dockerfile, /npm prune --omit=dev/);
  assert.match(dockerfile, /^USER 10001:10001$/m);
  // Node 24 is the runtime the image ships (issue 18); the ENTRYPOINT's node flags and the ENV's
  // malloc settings are the ones `npm run bench` runs Umbra with (bench/image-runtime.ts), and this
  // runtime accepts the flags.
  assert.match(dockerfile, /^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
  const entry = dockerfile.match(/^ENTRYPOINT \["node", (.*), "\/app\/bin\/umbra\.js"\]$/m);
  const flags = JSON.parse(`[${entry?.[1] ?? ''}]`) as string[];
  assert.deepEqual(flags, IMAGE_NODE_FLAGS);
  execFileSync(process.execPath, [...flags, '-e', '0']);
  // The runtime stage's ENV instruction (after the second FROM), continuation lines joined.
  const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const envs = [...runtimeStage.matchAll(/^ENV ((?:.*\\\n)*.*)$/gm)].map((m) => m[1].replace(/\\\n/g, ' '));
  const env = Object.fromEntries(
    envs.flatMap((e) =>
      e
        .trim()
        .split(/\s+/)
        .map((kv) => kv.split('=')),
    ),
  );
  for (const [k, v] of Object.entries(IMAGE_ENV)) assert.equal(env[k], v, `the image sets ${k}=${v}`);
  for (const m of dockerfile.matchAll(/^COPY (?!--from)(?:--\S+ )*(.+) \S+$/gm))
    for (const src of m[1].split(' '))
      assert.ok(existsSync(join(REPO_ROOT, src)), `COPY source ${src} exists`);
  const image = JSON.parse(readFileSync(join(DEPLOY, 'tsconfig.image.json'), 'utf8'));
  assert.deepEqual(image.include, ['../src/**/*.ts']);
  assert.ok(existsSync(join(dirname(join(DEPLOY, 'tsconfig.image.json')), image.extends)));
});
