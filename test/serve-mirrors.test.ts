/**
 * Mirrors' lag on the operator surfaces of `rcurepo serve` (a real child process): real `mirror push`es
 * to local-path mirrors (rsync), then a publish without a push, then the next push. The repository page
 * (JSON and HTML, fetched over HTTP) and /metrics (checked by promtool) show lag 0, then 1, then 0; a
 * mirror whose push failed shows its error, escaped (the message quotes what the mirror holds).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { makeRepo, must, startServe, current } from './helpers/readers-fixture.js';
import type { Served } from './helpers/readers-fixture.js';
import type { MirrorLag } from '../src/readers/mirror-status.js';

const noRsync = spawnSync('rsync', ['--version']).error ? 'RSYNC NOT INSTALLED: mirror lag checks skipped (run as root with apt, or .ci/run installs it)' : undefined;
if (noRsync) console.log(`# SKIPPED ${noRsync}`);

const fx = makeRepo('m', { 'a.txt': 'a\n', 'dir/b.bin': Buffer.alloc(4000, 2) });
const good = path.join(fx.dir, 'mirror-disk');
const bad = path.join(fx.dir, 'mirror-bad');
let srv: Served | undefined;

before(async () => {
  if (noRsync) return;
  must(fx.cli.sync(['config', 'm', 'mirrorPushAfterPublish', 'false'])); // this test pushes by hand
  must(fx.cli.sync(['mirror', 'add', 'm', 'disk', '--to', good]));
  // A mirror directory written by some other version, whose marker carries markup: its push fails, and
  // the error it reports (quoting the marker) must reach the page as text.
  fs.mkdirSync(path.join(bad, 'snapshots'), { recursive: true });
  fs.writeFileSync(path.join(bad, '.rcurepo-mirror'), 'format <script>alert(1)</script>\nrepo m\n');
  must(fx.cli.sync(['mirror', 'add', 'm', 'bad', '--to', bad]));
  srv = await startServe(fx.base);
});
after(async () => {
  if (srv) assert.equal(await srv.stop(), 0);
});

function get(p: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const u = new URL(srv!.url);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: u.hostname, port: u.port, path: p, headers, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${p}`)));
    req.on('error', reject);
  });
}

async function pageMirrors(): Promise<Record<string, MirrorLag>> {
  const r = await get('/m/@rcurepo/', { Accept: 'application/json' });
  assert.equal(r.status, 200);
  const d = JSON.parse(r.body) as { current: number; mirrors: MirrorLag[] };
  assert.deepEqual(d.mirrors.map((m) => m.mirror), ['bad', 'disk'], 'every configured mirror, sorted');
  return Object.fromEntries(d.mirrors.map((m) => [m.mirror, m]));
}

function metric(text: string, name: string, mirror: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{repo="m",mirror="${mirror}"} `));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

async function metrics(t: { diagnostic(s: string): void }): Promise<string> {
  const text = (await get('/metrics')).body;
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
  if (r.error) t.diagnostic('PROMTOOL NOT INSTALLED: format check skipped (apt install prometheus, or .ci/run installs it)');
  else assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  return text;
}

function pushed(name: string): { code: number | null; stdout: string; stderr: string } {
  return fx.cli.sync(['mirror', 'push', 'm', name]);
}

test('after a push: lag 0 on the page and in /metrics; the failed mirror shows its error', { skip: noRsync, timeout: 60_000 }, async (t) => {
  must(pushed('disk'));
  const failed = pushed('bad');
  assert.notEqual(failed.code, 0, 'the push to a mirror of another format version fails');
  assert.match(failed.stderr, /mirror 'bad' of 'm'/);
  const gen = current(fx.repoDir);

  const m = await pageMirrors();
  assert.equal(m.disk!.served, gen);
  assert.equal(m.disk!.lagGenerations, 0);
  assert.equal(m.disk!.lagSeconds, 0);
  assert.equal(m.disk!.lastPush?.generation, gen);
  assert.ok(m.disk!.lastPush!.bytesSent > 4000, 'the first push sent the files');
  assert.equal(m.disk!.lastError, null);
  assert.equal(m.disk!.failures, 0);
  assert.equal(m.bad!.served, null, 'nothing ever reached the failed mirror');
  assert.equal(m.bad!.lagGenerations, gen, 'it lacks every generation');
  assert.equal(m.bad!.failures, 1);
  assert.match(m.bad!.lastError!.message, /format version <script>alert\(1\)<\/script>/);

  const html = (await get('/m/@rcurepo/')).body;
  assert.ok(!html.includes('<script>alert'), 'the error is never markup');
  assert.ok(html.includes('format version &#60;script&#62;alert(1)&#60;/script&#62;'), 'the error shown as text');
  assert.match(html, /<tr data-mirror="disk"><td class="name">disk<\/td><td class="num">\d+<\/td><td class="num">0 <span class="pill">up to date<\/span>/);

  const text = await metrics(t);
  assert.equal(metric(text, 'rcurepo_mirror_lag_generations', 'disk'), 0);
  assert.equal(metric(text, 'rcurepo_mirror_lag_seconds', 'disk'), 0);
  assert.equal(metric(text, 'rcurepo_mirror_served_generation', 'disk'), gen);
  assert.ok(Math.abs(metric(text, 'rcurepo_mirror_last_push_timestamp_seconds', 'disk')! - Date.now() / 1000) < 120);
  assert.equal(metric(text, 'rcurepo_mirror_failures', 'disk'), 0);
  assert.equal(metric(text, 'rcurepo_mirror_failures', 'bad'), 1);
  assert.equal(metric(text, 'rcurepo_mirror_served_generation', 'bad'), undefined, 'no sample before a first push');
  assert.equal(metric(text, 'rcurepo_mirror_lag_generations', 'bad'), gen);
});

test('a publish without a push: lag 1 (generations and seconds); the next push brings it back to 0', { skip: noRsync, timeout: 60_000 }, async (t) => {
  const before = current(fx.repoDir);
  fx.publish({ 'later.txt': 'later\n' });
  const gen = current(fx.repoDir);
  assert.equal(gen, before + 1);
  await new Promise((r) => setTimeout(r, 1100)); // a whole second behind, so the seconds are visible

  const m = await pageMirrors();
  assert.equal(m.disk!.served, before);
  assert.equal(m.disk!.lagGenerations, 1);
  assert.ok(m.disk!.lagSeconds! >= 1, `lag ${m.disk!.lagSeconds} s`);
  const page = JSON.parse((await get('/m/@rcurepo/', { Accept: 'application/json' })).body) as { history: Array<{ generation: number; time: string }> };
  const published = page.history.find((h) => h.generation === gen)!;
  assert.equal(m.disk!.behindSince, published.time, 'out of date since the publish it lacks');
  const html = (await get('/m/@rcurepo/')).body;
  assert.match(html, /<tr data-mirror="disk"><td class="name">disk<\/td><td class="num">\d+<\/td><td class="num"><strong>1<\/strong>/);
  let text = await metrics(t);
  assert.equal(metric(text, 'rcurepo_mirror_lag_generations', 'disk'), 1);
  assert.ok(metric(text, 'rcurepo_mirror_lag_seconds', 'disk')! >= 1);
  // `mirror status` computes the same lag.
  const st = fx.cli.json<{ mirrors: Array<{ mirror: string; behind: number; behindSince: string }> }>(['mirror', 'status', 'm']);
  const disk = st.mirrors.find((x) => x.mirror === 'disk')!;
  assert.equal(disk.behind, 1);
  assert.equal(disk.behindSince, published.time);

  must(pushed('disk'));
  const after = await pageMirrors();
  assert.equal(after.disk!.served, gen);
  assert.equal(after.disk!.lagGenerations, 0);
  assert.equal(after.disk!.lagSeconds, 0);
  assert.equal(after.disk!.behindSince, null);
  assert.equal(fs.readlinkSync(path.join(good, 'current')).endsWith(String(gen)), true, 'the mirror serves it');
  text = await metrics(t);
  assert.equal(metric(text, 'rcurepo_mirror_lag_generations', 'disk'), 0);
  assert.equal(metric(text, 'rcurepo_mirror_lag_seconds', 'disk'), 0);
  assert.equal(metric(text, 'rcurepo_mirror_served_generation', 'disk'), gen);
});
