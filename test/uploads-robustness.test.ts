/**
 * One bad upload is refused, never fatal: a malformed manifest (`import` exits 3 naming it; the watcher
 * moves it to rejected/ and goes on), a file name that is not valid UTF-8 (rejected with an event, never
 * skipped in silence).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { listRepo, pendingUploads, setupBase, until, upload, uploadWithManifest, FAST_WATCH, watchersKilledAfterEach } from './helpers/hooks-env.js';

const FAST = FAST_WATCH;
const watcher = watchersKilledAfterEach();

test('import of a malformed .tram exits 3 naming the file and the reason, without a stack trace', () => {
  const { dir, cli } = setupBase();
  const bad = upload(dir, 'bad.tram', '[manifest\nversion=1\n');
  const r = cli.sync(['import', 'r', bad]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /bad\.tram: not a valid TOML manifest/);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  // Other ways a manifest cannot be read are refusals too.
  const notUtf8 = upload(dir, 'binary.tram', Buffer.from([0x5b, 0x6d, 0xff, 0xfe, 0x00, 0x0a]));
  const r2 = cli.sync(['import', 'r', notUtf8]);
  assert.equal(r2.code, 3, r2.stderr);
  assert.match(r2.stderr, /binary\.tram/);
  fs.mkdirSync(path.join(dir, 'folder.tram'));
  const r3 = cli.sync(['import', 'r', path.join(dir, 'folder.tram')]);
  assert.equal(r3.code, 3, r3.stderr);
  assert.match(r3.stderr, /folder\.tram: manifest is a directory/);
  assert.deepEqual(listRepo(cli, 'r'), [], 'nothing imported');
});

test('watch: a malformed .tram is rejected with its reason and the watcher goes on importing', async () => {
  const { dir, base, cli } = setupBase();
  const inc = path.join(dir, 'incoming');
  fs.mkdirSync(inc);
  upload(inc, 'bad.tram', '[manifest\nversion=1\n');
  const w = watcher(base, ['--incoming', inc, '--repo', 'r', ...FAST]);
  await until('start event', () => w.events.some((e) => e.event === 'start'), 20_000);
  uploadWithManifest(inc, 'good.tram', 'r', { 'g.bin': 'good bytes' });
  upload(inc, 'bare.bin', 'bare bytes');
  await until('incoming drained', () => pendingUploads(inc).length === 0 || w.proc.exitCode !== null, 30_000);
  assert.equal(w.proc.exitCode, null, `the watcher is still running (stderr: ${w.stderr()})`);
  assert.deepEqual(pendingUploads(inc), []);
  const rejected = w.events.find((e) => e.event === 'rejected' && e.name === 'bad.tram');
  assert.ok(rejected, JSON.stringify(w.events));
  assert.match(String(rejected.reason), /not a valid TOML manifest/);
  assert.ok(fs.existsSync(path.join(inc, 'rejected', 'bad.tram')));
  assert.match(fs.readFileSync(path.join(inc, 'rejected', 'bad.tram.reason.txt'), 'utf8'), /bad\.tram: not a valid TOML manifest/);
  assert.deepEqual(listRepo(cli, 'r').sort(), ['bare.bin', 'g.bin']);
  w.proc.kill('SIGTERM');
  assert.equal((await w.exit).code, 0, w.stderr());
});

test('watch: an upload whose name is not valid UTF-8 is rejected with an event, never silently left', async () => {
  const { dir, base, cli } = setupBase();
  const inc = path.join(dir, 'incoming');
  fs.mkdirSync(inc);
  const rawName = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from('.bin')]); // Latin-1 'é'
  fs.writeFileSync(Buffer.concat([Buffer.from(inc + '/'), rawName]), 'latin-1 named');
  upload(inc, 'fine.bin', 'fine');
  const w = watcher(base, ['--incoming', inc, '--repo', 'r', ...FAST]);
  await until('both uploads handled', () => w.events.some((e) => e.event === 'accepted' && e.name === 'fine.bin') && w.events.some((e) => e.event === 'rejected'), 30_000);
  const rej = w.events.find((e) => e.event === 'rejected')!;
  assert.equal(rej.name, 'caf%E9.bin');
  assert.match(String(rej.reason), /not valid UTF-8/);
  assert.deepEqual(fs.readdirSync(inc, { encoding: 'buffer' }).filter((n) => n[0] !== 0x2e && n.toString() !== 'rejected'), [], 'nothing left in incoming');
  assert.equal(fs.readFileSync(path.join(inc, 'rejected', 'caf%E9.bin'), 'utf8'), 'latin-1 named');
  assert.match(fs.readFileSync(path.join(inc, 'rejected', 'caf%E9.bin.reason.txt'), 'utf8'), /not valid UTF-8/);
  assert.deepEqual(listRepo(cli, 'r'), ['fine.bin']);
  w.proc.kill('SIGTERM');
  assert.equal((await w.exit).code, 0, w.stderr());
});

test('watch: a file named rejected is moved aside (never deleted) when a refusal needs the folder; the refusal goes through', async () => {
  const { dir, base } = setupBase();
  const inc = path.join(dir, 'incoming');
  fs.mkdirSync(inc);
  const w = watcher(base, ['--incoming', inc, '--repo', 'r', ...FAST]);
  await until('start event', () => w.events.some((e) => e.event === 'start'), 20_000);
  fs.rmdirSync(path.join(inc, 'rejected'));
  fs.writeFileSync(path.join(inc, 'rejected'), 'somebody uploaded this\n');
  upload(inc, 'bad.tram', '[manifest\nversion=1\n');
  await until('bad.tram rejected', () => w.events.some((e) => e.event === 'rejected' && e.name === 'bad.tram') || w.proc.exitCode !== null, 30_000);
  assert.equal(w.proc.exitCode, null, `the watcher is still running (stderr: ${w.stderr()})`);
  const repaired = w.events.find((e) => e.event === 'repaired' && String(e.folder).endsWith('rejected'));
  assert.ok(repaired?.movedTo, JSON.stringify(w.events));
  assert.equal(fs.readFileSync(String(repaired.movedTo), 'utf8'), 'somebody uploaded this\n', 'the stray file is kept');
  assert.ok(fs.existsSync(path.join(inc, 'rejected', 'bad.tram.reason.txt')));
  assert.equal(w.events.filter((e) => e.event === 'error').length, 0, JSON.stringify(w.events));
});

test('watch: an upload whose refusal cannot be carried out is retried after a pause, not in a loop', async (t) => {
  const { dir, base } = setupBase();
  const inc = path.join(dir, 'incoming');
  fs.mkdirSync(inc);
  const w = watcher(base, ['--incoming', inc, '--repo', 'r', ...FAST]);
  await until('start event', () => w.events.some((e) => e.event === 'start'), 20_000);
  // An immutable rejected/ (ext4 and others; root needed): nothing can be moved into it, even by root.
  // Where the filesystem has no immutable files (tmpfs), a read-only tmpfs mounted on it does the same.
  const rej = path.join(inc, 'rejected');
  const immutable = spawnSync('chattr', ['+i', rej]);
  const readOnly = immutable.status === 0 ? undefined : spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,ro', 'tmpfs', rej]);
  if (readOnly && readOnly.status !== 0) {
    t.skip(`SKIPPED: neither chattr +i (${String(immutable.stderr).trim() || immutable.error?.message}) nor a read-only mount (${String(readOnly.stderr).trim() || readOnly.error?.message}) works here; this test needs root`);
    return;
  }
  try {
    upload(inc, 'bad.tram', '[manifest\nversion=1\n');
    await until('first error', () => w.events.some((e) => e.event === 'error'), 30_000);
    await new Promise((r) => setTimeout(r, 2000));
    const errors = w.events.filter((e) => e.event === 'error');
    assert.equal(errors.length, 1, `one failure, then a pause (RETRY_MS 5 s): ${JSON.stringify(errors.slice(0, 3))}`);
    assert.equal(errors[0]!.name, 'bad.tram');
    assert.equal(errors[0]!.retryInMs, 5000);
  } finally {
    if (readOnly) spawnSync('umount', ['-l', rej]);
    else spawnSync('chattr', ['-i', rej]);
  }
  await until('bad.tram rejected after the pause', () => w.events.some((e) => e.event === 'rejected' && e.name === 'bad.tram'), 30_000);
  assert.equal(w.proc.exitCode, null, `the watcher is still running (stderr: ${w.stderr()})`);
});
