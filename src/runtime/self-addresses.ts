// The addresses Umbra's own listener answers on, as "address:port", for loop protection: a listener
// on a wildcard address (0.0.0.0, ::) answers on every local interface.

import { networkInterfaces } from 'node:os';

const WILDCARDS = new Set(['', '0.0.0.0', '::', '[::]']);

export function selfAddresses(host: string, port: number): string[] {
  if (port === 0) return [];
  if (!WILDCARDS.has(host)) return [`${host}:${port}`];
  const out = new Set<string>([
    `0.0.0.0:${port}`,
    `:::${port}`,
    `127.0.0.1:${port}`,
    `::1:${port}`,
    `localhost:${port}`,
  ]);
  for (const list of Object.values(networkInterfaces()))
    for (const i of list ?? []) out.add(`${i.address}:${port}`);
  return [...out];
}
