// Issue 16: the dashboard opens a report saved by `umbra replay --compare-to … --report FILE` (a file
// picked in the browser), shows its groups, verdicts and sample pairs like live results, and goes
// back to the live report. Skipped, saying why, only when /usr/bin/chromium is not installed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { runCli } from '../helpers/cli.js';
import { startTestUmbra } from '../helpers/umbra.js';
import { startVersionedService } from '../helpers/versioned-service.js';
import { formatRecordLine, recordTime } from '../../src/record/record-line.js';
import { scratchDir } from '../helpers/scratch.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is not installed (apt-get install -y chromium): the dashboard browser test cannot run`;

test(
  'the dashboard opens a saved replay report and goes back to live results',
  { skip, timeout: 60_000 },
  async () => {
    const dir = scratchDir('umbra-saved-report-');
    const v1 = await startVersionedService('v1');
    const v2 = await startVersionedService('v2');
    const u = await startTestUmbra({});
    let context: BrowserContext | undefined;
    try {
      const t0 = Date.parse('2026-12-01T10:00:00.000Z');
      const lines = Array.from({ length: 6 }, (_, i) =>
        formatRecordLine(
          {
            time: recordTime(t0 + i),
            requestId: `r${i}`,
            mirror: 'm',
            method: 'GET',
            authority: 'app',
            path: `/users/${i}`,
            headers: [],
            truncated: false,
          },
          [],
          0,
        ),
      );
      const rec = join(dir, 'users.jsonl');
      writeFileSync(rec, lines.join(''));
      const report = join(dir, 'report.json');
      const r = await runCli([
        'replay',
        rec,
        '--to',
        `http://127.0.0.1:${v1.port}`,
        '--compare-to',
        `http://127.0.0.1:${v2.port}`,
        '--report',
        report,
        '--rate',
        '500',
      ]);
      assert.equal(r.code, 0, r.stderr + r.stdout);

      const profile = join(dir, 'profile');
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: FLAGS,
      });
      const page = context.pages()[0] ?? (await context.newPage());
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      await page.goto(`${u.adminUrl}/dashboard`);
      await page.locator('#compare-summary .stat').first().waitFor({ timeout: 10_000 });

      await page.locator('#report-file').setInputFiles(report);
      await page.locator('#report-origin', { hasText: 'showing report.json' }).waitFor({ timeout: 10_000 });
      const users = page.locator('.group', { has: page.locator('.endpoint', { hasText: 'GET /users/{n}' }) });
      await users
        .locator('tr.field.difference .field-name', { hasText: '$.plan' })
        .waitFor({ timeout: 10_000 });
      assert.match(
        (await page.locator('#report-origin').textContent()) ?? '',
        new RegExp(`vs http://127.0.0.1:${v2.port}/`),
      );
      // Its sample pairs come from the file, not from the (empty) live engine.
      const candidatePane = page.locator('.pane', { has: page.locator('h4', { hasText: 'Candidate' }) });
      await candidatePane.locator('.line.hl-diff', { hasText: '"pro"' }).waitFor({ timeout: 10_000 });
      // A poll of the live report does not replace the saved one.
      await page.waitForTimeout(2500);
      assert.equal(await users.count(), 1);

      await page.locator('#report-live').click();
      await page.locator('#report-live').waitFor({ state: 'hidden' });
      await page.locator('#compare', { hasNotText: '/users/' }).waitFor({ timeout: 10_000 });
      assert.equal(await users.count(), 0);

      // Not a report: said so, and nothing else changes.
      const notReport = join(dir, 'other.json');
      writeFileSync(notReport, '{"hello": 1}');
      await page.locator('#report-file').setInputFiles(notReport);
      await page.locator('#report-origin', { hasText: 'not an Umbra comparison report' }).waitFor();
      assert.deepEqual(problems, [], 'no script errors and no CSP violations');
    } finally {
      await context?.close();
      await u.close();
      await v1.close();
      await v2.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
