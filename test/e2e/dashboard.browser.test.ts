// The dashboard in a real browser (Debian's chromium driven by playwright-core): opened while
// traffic flows, its mirror counters move, the comparison shows the real difference and hides the
// noise, the sample viewer highlights the changed field, the last load's issues are listed, and a
// screenshot is saved. Skipped, saying why, only when /usr/bin/chromium is not installed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { routeToV1, twoVersionService } from '../helpers/mesh-yaml.js';
import { waitFor } from '../helpers/servers.js';
import { startTestUmbra } from '../helpers/umbra.js';
import {
  BASELINE_AND_CANDIDATE,
  comparePolicy,
  sendTraffic,
  startVersionedService,
} from '../helpers/versioned-service.js';
import { scratchDir } from '../helpers/scratch.js';

const CHROMIUM = '/usr/bin/chromium';
/** The flags these machines need: no sandbox as root, and no background network (it is closed). */
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

/** A VirtualService whose destination names no service: a warning in the last load's issues. */
const LEGACY_VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: legacy
spec:
  hosts:
  - legacy.example.com
  http:
  - route:
    - destination:
        host: legacy-backend
`;

const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is not installed (apt-get install -y chromium): the dashboard browser test cannot run`;

async function counter(page: Page): Promise<number> {
  const text = await page
    .locator('[data-mirror="app.default|v2"] [data-counter="sent"]')
    .first()
    .textContent({ timeout: 10_000 });
  return Number((text ?? '').replace(/,/g, ''));
}

test('the dashboard follows live traffic and shows the comparison', { skip, timeout: 60_000 }, async () => {
  const v1 = await startVersionedService('v1');
  const v2 = await startVersionedService('v2');
  const u = await startTestUmbra({
    'mesh.yaml': twoVersionService(v1.port, v2.port),
    'vs.yaml': routeToV1(BASELINE_AND_CANDIDATE),
    'policy.yaml': comparePolicy(true),
    'legacy.yaml': LEGACY_VS,
  });
  const profile = scratchDir('umbra-chromium-');
  const shots = scratchDir('umbra-dashboard-');
  let context: BrowserContext | undefined;
  // Traffic runs in bounded rounds while the page is open, and stops by itself.
  let stop = false;
  let rounds = 0;
  const background = (async () => {
    while (!stop && rounds < 200) {
      rounds++;
      await sendTraffic(u.proxyUrl, 5);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1440, height: 900 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    await page.goto(`${u.adminUrl}/dashboard`);
    assert.equal(await page.title(), 'Umbra — shadow traffic');

    // Counters move while traffic flows (the page polls /clusters).
    const first = await counter(page);
    await waitFor(async () => (await counter(page)) > first, 15_000, 200);
    assert.ok((await counter(page)) > first);

    // The comparison names the real difference and keeps the random field among the noise.
    const users = page.locator('.group', { has: page.locator('.endpoint', { hasText: 'GET /users/{n}' }) });
    await users
      .locator('tr.field.difference .field-name', { hasText: '$.plan' })
      .waitFor({ timeout: 15_000 });
    assert.equal(await users.locator('tr.field.difference').count(), 1);
    assert.match(
      (await users.locator('tr.field.difference').textContent()) ?? '',
      /\$\.plan.*difference.*100%.*"free".*→.*"pro"/s,
    );
    assert.match((await users.locator('details.noise').textContent()) ?? '', /\$\.nonce/);
    const orders = page.locator('.group', { has: page.locator('.endpoint', { hasText: 'GET /orders/{n}' }) });
    await orders.locator('.verdict-ok').waitFor();

    // The sample viewer shows the pair side by side with the changed field highlighted.
    await users.locator('button.link').click();
    await page.locator('#group-select').selectOption({
      label:
        (await page.locator('#group-select option', { hasText: 'GET /users/{n}' }).first().textContent()) ??
        '',
    });
    const candidatePane = page.locator('.pane', { has: page.locator('h4', { hasText: 'Candidate' }) });
    await candidatePane.locator('.line.hl-diff', { hasText: '"pro"' }).waitFor({ timeout: 10_000 });
    await page
      .locator('.pane', { has: page.locator('h4', { hasText: 'Primary' }) })
      .locator('.line.hl-diff', { hasText: '"free"' })
      .waitFor();
    assert.match((await page.locator('.pane').first().textContent()) ?? '', /\[redacted\]/);

    // Primary vs mirror status classes and latency.
    assert.match((await page.locator('#versions').textContent()) ?? '', /2xx/);

    // The last load's issues, with file and line.
    const issues = page.locator('#issues');
    await issues.locator('td', { hasText: 'legacy-backend' }).first().waitFor();
    assert.match((await issues.textContent()) ?? '', /warning.*legacy\.yaml:\d+/s);

    assert.deepEqual(problems, [], 'no script errors and no CSP violations');
    await page.locator('#routes-section').scrollIntoViewIfNeeded();
    const shot = join(shots, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(existsSync(shot));
    if (process.env.UMBRA_DOCS_SCREENSHOT) {
      // Run once with UMBRA_DOCS_SCREENSHOT=1 to refresh the README's picture.
      mkdirSync('docs', { recursive: true });
      await page.screenshot({ path: join('docs', 'dashboard.png'), fullPage: true });
    }
    process.stdout.write(`# dashboard screenshot: ${shot}\n`);

    // A rejected reload is shown as such, and the served version stays.
    u.write(
      'broken.yaml',
      'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: broken\nspec:\n  hosts: [app]\n  http:\n  - route:\n    - destination:\n        host: app\n    mirrorPercentage:\n      value: 101\n',
    );
    await page.locator('.load.rejected').waitFor({ timeout: 15_000 });
    assert.match((await issues.textContent()) ?? '', /error.*broken\.yaml:\d+/s);
  } finally {
    stop = true;
    await background;
    await context?.close();
    await u.close();
    await v1.close();
    await v2.close();
    rmSync(profile, { recursive: true, force: true });
    if (!process.env.UMBRA_KEEP_SCREENSHOT) rmSync(shots, { recursive: true, force: true });
  }
});
