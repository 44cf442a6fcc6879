// re2js, loaded when the first RE2 regex is compiled: ~0.6 MiB of heap (measured, README "Memory")
// that a configuration without regex matches or rewrites never needs. Taken through require (its
// CommonJS build, the same version) because compiling happens inside synchronous validation and
// route building, where an `import()` cannot wait.

import { createRequire } from 'node:module';
import type { RE2JS } from 're2js';

let loaded: typeof RE2JS | undefined;

/** re2js's RE2JS class, loaded on first use. */
export function re2(): typeof RE2JS {
  loaded ??= (createRequire(import.meta.url)('re2js') as typeof import('re2js')).RE2JS;
  return loaded;
}
