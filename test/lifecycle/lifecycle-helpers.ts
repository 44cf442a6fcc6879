// Small pieces the lifecycle regression tests share: a raw upstream that answers without reading
// the request body, and an upload writer for raw client sockets (`service` is the shared helper's).

import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
export { singleEndpointService as service } from '../helpers/umbra.js';

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
