// Paths of the YAML fixtures under test/fixtures, found from the compiled test's location so the
// tests do not depend on the working directory.

import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

export function fixture(rel: string): string {
  return root + rel;
}
