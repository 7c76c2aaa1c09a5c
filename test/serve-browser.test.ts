/**
 * The pages in a real browser: Debian's headless Chromium driven by playwright-core (no browser
 * download) loads a listing and a repository page; the test asserts on the rendered DOM (packages
 * shown, the search narrowing them, names shown as text) and keeps screenshots in test-artifacts/.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { generatePackages } from '../fixtures/gen-eopkg.js';
import { ROOT } from './helpers/cli.js';
import { makeRepo, must, startServe } from './helpers/readers-fixture.js';
import type { Served } from './helpers/readers-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const missing = !fs.existsSync(CHROMIUM) ? `CHROMIUM NOT INSTALLED at ${CHROMIUM}: browser checks skipped (run as root with apt, or .ci/run installs it)` : undefined;

const fx = makeRepo('files', { 'docs/readme.txt': 'read me\n', '<script>': 'not markup', 'big/blob.bin': Buffer.alloc(200_000, 3) });
const pkgs = generatePackages({ seed: 'browser', count: 20 });
let srv: Served | undefined;
// playwright-core types without loading it when the browser is missing.
let browser: import('playwright-core').Browser | undefined;

before(async () => {
  if (missing) return;
  must(fx.cli.sync(['create-repo', 'e', '--format', 'eopkg']));
  must(fx.cli.sync(['config', 'e', 'gcAfterPublish', 'false']));
  const dir = path.join(fx.dir, 'pk');
  fs.mkdirSync(dir);
  for (const p of pkgs) fs.writeFileSync(path.join(dir, p.basename), p.bytes);
  must(fx.cli.sync(['import', 'e', dir]));
  srv = await startServe(fx.base);
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    // playwright gives every launch a fresh --user-data-dir of its own (and refuses one passed here).
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
});
after(async () => {
  await browser?.close().catch(() => undefined);
  if (srv) assert.equal(await srv.stop(), 0);
});

test('a listing renders names as text, folders first, on a phone-sized screen', { skip: missing, timeout: 60_000 }, async () => {
  const page = await browser!.newPage({ viewport: { width: 390, height: 844 }, javaScriptEnabled: false });
  try {
    const resp = await page.goto(`${srv!.url}/files/`, { timeout: 20_000 });
    assert.equal(resp?.status(), 200);
    const names = await page.$$eval('td.name a', (as) => as.map((a) => a.textContent));
    assert.deepEqual(names, ['big/', 'docs/', '<script>', 'SHA256SUMS']);
    assert.equal(await page.$$eval('main script', (s) => s.length), 0, 'a file named <script> made no script element');
    // Readable on a phone: the table fits the viewport (no sideways scrolling).
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `page is ${width}px wide on a 390px screen`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'listing-phone.png'), fullPage: true });
    await page.click('text=big/');
    assert.match(await page.textContent('h1') ?? '', /Index of \/files\/big\//);
    assert.match(await page.textContent('tbody') ?? '', /195 KiB/);
  } finally {
    await page.close();
  }
});

test('the repository page lists the packages and the search narrows them (with and without JavaScript)', { skip: missing, timeout: 60_000 }, async () => {
  const page = await browser!.newPage({ viewport: { width: 1200, height: 900 } });
  try {
    await page.goto(`${srv!.url}/e/@rcurepo/`, { timeout: 20_000 });
    const visible = () => page.$$eval('#packages tbody tr', (rows) => rows.filter((r) => !(r as HTMLElement).hidden).map((r) => r.querySelector('td a')!.textContent));
    const all = await visible();
    assert.deepEqual(new Set(all), new Set(pkgs.map((p) => p.name)), 'every package shown');
    assert.match(await page.textContent('dl') ?? '', /Current generation/);
    const target = pkgs[5]!.name;
    await page.fill('#q', target);
    const narrowed = await visible();
    assert.ok(narrowed.length >= 1 && narrowed.length < all.length, `search narrowed ${all.length} to ${narrowed.length}`);
    for (const n of narrowed) assert.ok(n!.includes(target));
    assert.equal(await page.textContent('#shown'), String(narrowed.length));
    await page.screenshot({ path: path.join(ARTIFACTS, 'repo-page.png'), fullPage: true });
  } finally {
    await page.close();
  }
  // Without JavaScript the form submits ?q= and the server narrows the list.
  const nojs = await browser!.newPage({ javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
  try {
    await nojs.goto(`${srv!.url}/e/@rcurepo/`, { timeout: 20_000 });
    await nojs.fill('#q', pkgs[5]!.name);
    await Promise.all([nojs.waitForURL(/[?]q=/, { timeout: 20_000 }), nojs.press('#q', 'Enter')]);
    const rows = await nojs.$$eval('#packages tbody tr', (r) => r.length);
    assert.ok(rows >= 1 && rows < pkgs.length, `server-side search left ${rows} rows`);
    await nojs.screenshot({ path: path.join(ARTIFACTS, 'repo-page-phone-nojs.png'), fullPage: true });
  } finally {
    await nojs.close();
  }
});

test('the repository page shows a mirror one generation behind after a publish without a push', { skip: missing, timeout: 60_000 }, async () => {
  const mirror = path.join(fx.dir, 'mirror-disk');
  must(fx.cli.sync(['config', 'files', 'mirrorPushAfterPublish', 'false'])); // pushed by hand below
  must(fx.cli.sync(['mirror', 'add', 'files', 'disk', '--to', mirror]));
  must(fx.cli.sync(['mirror', 'push', 'files', 'disk']));
  fx.publish({ 'docs/later.txt': 'later\n' });
  const page = await browser!.newPage({ viewport: { width: 390, height: 844 }, javaScriptEnabled: false });
  try {
    await page.goto(`${srv!.url}/files/@rcurepo/`, { timeout: 20_000 });
    const cells = await page.$$eval('#mirrors tbody tr[data-mirror="disk"] td', (tds) => tds.map((td) => td.textContent?.trim()));
    assert.equal(cells[0], 'disk');
    assert.equal(cells[2], '1', `one generation behind: ${cells.join(' | ')}`);
    assert.match(cells[4] ?? '', /^\d+ at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d, /, 'the last push');
    await page.screenshot({ path: path.join(ARTIFACTS, 'repo-page-mirror-behind.png'), fullPage: true });
    must(fx.cli.sync(['mirror', 'push', 'files', 'disk']));
    await page.reload({ timeout: 20_000 });
    const again = await page.$$eval('#mirrors tbody tr[data-mirror="disk"] td', (tds) => tds.map((td) => td.textContent?.trim()));
    assert.match(again[2] ?? '', /^0 up to date$/);
  } finally {
    await page.close();
  }
});
