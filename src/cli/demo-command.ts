// `umbra demo`: the seed's task on one machine. Starts httpbin v1 and v2 (built-in workloads) and
// Umbra, applies the seed's resources step by step through the admin API — as `umbra apply` would —
// and shows each workload's access log, like `kubectl logs` in the task.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { http } from '../runtime/node-http.js';
import { promisify } from 'node:util';
import { formatIssue, type ConfigIssue } from '../config/issues.js';
import { startUmbra } from '../runtime/umbra.js';
import { startHttpbin } from '../workloads/httpbin.js';
import { adminCall } from './admin-client.js';
import { kindRef } from './resource-commands.js';
import { parseAddress } from './addresses.js';

const run = promisify(execFile);
const EXAMPLES = resolve(dirname(fileURLToPath(import.meta.url)), '../../../examples/seed');

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);

function say(s = ''): void {
  process.stdout.write(`${s}\n`);
}

interface Step {
  readonly title: string;
  readonly files: readonly string[];
}

const STEPS: Record<'istio' | 'gateway', { route: Step; mirror: Step }> = {
  istio: {
    route: {
      title: 'Create a default route rule that sends all traffic to v1 (VirtualService + DestinationRule)',
      files: ['route-v1.yaml'],
    },
    mirror: {
      title: 'Change the route rule to mirror traffic to httpbin-v2 (mirror + mirrorPercentage 100)',
      files: ['mirror.yaml'],
    },
  },
  gateway: {
    route: {
      title: 'Create httpbin-v1/httpbin-v2 Services and an HTTPRoute that sends all traffic to v1',
      files: ['gateway-api-route-v1.yaml'],
    },
    mirror: {
      title: 'Add a RequestMirror filter to the HTTPRoute, mirroring to httpbin-v2',
      files: ['gateway-api-mirror.yaml'],
    },
  },
};

/**
 * What `kubectl exec deploy/curl -- curl -sS http://httpbin:8000/headers` does in the task: the real
 * curl, sent through Umbra as its proxy. Without curl on the machine, node's own client stands in,
 * and says so in its User-Agent.
 */
async function curlThroughProxy(
  proxy: { host: string; port: number },
  url: string,
): Promise<{ command: string; body: string }> {
  const proxyUrl = `http://${proxy.host}:${proxy.port}`;
  try {
    const { stdout } = await run('curl', ['-sS', '--proxy', proxyUrl, url], { timeout: 10_000 });
    return { command: `http_proxy=${proxyUrl} curl -sS ${url}`, body: stdout };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const body = await new Promise<string>((ok, fail) => {
    const u = new URL(url);
    const req = http.request(
      {
        host: proxy.host,
        port: proxy.port,
        path: url,
        headers: { host: u.host, 'user-agent': 'umbra-demo (curl not installed)', accept: '*/*' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => ok(text));
      },
    );
    req.on('error', fail);
    req.end();
  });
  return { command: `GET ${url} through ${proxyUrl} (curl is not installed; node's client instead)`, body };
}

async function applyFile(admin: string, file: string): Promise<void> {
  const text = readFileSync(join(EXAMPLES, file), 'utf8');
  say(dim(`$ umbra apply -f examples/seed/${file}`));
  const { status, json } = await adminCall(admin, 'POST', `/apis/apply?source=examples/seed/${file}`, text);
  if (status !== 200)
    throw new Error(`apply ${file} failed:\n${(json.issues as ConfigIssue[]).map(formatIssue).join('\n')}`);
  for (const r of json.results ?? []) say(`${kindRef(r)} ${r.result}`);
}

export async function demoCommand(f: {
  once?: boolean;
  api: 'istio' | 'gateway';
  listen: string;
  admin: string;
}): Promise<void> {
  const logs: Record<string, string[]> = { 'httpbin-v1': [], 'httpbin-v2': [] };
  let live = false;
  const sink = (name: string) => (line: string) => {
    logs[name].push(line);
    if (live) say(`${dim(`[${name}]`)} ${line}`);
  };
  const v1 = await startHttpbin({ name: 'httpbin-v1', log: sink('httpbin-v1') });
  const v2 = await startHttpbin({ name: 'httpbin-v2', log: sink('httpbin-v2') });
  const state = mkdtempSync(join(tmpdir(), 'umbra-demo-'));
  // The seed's Deployments, declared as WorkloadEntries on the ports the built-in httpbins got.
  mkdirSync(join(state, 'config'));
  const workloads = join(state, 'config', 'workloads.yaml');
  writeFileSync(
    workloads,
    readFileSync(join(EXAMPLES, 'workloads.yaml'), 'utf8')
      .replace('http: 18081', `http: ${v1.port}`)
      .replace('http: 18082', `http: ${v2.port}`),
  );
  const listen = parseAddress(f.listen);
  const adminAddr = parseAddress(f.admin);
  const files = [join(EXAMPLES, 'service.yaml'), workloads];
  let quit: () => void = () => undefined;
  const stopped = new Promise<void>((ok) => (quit = ok));
  const start = (l: typeof listen, a: typeof adminAddr) =>
    startUmbra({
      onQuit: () => quit(),
      files,
      listen: l,
      admin: a,
      stateDir: join(state, 'state'),
      // The demo's state is a temporary directory: nothing to restore, nothing to say about it.
      log: (line) => void (/no applied resources stored/.test(line) || say(dim(`umbra: ${line}`))),
    });
  let umbra;
  try {
    umbra = await start(listen, adminAddr);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
      await Promise.all([v1.close(), v2.close()]);
      rmSync(state, { recursive: true, force: true });
      throw e;
    }
    // Another walkthrough (or Umbra) holds the usual ports: the demo needs none in particular.
    umbra = await start({ ...listen, port: 0 }, { ...adminAddr, port: 0 });
    say(
      bold(
        `Port ${listen.port} (proxy) or ${adminAddr.port} (admin) is taken by another process; this demo uses free ports instead: proxy ${umbra.listener.address.port}, admin ${new URL(umbra.adminUrl).port}.`,
      ),
    );
  }
  const adminHostPort = umbra.adminUrl.replace(/^http:\/\//, '');
  const admin = umbra.adminUrl;
  const proxy = umbra.listener.address;
  const steps = STEPS[f.api];
  const shutdown = async () => {
    await umbra.close(1000);
    await Promise.all([v1.close(), v2.close()]);
    rmSync(state, { recursive: true, force: true });
  };

  try {
    say(
      bold(
        `Umbra demo — Istio's "Mirroring" task on one machine (${f.api === 'istio' ? 'Istio API' : 'Gateway API'})`,
      ),
    );
    say(`httpbin-v1 on ${v1.url}, httpbin-v2 on ${v2.url} (declared by WorkloadEntry: ${dim(workloads)})`);
    say(`Umbra proxy on ${umbra.proxyUrl}, admin on ${admin}; resources: examples/seed/service.yaml`);
    say();
    say(bold(`1. ${steps.route.title}`));
    for (const file of steps.route.files) await applyFile(admin, file);
    await sendAndShow(proxy, logs, false);
    say(bold('   v1 logged the request; v2 logged nothing.'));
    say();
    say(bold(`2. ${steps.mirror.title}`));
    for (const file of steps.mirror.files) await applyFile(admin, file);
    await sendAndShow(proxy, logs, true);
    say(
      bold(
        '   Both logged it: v2 received the mirrored copy with the Host "-shadow" appended; its response was discarded.',
      ),
    );
    if (f.api === 'gateway') await showRouteStatus(admin);
  } catch (e) {
    await shutdown();
    throw e;
  }

  if (f.once) {
    await shutdown();
    return;
  }
  say();
  say(bold('Everything keeps running. Try:'));
  say(`  http_proxy=${umbra.proxyUrl} curl -sS http://httpbin:8000/headers`);
  say(`  curl -sS -H 'Host: httpbin:8000' ${umbra.proxyUrl}/anything`);
  say(`  npx umbra status --admin ${adminHostPort}`);
  say(
    `  npx umbra get ${f.api === 'gateway' ? 'httproute' : 'virtualservice'} httpbin -o yaml --admin ${adminHostPort}`,
  );
  say(
    `New access-log lines of both workloads appear below. Ctrl-C (or npx umbra stop --admin ${adminHostPort}) stops everything; the demo leaves nothing behind.`,
  );
  live = true;
  await new Promise<void>((ok) => {
    process.once('SIGINT', ok);
    process.once('SIGTERM', ok);
    void stopped.then(ok);
  });
  await shutdown();
}

async function sendAndShow(
  proxy: { host: string; port: number },
  logs: Record<string, string[]>,
  expectCopy: boolean,
): Promise<void> {
  const before = logs['httpbin-v2'].length;
  const res = await curlThroughProxy(proxy, 'http://httpbin:8000/headers');
  say(dim(`$ ${res.command}   (the task's curl pod, with Umbra as its proxy)`));
  say(res.body.trimEnd());
  // The copy is fire-and-forget and may land just after the primary's answer: wait for it a
  // little when one is expected, and briefly otherwise so a stray copy would show.
  const deadline = Date.now() + (expectCopy ? 3000 : 300);
  while (Date.now() < deadline && (!expectCopy || logs['httpbin-v2'].length === before))
    await new Promise((r) => setTimeout(r, 25));
  say(dim('httpbin-v1 access log (what `kubectl logs deploy/httpbin-v1 -c httpbin` shows in the task):'));
  say(logs['httpbin-v1'].join('\n') || '<none>');
  say(dim('httpbin-v2 access log:'));
  say(logs['httpbin-v2'].join('\n') || '<none>');
}

/** The HTTPRoute's status as Umbra set it (what `umbra get httproute httpbin -o yaml` shows). */
async function showRouteStatus(admin: string): Promise<void> {
  const { json } = await adminCall(admin, 'GET', '/apis/resources?kind=HTTPRoute&name=httpbin');
  const items =
    (
      json as {
        items?: {
          status?: {
            parents?: {
              parentRef: { kind: string; name: string; port?: number };
              conditions: { type: string; status: string; reason: string }[];
            }[];
          };
        }[];
      }
    ).items ?? [];
  say(dim('$ umbra get httproute httpbin -o yaml   (status, as the Gateway API controller writes it)'));
  for (const p of items[0]?.status?.parents ?? []) {
    const ref = `${p.parentRef.kind} ${p.parentRef.name}${p.parentRef.port ? `:${p.parentRef.port}` : ''}`;
    say(`   parent ${ref}: ${p.conditions.map((c) => `${c.type}=${c.status} (${c.reason})`).join(', ')}`);
  }
}
