// scripts/ascii-dist.mjs, the build step that turns the compiled code into ASCII: escaped code
// must mean what it meant (strings, templates, regexes with and without the u flag, identifiers),
// the cases escaping would change are refused, and every build command runs it.
// Written in ASCII itself (\u escapes), as a file holding String.raw and an escaped non-ASCII
// character is one the script refuses.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';

const SCRIPT = join(REPO_ROOT, 'scripts', 'ascii-dist.mjs');
const NON_ASCII = /[\u0080-\uffff]/;

// Every place compiled code can hold a non-ASCII character, each printing what it evaluates to.
const PROGRAM = `// a comment \u2014 with \u2192 arrows
const caf\u00e9 = 'na\u00efve \u2014 \u00d7';
const tpl = \`\${caf\u00e9}: \u2264 72 MiB\`;
const results = {
  caf\u00e9,
  tpl,
  latin: /^[\u00e0-\u00ff]+$/.test('\u00e9\u00fc'),
  astralU: /^\ud83d\ude00$/u.test('\ud83d\ude00'),
  astralClassU: /^[\ud83d\ude00\ud83d\ude42]$/u.test('\ud83d\ude42'),
  astralNoU: /^\ud83d\ude00$/.test('\ud83d\ude00'),
  length: '\ud83d\ude00'.length,
  key: { 'cl\u00e9': 1 }['cl\u00e9'],
};
console.log(JSON.stringify(results));
`;

function run(file: string): string {
  return execFileSync(process.execPath, [file], { encoding: 'utf8' });
}

test('ascii-dist: escaped code prints exactly what the original printed, and is ASCII', () => {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-ascii-'));
  try {
    const file = join(dir, 'program.js');
    writeFileSync(file, PROGRAM);
    const before = run(file);
    assert.deepEqual(JSON.parse(before), {
      'caf\u00e9': 'na\u00efve \u2014 \u00d7',
      tpl: 'na\u00efve \u2014 \u00d7: \u2264 72 MiB',
      latin: true,
      astralU: true,
      astralClassU: true,
      astralNoU: true,
      length: 2,
      key: 1,
    });
    execFileSync(process.execPath, [SCRIPT, dir]);
    const after = readFileSync(file, 'utf8');
    assert.doesNotMatch(after, NON_ASCII);
    assert.equal(run(file), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ascii-dist: an identity escape or String.raw is refused and the file left as it was', () => {
  for (const text of ["console.log('\\\u2014');\n", 'console.log(String.raw`\u2014`);\n']) {
    const dir = mkdtempSync(join(tmpdir(), 'umbra-ascii-'));
    try {
      const file = join(dir, 'refused.js');
      writeFileSync(file, text);
      const r = spawnSync(process.execPath, [SCRIPT, dir], { encoding: 'utf8' });
      assert.notEqual(r.status, 0, text);
      assert.match(r.stderr, /refused\.js: escaping would change its meaning/);
      assert.equal(readFileSync(file, 'utf8'), text);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('ascii-dist: every build runs it after tsc (npm run build, prepare, test, bench, and the image)', () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  for (const name of ['build', 'prepare', 'test', 'bench'])
    assert.match(pkg.scripts[name], /^tsc -p tsconfig\.json && node scripts\/ascii-dist\.mjs( &&|$)/, name);
  const dockerfile = readFileSync(join(REPO_ROOT, 'deploy', 'Dockerfile'), 'utf8');
  assert.match(
    dockerfile,
    /RUN npx tsc -p deploy\/tsconfig\.image\.json \\\n && node scripts\/ascii-dist\.mjs dist /,
  );
  assert.match(dockerfile, /^COPY scripts\/ascii-dist\.mjs scripts\/$/m);
});
