// undici's Pool class on its own. The package's index also loads fetch, WebSocket, EventSource, the
// cache and mock agents (~9 MiB resident in a proxy that uses none of them), so the class is taken
// from its own file; undici is pinned to an exact version, so the path is fixed with it.

import { createRequire } from 'node:module';
import type { Pool as UndiciPool } from 'undici';

export const Pool = createRequire(import.meta.url)('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
export type Pool = UndiciPool;
