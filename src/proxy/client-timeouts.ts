// Connections the listener answered 408 on while the proxy held their request (request or idle
// timeout), so the proxy logs that request as 408 SI rather than as the client's abort (499 DC).

import type { Socket } from 'node:net';

const timedOutSockets = new WeakSet<Socket>();

export function markTimedOut(socket: Socket): void {
  timedOutSockets.add(socket);
}

export function timedOut(socket: Socket): boolean {
  return timedOutSockets.has(socket);
}
