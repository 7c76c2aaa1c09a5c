/** The incoming watcher as a real daemon: accept/reject rules, structured log, SIGTERM, and kill -9 at random points. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { listRepo, manifestText, pendingUploads, setupBase, sha256, until, upload, uploadWithManifest, FAST_WATCH, watchersKilledAfterEach } from './helpers/hooks-env.js';
import { mulberry32 } from '../fixtures/random.js';

const FAST = FAST_WATCH;
const watcher = watchersKilledAfterEach();

test('watch: manifests and bare files are imported and deleted, bad uploads go to rejected/ with a reason, SIGTERM stops it', async () => {
  const { dir, base, cli } = setupBase();
  const inc = path.join(dir, 'incoming');
  fs.mkdirSync(inc);
  const w = watcher(base, ['--incoming', inc, '--repo', 'r', ...FAST]);
  await until('start event', () => w.events.some((e) => e.event === 'start'));
  uploadWithManifest(inc, 'b1.tram', 'r', { 'm-a.bin': 'ma', 'm-b.bin': 'mb' });
  upload(inc, 'bare.bin', 'bare bytes');
  upload(inc, 'mm-ok.bin', 'ok');
  upload(inc, 'b2.tram', manifestText('r', [{ path: 'mm-ok.bin', sha256: sha256('ok') }, { path: 'mm-missing.bin', sha256: sha256('x') }]));
  upload(inc, 'b3.tram', manifestText('elsewhere', [{ path: 'e.bin', sha256: sha256('e') }]));
  upload(inc, 'e.bin', 'e');
  fs.writeFileSync(path.join(dir, 'foreign.bin'), 'foreign');
  fs.linkSync(path.join(dir, 'foreign.bin'), path.join(inc, 'hard.bin'));
  fs.symlinkSync(path.join(dir, 'foreign.bin'), path.join(inc, 'sym.bin'));
  upload(inc, '.in-progress.bin', 'not yet');
  await until('incoming drained', () => pendingUploads(inc).length === 0);
  const listed = listRepo(cli, 'r');
  for (const n of ['m-a.bin', 'm-b.bin', 'bare.bin']) assert.ok(listed.includes(n), n);
  for (const n of ['mm-ok.bin', 'e.bin', 'hard.bin', 'sym.bin']) assert.ok(!listed.includes(n), n);
  const rej = fs.readdirSync(path.join(inc, 'rejected'));
  for (const n of ['b2.tram', 'mm-ok.bin', 'b3.tram', 'e.bin', 'hard.bin', 'sym.bin']) assert.ok(rej.includes(n), `${n} in rejected/: ${rej.join(' ')}`);
  assert.match(fs.readFileSync(path.join(inc, 'rejected', 'b2.tram.reason.txt'), 'utf8'), /mm-missing\.bin' is missing/);
  assert.match(fs.readFileSync(path.join(inc, 'rejected', 'b3.tram.reason.txt'), 'utf8'), /no repository named 'elsewhere'/);
  assert.match(fs.readFileSync(path.join(inc, 'rejected', 'hard.bin.reason.txt'), 'utf8'), /hard link/);
  assert.ok(fs.existsSync(path.join(inc, '.in-progress.bin')), 'dot names are uploads in progress: untouched');
  assert.equal(fs.readFileSync(path.join(dir, 'foreign.bin'), 'utf8'), 'foreign');
  // Re-delivered manifest without its files: accepted as already published.
  upload(inc, 'b1.tram', manifestText('r', [{ path: 'm-a.bin', sha256: sha256('ma') }, { path: 'm-b.bin', sha256: sha256('mb') }]));
  await until('re-delivery accepted', () => w.events.filter((e) => e.event === 'accepted' && e.name === 'b1.tram').length === 2);
  assert.ok(w.events.some((e) => e.event === 'accepted' && e.name === 'b1.tram' && typeof e.alreadyPublished === 'number'));
  w.proc.kill('SIGTERM');
  const ex = await w.exit;
  assert.equal(ex.code, 0, w.stderr());
  for (const e of w.events) assert.equal(typeof e.time, 'string');
  assert.equal(w.events.at(-1)!.event, 'stop');
});

test('watch: kill -9 at random points while uploads arrive loses nothing', async () => {
  const { dir, base, cli } = setupBase();
  const inc = path.join(dir, 'incoming');
  fs.mkdirSync(inc);
  // Seeded: the same uploads, pauses and kill points on every run, whatever the machine's load. Kills
  // are counted, not timed, and each comes after its watcher has started (a slow start under load
  // only delays it, never turns it into a kill of a process that did nothing).
  const rnd = mulberry32(18);
  const expectPublished: string[] = [];
  const expectRejected: string[] = [];
  const writer = (async () => {
    for (let i = 0; i < 40; i++) {
      if (i % 4 === 0) {
        upload(inc, `bare-${i}.bin`, `bare ${i}`);
        expectPublished.push(`bare-${i}.bin`);
      } else if (i % 7 === 0) {
        upload(inc, `bad-${i}.bin`, 'tampered');
        upload(inc, `bad-${i}.tram`, manifestText('r', [{ path: `bad-${i}.bin`, sha256: sha256('original') }]));
        expectRejected.push(`bad-${i}.tram`, `bad-${i}.bin`);
      } else {
        uploadWithManifest(inc, `up-${i}.tram`, 'r', { [`pkg-${i}.bin`]: `pkg ${i}`, [`pkg-${i}-dbg.bin`]: `dbg ${i}` });
        expectPublished.push(`pkg-${i}.bin`, `pkg-${i}-dbg.bin`);
      }
      await new Promise((r) => setTimeout(r, 40 + rnd() * 80));
    }
  })();
  const KILLS = 6;
  for (let kills = 0; kills < KILLS; kills++) {
    const w = watcher(base, ['--incoming', inc, '--repo', 'r', ...FAST]);
    await until('watcher started', () => w.events.some((e) => e.event === 'start'));
    await new Promise((r) => setTimeout(r, 150 + rnd() * 600));
    w.proc.kill('SIGKILL');
    await w.exit;
  }
  await writer; // all 40 uploads, whatever the kills' timing
  const final = watcher(base, ['--incoming', inc, '--repo', 'r', ...FAST]);
  await until('final watcher started', () => final.events.some((e) => e.event === 'start'));
  await until('incoming drained after restart', () => pendingUploads(inc).length === 0, 30_000);
  final.proc.kill('SIGTERM');
  assert.equal((await final.exit).code, 0, final.stderr());
  const listed = new Set(listRepo(cli, 'r'));
  const rejected = new Set(fs.readdirSync(path.join(inc, 'rejected')));
  for (const n of expectPublished) assert.ok(listed.has(n) || rejected.has(n), `${n} vanished`);
  for (const n of expectPublished) assert.ok(listed.has(n), `${n} published (rejected: ${[...rejected].join(' ')})`);
  for (const n of expectRejected) assert.ok(rejected.has(n), `${n} in rejected/`);
  for (const n of expectRejected.filter((x) => x.endsWith('.tram'))) assert.match(fs.readFileSync(path.join(inc, 'rejected', `${n}.reason.txt`), 'utf8'), /the manifest says/);
  assert.equal(cli.sync(['verify', 'r']).code, 0);
});
