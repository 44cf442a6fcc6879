// `umbra httpbin`: the built-in httpbin-compatible workload, for demos and tests.

import { startHttpbin } from '../workloads/httpbin.js';
import { parseAddress } from './addresses.js';

export async function httpbinCommand(f: { listen: string; name: string }): Promise<void> {
  const { host, port } = parseAddress(f.listen);
  const h = await startHttpbin({ host, port, name: f.name });
  process.stderr.write(`httpbin ${f.name} listening on ${h.url}\n`);
  const stop = () => void h.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
