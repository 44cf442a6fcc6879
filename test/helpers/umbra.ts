// Starts a real Umbra in the test process on loopback port 0, with resources written to a temp
// directory, so integration tests exercise the same code path as `umbra run`.

import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startUmbra, type Umbra, type UmbraOptions } from '../../src/runtime/umbra.js';
import { scratchDir } from './scratch.js';

export interface TestUmbra extends Umbra {
  readonly dir: string;
  readonly logs: string[];
  readonly accessLines: string[];
  /** Writes (or rewrites) a resource file in the watched directory. */
  write(name: string, yaml: string): string;
}

export async function startTestUmbra(
  files: Record<string, string>,
  extra: Partial<UmbraOptions> = {},
): Promise<TestUmbra> {
  const dir = scratchDir('umbra-test-');
  const write = (name: string, yaml: string) => {
    const p = join(dir, 'config', name);
    writeFileSync(p, yaml);
    return p;
  };
  const configDir = join(dir, 'config');
  (await import('node:fs')).mkdirSync(configDir);
  for (const [name, yaml] of Object.entries(files)) write(name, yaml);
  const logs: string[] = [];
  const accessLines: string[] = [];
  const u = await startUmbra({
    files: [configDir],
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    stateDir: join(dir, 'state'),
    log: (l) => logs.push(l),
    accessLog: (s) => accessLines.push(...s.trimEnd().split('\n')),
    ...extra,
  });
  return Object.assign(Object.create(null), u, {
    dir,
    logs,
    accessLines,
    write,
    close: async (drainMs?: number) => {
      await u.close(drainMs ?? 1000);
      rmSync(dir, { recursive: true, force: true });
    },
  }) as TestUmbra;
}

/** WorkloadEntry YAML for a workload listening on 127.0.0.1:port. */
export function workloadEntry(
  name: string,
  port: number,
  labels: Record<string, string>,
  portName = 'http',
): string {
  const l = Object.entries(labels)
    .map(([k, v]) => `    ${k}: ${v}`)
    .join('\n');
  return `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: ${name}
spec:
  address: 127.0.0.1
  ports:
    ${portName}: ${port}
  labels:
${l}
`;
}

export interface Member {
  readonly name: string;
  readonly port: number;
  readonly labels?: Readonly<Record<string, string>>;
}

/** Service `name` on `port` (targetPort 80) and one WorkloadEntry per member on 127.0.0.1. */
export function serviceWith(name: string, members: readonly Member[], port = 8000): string {
  return [
    `apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
  ports:
  - name: http
    port: ${port}
    targetPort: 80
  selector:
    app: ${name}
`,
    ...members.map((m) => workloadEntry(m.name, m.port, { app: name, ...(m.labels ?? {}) })),
  ].join('---\n');
}

/** A Service named `name` (port 8000) whose one endpoint listens on 127.0.0.1:`port`; `extra` is appended YAML. */
export function singleEndpointService(name: string, port: number, extra = ''): string {
  return serviceWith(name, [{ name: `${name}-1`, port }]) + extra;
}
