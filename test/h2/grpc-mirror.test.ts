// gRPC through Umbra with @grpc/grpc-js on both ends: a Service whose port is named "grpc", a
// VirtualService mirroring to v2. Unary, server-, client- and bidi-streaming calls succeed; v2 gets
// complete copies with :authority <host>-shadow:<port>; NOT_FOUND and its message reach the client;
// the metrics carry the gRPC status; a hung gRPC mirror leaves 100 primary calls within their
// deadline; a GRPCRoute on a Service parent with RequestMirror routes to v1 and copies to v2.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { request } from 'undici';
import { waitFor } from '../helpers/servers.js';
import { startTestUmbra, workloadEntry } from '../helpers/umbra.js';

// Messages are raw bytes: no protobuf needed to exercise the transport.
const bytes = {
  serialize: (b: Buffer) => b,
  deserialize: (b: Buffer) => b,
};
const SERVICE = {
  unary: { path: '/echo.Echo/Unary', requestStream: false, responseStream: false, ...bytesPair() },
  serverStream: {
    path: '/echo.Echo/ServerStream',
    requestStream: false,
    responseStream: true,
    ...bytesPair(),
  },
  clientStream: {
    path: '/echo.Echo/ClientStream',
    requestStream: true,
    responseStream: false,
    ...bytesPair(),
  },
  bidi: { path: '/echo.Echo/Bidi', requestStream: true, responseStream: true, ...bytesPair() },
} satisfies grpc.ServiceDefinition;

function bytesPair() {
  return {
    requestSerialize: bytes.serialize,
    requestDeserialize: bytes.deserialize,
    responseSerialize: bytes.serialize,
    responseDeserialize: bytes.deserialize,
  };
}

interface Seen {
  method: string;
  authority: string;
  /** Request messages the server got, joined; complete: the client's stream ended normally. */
  body: string;
  complete: boolean;
}

interface EchoServer {
  port: number;
  seen: Seen[];
  /** Never answer (a hung mirror). */
  hang: boolean;
  close(): Promise<void>;
}

async function echoServer(name: string): Promise<EchoServer> {
  const server = new grpc.Server();
  const s: EchoServer = { port: 0, seen: [], hang: false, close: () => Promise.resolve() };
  const record = (call: { getHost(): string }, method: string, body: string, complete: boolean) =>
    s.seen.push({ method, authority: call.getHost(), body, complete });
  server.addService(SERVICE, {
    unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      record(call, 'unary', call.request.toString(), true);
      if (s.hang) return;
      const msg = call.request.toString();
      if (msg === 'missing') return cb({ code: grpc.status.NOT_FOUND, details: 'no such thing: missing' });
      // For the comparison test: answers both versions give alike, and calls only v2 fails.
      if (msg.startsWith('same')) return cb(null, Buffer.from(msg));
      if (name === 'v2' && msg.startsWith('diverge'))
        return cb({ code: grpc.status.NOT_FOUND, details: `v2 lost ${msg}` });
      cb(null, Buffer.from(`${name}:${msg}`));
    },
    serverStream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      record(call, 'serverStream', call.request.toString(), true);
      if (s.hang) return;
      for (let i = 0; i < 5; i++) call.write(Buffer.from(`${name}:${i}`));
      call.end();
    },
    clientStream: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const parts: string[] = [];
      call.on('data', (b: Buffer) => parts.push(b.toString()));
      call.on('end', () => {
        record(call, 'clientStream', parts.join(','), true);
        if (!s.hang) cb(null, Buffer.from(`${name}:${parts.join(',')}`));
      });
      call.on('error', () => record(call, 'clientStream', parts.join(','), false));
    },
    bidi: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      const parts: string[] = [];
      call.on('data', (b: Buffer) => {
        parts.push(b.toString());
        if (!s.hang) call.write(Buffer.from(`${name}:${b.toString()}`));
      });
      call.on('end', () => {
        record(call, 'bidi', parts.join(','), true);
        if (!s.hang) call.end();
      });
      call.on('error', () => record(call, 'bidi', parts.join(','), false));
    },
  });
  s.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    ),
  );
  s.close = () => new Promise((r) => server.tryShutdown(() => r()));
  return s;
}

const Client = grpc.makeGenericClientConstructor(SERVICE, 'Echo');
type EchoClient = InstanceType<typeof Client> & Record<string, (...args: unknown[]) => unknown>;

function client(umbraPort: number, authority: string): EchoClient {
  return new Client(`127.0.0.1:${umbraPort}`, grpc.credentials.createInsecure(), {
    'grpc.default_authority': authority,
  }) as EchoClient;
}

function unary(c: EchoClient, msg: string, deadlineMs = 5000): Promise<string> {
  return new Promise((resolve, reject) =>
    c.unary(
      Buffer.from(msg),
      { deadline: Date.now() + deadlineMs },
      (err: grpc.ServiceError | null, res: Buffer) => (err ? reject(err) : resolve(res.toString())),
    ),
  );
}

const mesh = (v1: number, v2: number) => ({
  'service.yaml': `apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{name: grpc, port: 9000}]
`,
  'workloads.yaml': `${workloadEntry('echo-v1', v1, { app: 'echo', version: 'v1' }, 'grpc')}---
${workloadEntry('echo-v2', v2, { app: 'echo', version: 'v2' }, 'grpc')}`,
  'dr.yaml': `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo}
spec:
  host: echo
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`,
});

const virtualService = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo}
spec:
  hosts: [echo]
  http:
  - route: [{destination: {host: echo, subset: v1}, weight: 100}]
    mirror: {host: echo, subset: v2}
    mirrorPercentage: {value: 100}
`;

test('gRPC unary and streaming calls through a mirrored VirtualService; v2 gets complete copies', async () => {
  const v1 = await echoServer('v1');
  const v2 = await echoServer('v2');
  const umbra = await startTestUmbra({ ...mesh(v1.port, v2.port), 'vs.yaml': virtualService });
  const c = client(umbra.listener.address.port, 'echo:9000');
  try {
    assert.equal(await unary(c, 'hello'), 'v1:hello');

    const streamed: string[] = await new Promise((resolve, reject) => {
      const out: string[] = [];
      const call = c.serverStream(Buffer.from('go')) as grpc.ClientReadableStream<Buffer>;
      call.on('data', (b: Buffer) => out.push(b.toString()));
      call.on('end', () => resolve(out));
      call.on('error', reject);
    });
    assert.deepEqual(streamed, ['v1:0', 'v1:1', 'v1:2', 'v1:3', 'v1:4']);

    const summed: string = await new Promise((resolve, reject) => {
      const call = c.clientStream((err: grpc.ServiceError | null, res: Buffer) =>
        err ? reject(err) : resolve(res.toString()),
      ) as grpc.ClientWritableStream<Buffer>;
      for (const x of ['a', 'b', 'c']) call.write(Buffer.from(x));
      call.end();
    });
    assert.equal(summed, 'v1:a,b,c');

    const echoed: string[] = await new Promise((resolve, reject) => {
      const out: string[] = [];
      const call = c.bidi() as grpc.ClientDuplexStream<Buffer, Buffer>;
      call.on('data', (b: Buffer) => {
        out.push(b.toString());
        if (out.length < 3) call.write(Buffer.from(`m${out.length}`));
        else call.end();
      });
      call.on('end', () => resolve(out));
      call.on('error', reject);
      call.write(Buffer.from('m0'));
    });
    assert.deepEqual(echoed, ['v1:m0', 'v1:m1', 'v1:m2']);

    // NOT_FOUND and its message reach the client.
    await assert.rejects(unary(c, 'missing'), (e: grpc.ServiceError) => {
      assert.equal(e.code, grpc.status.NOT_FOUND);
      assert.equal(e.details, 'no such thing: missing');
      return true;
    });

    // v2 got complete copies of every call, addressed to echo-shadow:9000.
    await waitFor(() => v2.seen.length === 5, 5000);
    assert.deepEqual(v2.seen.map((x) => `${x.method}=${x.body}/${x.complete}`).sort(), [
      'bidi=m0,m1,m2/true',
      'clientStream=a,b,c/true',
      'serverStream=go/true',
      'unary=hello/true',
      'unary=missing/true',
    ]);
    assert.ok(
      v2.seen.every((x) => x.authority === 'echo-shadow:9000'),
      JSON.stringify(v2.seen),
    );
    assert.ok(
      v1.seen.every((x) => x.authority === 'echo:9000'),
      JSON.stringify(v1.seen),
    );

    // Metrics: request_protocol="grpc" with the gRPC status of each call.
    const metrics = await (await request(`${umbra.adminUrl}/stats/prometheus`)).body.text();
    const lines = metrics
      .split('\n')
      .filter((l) => l.startsWith('istio_requests_total{') && l.includes('mirror="false"'));
    assert.ok(
      lines.some((l) => l.includes('request_protocol="grpc"') && l.includes('grpc_response_status="5"')),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => l.includes('request_protocol="grpc"') && l.includes('grpc_response_status="0"')),
      lines.join('\n'),
    );
  } finally {
    c.close();
    await umbra.close();
    await Promise.all([v1.close(), v2.close()]);
  }
});

test('a hung gRPC mirror leaves 100 primary calls within their deadline', async () => {
  const v1 = await echoServer('v1');
  const v2 = await echoServer('v2');
  v2.hang = true;
  const umbra = await startTestUmbra({ ...mesh(v1.port, v2.port), 'vs.yaml': virtualService });
  const c = client(umbra.listener.address.port, 'echo:9000');
  try {
    // Warm the connection, then 100 calls at once, each with a 1 s deadline.
    assert.equal(await unary(c, 'warm'), 'v1:warm');
    const results = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => unary(c, `n${i}`, 1000)));
    const failed = results.filter((r) => r.status === 'rejected');
    assert.equal(failed.length, 0, String((failed[0] as PromiseRejectedResult | undefined)?.reason));
    // The copies did reach the hung mirror (so it really was in the way to be waited for).
    await waitFor(() => v2.seen.length > 0, 5000);
  } finally {
    c.close();
    await umbra.close(100);
    await Promise.all([v1.close(), v2.close()]);
  }
});

test('no healthy upstream on a gRPC request is UNAVAILABLE; fault abort.grpcStatus reaches the client', async () => {
  const v1 = await echoServer('v1');
  const v2 = await echoServer('v2');
  const port = v1.port;
  await v1.close();
  const umbra = await startTestUmbra({
    ...mesh(port, v2.port),
    'vs.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo}
spec:
  hosts: [echo]
  http:
  - match: [{uri: {prefix: /echo.Echo/Unary}, headers: {x-fault: {exact: "1"}}}]
    fault: {abort: {grpcStatus: RESOURCE_EXHAUSTED, percentage: {value: 100}}}
    route: [{destination: {host: echo, subset: v2}}]
  - route: [{destination: {host: echo, subset: v1}}]
    retries: {attempts: 0}
`,
  });
  const c = client(umbra.listener.address.port, 'echo:9000');
  try {
    await assert.rejects(unary(c, 'x'), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
    const md = new grpc.Metadata();
    md.set('x-fault', '1');
    await assert.rejects(
      new Promise((resolve, reject) =>
        c.unary(Buffer.from('x'), md, (err: grpc.ServiceError | null, res: Buffer) =>
          err ? reject(err) : resolve(res),
        ),
      ),
      (e: grpc.ServiceError) => e.code === grpc.status.RESOURCE_EXHAUSTED,
    );
  } finally {
    c.close();
    await umbra.close();
    await v2.close();
  }
});

test('a GRPCRoute on a Service parent with RequestMirror routes to v1 and copies to v2', async () => {
  const v1 = await echoServer('v1');
  const v2 = await echoServer('v2');
  const files = mesh(v1.port, v2.port);
  const umbra = await startTestUmbra({
    'service.yaml': `${files['service.yaml']}---
apiVersion: v1
kind: Service
metadata: {name: echo-v1}
spec:
  selector: {app: echo, version: v1}
  ports: [{name: grpc, port: 9000}]
---
apiVersion: v1
kind: Service
metadata: {name: echo-v2}
spec:
  selector: {app: echo, version: v2}
  ports: [{name: grpc, port: 9000}]
`,
    'workloads.yaml': files['workloads.yaml'],
    'route.yaml': `apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: echo}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 9000}]
  rules:
  - matches: [{method: {service: echo.Echo, method: Unary}}]
    filters:
    - type: RequestMirror
      requestMirror: {backendRef: {name: echo-v2, port: 9000}, percent: 100}
    backendRefs: [{name: echo-v1, port: 9000}]
`,
  });
  const c = client(umbra.listener.address.port, 'echo:9000');
  try {
    assert.equal(await unary(c, 'routed'), 'v1:routed');
    await waitFor(() => v2.seen.length === 1, 5000);
    assert.equal(v2.seen[0].body, 'routed');
    assert.equal(v2.seen[0].authority, 'echo-shadow:9000');
    // Methods the route does not match are not routed.
    await assert.rejects(
      new Promise((resolve, reject) => {
        const call = c.serverStream(Buffer.from('x')) as grpc.ClientReadableStream<Buffer>;
        call.on('data', () => undefined);
        call.on('end', resolve);
        call.on('error', reject);
      }),
      (e: grpc.ServiceError) => e.code === grpc.status.UNIMPLEMENTED,
    );
  } finally {
    c.close();
    await umbra.close();
    await Promise.all([v1.close(), v2.close()]);
  }
});

test("comparison of gRPC answers reads grpc-status from both sides' trailers", async () => {
  const v1 = await echoServer('v1');
  const v2 = await echoServer('v2');
  const policy = `apiVersion: umbra.dev/v1alpha1
kind: MirrorPolicy
metadata: {name: echo-v2}
spec:
  targetRefs:
  - {group: networking.istio.io, kind: DestinationRule, name: echo, sectionName: v2}
  compare: {enabled: true}
`;
  const umbra = await startTestUmbra({
    ...mesh(v1.port, v2.port),
    'vs.yaml': virtualService,
    'policy.yaml': policy,
  });
  const c = client(umbra.listener.address.port, 'echo:9000');
  try {
    // Alike answers (grpc-status 0 in the trailers of both): equal, not a grpc-status difference.
    for (let i = 0; i < 6; i++) assert.equal(await unary(c, `same-${i}`), `same-${i}`);
    // v2 fails these (NOT_FOUND, a Trailers-Only answer) while v1 answers: a grpc-status difference.
    for (let i = 0; i < 6; i++) assert.equal(await unary(c, `diverge-${i}`), `v1:diverge-${i}`);
    type Report = {
      groups: { compared: number; equal: number; differences: { field: string }[] }[];
    };
    let report: Report = { groups: [] };
    await waitFor(async () => {
      const r = await request(`${umbra.adminUrl}/compare/report`);
      report = (await r.body.json()) as Report;
      return report.groups.reduce((n, g) => n + g.compared, 0) >= 12;
    }, 10_000);
    const equal = report.groups.reduce((n, g) => n + g.equal, 0);
    const fields = report.groups.flatMap((g) => g.differences.map((d) => d.field));
    assert.equal(equal, 6, JSON.stringify(report.groups));
    assert.ok(
      fields.some((f) => f.includes('grpc-status')),
      fields.join(', '),
    );
  } finally {
    c.close();
    await umbra.close(100);
    await Promise.all([v1.close(), v2.close()]);
  }
});
