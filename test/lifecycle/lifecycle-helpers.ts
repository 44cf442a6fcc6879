// Small pieces the lifecycle regression tests share: a raw upstream that answers without reading
// the request body, a service YAML around any port, and an upload writer for raw client sockets.

import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { workloadEntry } from '../helpers/umbra.js';

/** A Service named `name` whose one endpoint listens on 127.0.0.1:`port`; `extra` is appended YAML. */
export function service(name: string, port: number, extra = ''): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
  ports:
  - name: http
    port: 8000
    targetPort: 80
  selector:
    app: ${name}
---
${workloadEntry(`${name}-1`, port, { app: name })}${extra}`;
}

export interface RawUpstream {
  readonly port: number;
  /** Request heads seen, in order (the text up to the blank line). */
  readonly heads: string[];
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/**
 * A raw upstream: on each request head it calls `answer` with the head and the socket, and
 * stops reading from that connection if `answer` says so (so a body is never read).
 */
export async function startRawUpstream(
  answer: (head: string, s: Socket, index: number) => 'stop-reading' | void,
): Promise<RawUpstream> {
  const sockets = new Set<Socket>();
  const heads: string[] = [];
  let accepted = 0;
  const server = createNetServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = '';
    let n = 0;
    const onData = (d: Buffer) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        heads.push(head);
        if (answer(head, s, n++) === 'stop-reading') {
          s.off('data', onData);
          s.pause();
          return;
        }
        // Only bodyless requests reach here in these tests: drop anything after the head.
        buf = '';
      }
    };
    s.on('data', onData);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: (server.address() as AddressInfo).port,
    heads,
    connections: () => accepted,
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}

/**
 * Writes `total` bytes of body on `s` in 64 KiB chunks, honouring back-pressure; resolves with
 * the bytes the socket accepted when it is done or the connection ends.
 */
export function upload(s: Socket, total: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 'u');
  let sent = 0;
  return new Promise((ok) => {
    const finish = () => ok(sent);
    s.once('close', finish);
    const pump = () => {
      while (sent < total && !s.destroyed) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once('drain', pump);
      }
      if (sent >= total) {
        s.off('close', finish);
        ok(sent);
      }
    };
    pump();
  });
}
