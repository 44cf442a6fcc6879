// Tells HTTP/2 with prior knowledge from HTTP/1.x on one plaintext port: an h2c client opens with
// the 24-byte connection preface (RFC 9113 §3.4), which no HTTP/1.x request line can start with.
// The bytes read to decide are handed on, so whichever server takes the socket sees them all.

import type { Socket } from 'node:net';
import { H2_PREFACE } from './h2-server.js';

/**
 * Calls `done(true)` once the preface has arrived, `done(false)` as soon as the first bytes differ
 * from it (an HTTP/1.x request, or anything else for the HTTP/1.1 server to refuse), or when the
 * client ends or is silent for `timeoutMs` before deciding (then the HTTP/1.1 server's own
 * timeouts take over).
 */
export function sniffPreface(socket: Socket, timeoutMs: number, done: (h2: boolean) => void): void {
  let seen: Buffer = Buffer.alloc(0);
  let decided = false;
  const decide = (h2: boolean) => {
    if (decided) return;
    decided = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    if (h2) {
      // node's HTTP/2 session reads what is buffered on the socket before its own reads.
      socket.pause();
      if (seen.length > 0) socket.unshift(seen);
      done(true);
      return;
    }
    // node's HTTP/1 server reads the socket's handle directly once it has it (so bytes put back on
    // the stream would be skipped): they are handed to its 'data' listener right after it attached.
    done(false);
    if (seen.length > 0 && !socket.destroyed) socket.emit('data', seen);
  };
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, H2_PREFACE.length);
    if (seen.compare(H2_PREFACE, 0, n, 0, n) !== 0) decide(false);
    else if (n === H2_PREFACE.length) decide(true);
  };
  const onEnd = () => decide(false);
  const timer = setTimeout(() => decide(false), timeoutMs);
  timer.unref();
  socket.on('data', onData);
  socket.once('end', onEnd);
}
