// Runs every compiled test file under dist/test with node:test. Node 20 has no glob support in
// `node --test`, so the file list is built here; extra arguments filter files by substring.
// UMBRA_TEST_RUNTIME=image runs them with the container image's node flags and malloc settings
// (bench/image-runtime.ts, held equal to deploy/Dockerfile): .ci/run's Node 24 pass does.
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';

const filters = process.argv.slice(2);
const files = readdirSync('dist/test', { recursive: true })
  .filter((name) => name.endsWith('.test.js'))
  .map((name) => join('dist/test', name))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const runtime = { args: [], env: {} };
if (process.env.UMBRA_TEST_RUNTIME === 'image') {
  const image = await import(pathToFileURL(resolve('dist/bench/image-runtime.js')).href);
  runtime.args = [...image.IMAGE_NODE_FLAGS];
  // test/helpers/cli.ts gives the flags to the Umbra processes it starts.
  runtime.env = { ...image.IMAGE_ENV, UMBRA_TEST_NODE_FLAGS: runtime.args.join(' ') };
  console.log(
    `run-tests: the image's runtime: node ${runtime.args.join(' ')}, ${JSON.stringify(image.IMAGE_ENV)}`,
  );
} else if (process.env.UMBRA_TEST_RUNTIME) {
  console.error(
    `run-tests: UMBRA_TEST_RUNTIME must be "image" or unset, not "${process.env.UMBRA_TEST_RUNTIME}"`,
  );
  process.exit(2);
}
const r = spawnSync(
  process.execPath,
  [...runtime.args, '--test', '--test-concurrency=2', '--test-timeout=120000', ...files],
  { stdio: 'inherit', env: { ...process.env, ...runtime.env } },
);
process.exit(r.status ?? 1);
