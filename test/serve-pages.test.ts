/**
 * Operator surfaces of `rcurepo serve` (a real child process): directory listings (HTML and JSON, from
 * the pinned generation, escaped, nothing outside the snapshot), the repository page, `/metrics`
 * checked by promtool with values that move across a publish, a request and a gc, and the event log.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { generatePackages } from '../fixtures/gen-eopkg.js';
import { makeRepo, must, startServe, current, snapshots } from './helpers/readers-fixture.js';
import type { Served } from './helpers/readers-fixture.js';
import { toolMissing } from './helpers/children.js';

const fx = makeRepo('r', { 'a/small.txt': 'hello\n', 'a/b/deep.bin': Buffer.alloc(3000, 1), '<script>': 'x', '<img src=x onerror=alert(1)>.txt': 'y', 'a/"quote"&amp.txt': 'q' });
const pkgs = generatePackages({ seed: 'pages', count: 12 });
let srv: Served;
const eventsFile = path.join(fx.dir, 'events.log');

before(async () => {
  must(fx.cli.sync(['create-repo', 'e', '--format', 'eopkg']));
  must(fx.cli.sync(['config', 'e', 'gcAfterPublish', 'false']));
  const dir = path.join(fx.dir, 'pk');
  fs.mkdirSync(dir);
  for (const p of pkgs) fs.writeFileSync(path.join(dir, p.basename), p.bytes);
  must(fx.cli.sync(['import', 'e', dir, '--log', eventsFile]));
  must(fx.cli.sync(['config', 'r', 'serveWindowSeconds', '0']));
  srv = await startServe(fx.base, ['--log', eventsFile]);
});
after(async () => {
  assert.equal(await srv.stop(), 0);
});

function get(p: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const u = new URL(srv.url);
  return new Promise((resolve, reject) => {
    // agent: false: no pooled keep-alive socket that the server may have closed meanwhile (see readers-http).
    const req = http.get({ host: u.hostname, port: u.port, path: p, headers, timeout: 10_000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${p}`)));
    req.on('error', reject);
  });
}

test('HTML listing: folders first then files by name, sizes and dates, every name escaped', async () => {
  const r = await get('/r/');
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /text\/html/);
  assert.ok(!r.body.includes('<script>') && !r.body.includes('<img'), 'names are never markup');
  assert.ok(r.body.includes('>&#60;script&#62;</a>'), 'shown as text');
  assert.ok(r.body.includes('href="%3Cscript%3E"'), 'linked by its encoded name');
  const names = [...r.body.matchAll(/<td class="name"><a href="[^"]*">([^<]*)<\/a>/g)].map((m) => m[1]);
  assert.deepEqual(names, ['a/', '&#60;img src=x onerror=alert(1)&#62;.txt', '&#60;script&#62;', 'SHA256SUMS']);
  const a = await get('/r/a/');
  assert.match(a.body, /<a href="\.\.\/">\.\.\/<\/a>/);
  assert.ok(a.body.includes('&#34;quote&#34;&#38;amp.txt'));
  assert.match(a.body, /title="6 bytes">6 B</);
  assert.match(a.body, /\d{4}-\d\d-\d\d \d\d:\d\d/);
  assert.match(a.body, /name="viewport"/);
  assert.ok(!/<link |src="http|href="http/.test(a.body), 'no external assets');
});

test('JSON listing (Accept: application/json) has the same entries', async () => {
  const r = await get('/r/a/', { Accept: 'application/json' });
  assert.match(String(r.headers['content-type']), /application\/json/);
  const j = JSON.parse(r.body) as { repo: string; generation: number; entries: Array<{ name: string; type: string; size: number; mtime: string }> };
  assert.equal(j.repo, 'r');
  assert.equal(j.generation, current(fx.repoDir));
  assert.deepEqual(j.entries.map((e) => [e.name, e.type, e.size]), [['b', 'dir', 0], ['"quote"&amp.txt', 'file', 1], ['small.txt', 'file', 6]]);
});

test('listings never show or follow anything outside the snapshot', async () => {
  const snap = path.join(fx.repoDir, 'snapshots', String(current(fx.repoDir)));
  fs.symlinkSync('/etc', path.join(snap, 'a', 'etc-link'));
  fs.symlinkSync('../../..', path.join(snap, 'a', 'up-link'));
  try {
    const r = await get('/r/a/');
    assert.ok(!r.body.includes('etc-link') && !r.body.includes('up-link'), 'symlinks are not listed');
    for (const p of ['/r/a/etc-link/', '/r/a/up-link/', '/r/a/%2e%2e/', '/r/a/../../', '/r/%2e%2e/%2e%2e/']) {
      const x = await get(p);
      assert.ok([400, 403, 404].includes(x.status), `${p}: ${x.status}`);
      assert.ok(!x.body.includes('passwd') && !x.body.includes('repos'), `${p} shows nothing outside`);
    }
  } finally {
    fs.unlinkSync(path.join(snap, 'a', 'etc-link'));
    fs.unlinkSync(path.join(snap, 'a', 'up-link'));
  }
});

test('a listing comes from the client\'s pinned generation, like its files', async () => {
  must(fx.cli.sync(['config', 'r', 'serveWindowSeconds', '30']));
  await new Promise((r) => setTimeout(r, 1100)); // settings are re-read once a second
  try {
    const g0 = current(fx.repoDir);
    const first = await get('/r/a/');
    assert.equal(first.headers['x-rcurepo-generation'], String(g0));
    fx.publish({ 'a/later.txt': 'later' });
    const again = await get('/r/a/');
    assert.equal(again.headers['x-rcurepo-generation'], String(g0), 'still the burst generation');
    assert.ok(!again.body.includes('later.txt'));
    const pinned = await get(`/r/@${current(fx.repoDir)}/a/`);
    assert.ok(pinned.body.includes('later.txt'), '@GEN lists that generation');
  } finally {
    must(fx.cli.sync(['config', 'r', 'serveWindowSeconds', '0']));
  }
});

test('repository page: current generation, history with changes, packages with search, leases, pins, lock', async () => {
  const gen = current(path.join(fx.base, 'repos', 'e'));
  must(fx.cli.sync(['pin', 'e', String(gen), '--reason', 'release <4.2>']));
  const lease = must(fx.cli.sync(['lease', 'acquire', 'e', '--ttl', '600', '--holder', 'backup-job'])).stdout.split('\t')[0]!;
  try {
    const r = await get('/e/@rcurepo/', { Accept: 'application/json' });
    assert.equal(r.status, 200);
    const d = JSON.parse(r.body);
    assert.equal(d.current, gen);
    assert.equal(d.format, 'eopkg');
    assert.equal(d.packages.total, pkgs.length);
    const names = d.packages.rows.map((p: { name: string }) => p.name);
    assert.deepEqual(new Set(names), new Set(pkgs.map((p) => p.name)));
    const one = d.packages.rows.find((p: { name: string }) => p.name === pkgs[0]!.name);
    assert.equal(one.version, pkgs[0]!.version);
    assert.equal(one.release, String(pkgs[0]!.release));
    assert.equal(one.arch, 'x86_64');
    assert.equal(one.size, pkgs[0]!.bytes.length);
    assert.equal(d.history[0].generation, gen);
    assert.equal(d.history[0].added, pkgs.length, 'the publish added every package');
    assert.ok(d.history[0].changes.added.length > 0, 'what the generation changed');
    assert.deepEqual(d.pins.map((p: { generation: number; reason: string }) => [p.generation, p.reason]), [[gen, 'release <4.2>']]);
    assert.ok(d.leases.some((l: { id: string; holder: string }) => l.id === lease && l.holder === 'backup-job'));
    assert.equal(d.lock, null);
    assert.deepEqual(d.mirrors, [], 'no mirrors configured');
    // Search without JavaScript: the server filters by ?q=.
    const q = pkgs[3]!.name;
    const s = JSON.parse((await get(`/e/@rcurepo/?q=${encodeURIComponent(q)}&format=json`)).body);
    assert.ok(s.packages.matching >= 1 && s.packages.matching < pkgs.length);
    for (const p of s.packages.rows) assert.ok(p.name.includes(q));
    const html = await get(`/e/@rcurepo/?q=${encodeURIComponent(q)}`);
    assert.ok(html.body.includes('release &#60;4.2&#62;'), 'pin reason escaped');
    assert.ok(html.body.includes(`value="${q}"`));
    // The page path cannot be repository content: files/@rcurepo is a generation selector position.
    assert.equal((await get('/r/@rcurepo/')).status, 200);
    assert.match((await get('/r/@rcurepo/')).body, /no packages to list/);
  } finally {
    must(fx.cli.sync(['lease', 'release', lease]));
    must(fx.cli.sync(['unpin', 'e', String(gen)]));
  }
});

/** promtool's verdict on a scrape; undefined when promtool is missing (the caller skips loudly). */
function promtool(text: string): { ok: boolean; out: string } | undefined {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

function metric(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

test('/metrics: valid Prometheus text; values move across a request, a publish and a gc', async (t) => {
  const m0 = (await get('/metrics')).body;
  const check = promtool(m0);
  if (!check) t.diagnostic('PROMTOOL NOT INSTALLED: format check skipped (apt install prometheus, or .ci/run installs it)');
  else assert.ok(check.ok, check.out);
  const okR = (text: string) => metric(text, 'rcurepo_http_requests_total', 'repo="r",status="200"') ?? 0;
  await get('/r/a/small.txt');
  await get('/r/a/small.txt');
  const m1 = (await get('/metrics')).body;
  assert.equal(okR(m1), okR(m0) + 2, 'two more 200s for r');
  assert.ok(metric(m1, 'rcurepo_http_request_duration_seconds_count')! > metric(m0, 'rcurepo_http_request_duration_seconds_count')!);
  const gen0 = metric(m1, 'rcurepo_current_generation', 'repo="r"')!;
  assert.equal(gen0, current(fx.repoDir));
  const blobs0 = metric(m1, 'rcurepo_pool_blobs')!;
  fx.publish({ 'z/new.bin': Buffer.alloc(5000, 7) });
  const m2 = (await get('/metrics')).body;
  assert.equal(metric(m2, 'rcurepo_current_generation', 'repo="r"'), gen0 + 1);
  assert.equal(metric(m2, 'rcurepo_pool_blobs'), blobs0 + 1, 'pool counted again after a publish');
  assert.ok(metric(m2, 'rcurepo_last_publish_age_seconds', 'repo="r"')! < 60);
  assert.ok(metric(m2, 'rcurepo_last_publish_duration_seconds', 'repo="r"')! > 0);
  const snaps = metric(m2, 'rcurepo_snapshots', 'repo="r"')!;
  assert.equal(snaps, snapshots(fx.repoDir).length);
  const gcRun0 = metric(m2, 'rcurepo_gc_last_run_timestamp_seconds') ?? 0; // a background gc may have run
  // gc: keep 1 and no grace reaps the older generations (the server holds no lease: window 0, idle).
  must(fx.cli.sync(['config', 'r', 'keep', '1']));
  must(fx.cli.sync(['config', 'r', 'graceSeconds', '0']));
  await new Promise((r) => setTimeout(r, 6500)); // the server lets its idle leases go
  must(fx.cli.sync(['gc', 'r', '--log', eventsFile]));
  const m3 = (await get('/metrics')).body;
  assert.ok(metric(m3, 'rcurepo_snapshots', 'repo="r"')! < snaps, 'fewer snapshots after gc');
  assert.equal(metric(m3, 'rcurepo_gc_last_success'), 1);
  assert.ok(metric(m3, 'rcurepo_gc_last_run_timestamp_seconds')! > gcRun0, 'this gc run recorded');
  assert.ok(metric(m3, 'rcurepo_gc_last_duration_seconds')! >= 0);
  const c3 = promtool(m3);
  if (c3) assert.ok(c3.ok, c3.out);
});

test('event log: publishes, gc and serve write one JSON line each with the documented fields', async () => {
  const lines = fs.readFileSync(eventsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const e of lines) {
    assert.equal(typeof e.time, 'string');
    assert.ok(['serve', 'watch', 'gc', 'publish'].includes(e.source as string));
    assert.equal(typeof e.event, 'string');
    assert.ok(['ok', 'refused', 'failed', 'retry', 'info'].includes(e.outcome as string));
  }
  const pub = lines.find((e) => e.source === 'publish' && e.repo === 'e')!;
  assert.equal(pub.event, 'publish');
  assert.equal(typeof pub.generation, 'number');
  assert.equal(typeof pub.duration, 'number');
  assert.ok(lines.some((e) => e.source === 'gc' && e.event === 'gc' && e.outcome === 'ok' && typeof e.duration === 'number'));
  assert.ok(lines.some((e) => e.source === 'gc' && e.event === 'reaped' && e.repo === 'r'));
  assert.ok(lines.some((e) => e.source === 'serve' && e.event === 'start'));
});

test('the shipped alert rules are valid and name only metrics the server exports', async (t) => {
  const file = new URL('../contrib/prometheus/rcurepo-alerts.yml', import.meta.url).pathname;
  const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8', timeout: 20_000 });
  if (r.error) return toolMissing(t, 'PROMTOOL NOT INSTALLED: rules check skipped (apt install prometheus, or .ci/run installs it)');
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  const exported = new Set([...(await get('/metrics')).body.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
  for (const m of fs.readFileSync(file, 'utf8').matchAll(/\b(rcurepo_[a-z_]+)/g)) {
    const name = m[1]!.replace(/_(bucket|sum|count)$/, '');
    assert.ok(exported.has(name), `${name} used by an alert is exported`);
  }
});
