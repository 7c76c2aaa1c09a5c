/**
 * bin/rcurepo-upload, the POSIX-shell upload client: concurrent uploads through a real watcher, a refused
 * upload whose verdict and exit code reach the caller, and a watcher killed and restarted while clients wait.
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers/cli.js';
import { listRepo, pendingUploads, setupBase, startWatcher, until, uploadWithManifest } from './helpers/hooks-env.js';
import type { WatcherChild } from './helpers/hooks-env.js';

const CLIENT = path.join(ROOT, 'bin', 'rcurepo-upload');
const FAST = ['--settle', '0.2', '--poll', '0.05'];
const live = new Set<{ kill(sig: NodeJS.Signals): unknown; exitCode: number | null; signalCode: NodeJS.Signals | null }>();
afterEach(() => {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  live.clear();
});

function watcher(base: string, args: string[]): WatcherChild {
  const w = startWatcher(base, args);
  live.add(w.proc);
  return w;
}

interface Upload { code: number | null; stdout: string; stderr: string }
function upload(args: string[]): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const p = spawn('sh', [CLIENT, ...args]);
    live.add(p);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Every client exited 0 and said where its upload was published. */
function assertAllPublished(results: readonly Upload[]): void {
  for (const [i, r] of results.entries()) {
    assert.equal(r.code, 0, `upload ${i}: ${r.stderr}`);
    assert.match(r.stdout, /^published in generation \d+ of 'r'/);
  }
}

test('concurrent uploads are all published, each client told its generation', async () => {
  const { dir, base, cli } = setupBase();
  const inc = path.join(dir, 'incoming');
  fs.mkdirSync(inc);
  const w = watcher(base, ['--incoming', inc, ...FAST]);
  await until('start event', () => w.events.some((e) => e.event === 'start'));
  const files = Array.from({ length: 12 }, (_, i) => {
    const f = path.join(dir, `pkg-${i}.bin`);
    fs.writeFileSync(f, `package ${i}\n`.repeat(i + 1));
    return f;
  });
  const results = await Promise.all(files.map((f) => upload(['-r', 'r', '-t', '60', inc, f])));
  assertAllPublished(results);
  const listed = listRepo(cli, 'r');
  for (const f of files) assert.ok(listed.includes(path.basename(f)), `${path.basename(f)} published`);
  assert.deepEqual(pendingUploads(inc), [], 'nothing left in incoming');
  assert.deepEqual(fs.readdirSync(path.join(inc, '.rcurepo-watch', 'verdicts')), [], 'every verdict collected');
});

test('the client marks its upload ready: taken at once despite a long settle time and poll; an unmarked manifest waits for its settle time', async () => {
  const { dir, base, cli } = setupBase();
  const inc = path.join(dir, 'incoming');
  fs.mkdirSync(inc);
  // Settle 60 s, poll 20 s: a publish well within them can only come from the ready marker and the wake-up on arrival.
  const w = watcher(base, ['--incoming', inc, '--settle', '60', '--poll', '20']);
  await until('start event', () => w.events.some((e) => e.event === 'start'));
  const f = path.join(dir, 'quick.bin');
  fs.writeFileSync(f, 'quick\n');
  const started = Date.now();
  const r = await upload(['-r', 'r', '-t', '60', inc, f]);
  const took = Date.now() - started;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(took < 15_000, `answered in ${took} ms, not after the 60 s settle time or the 20 s poll`);
  assert.ok(listRepo(cli, 'r').includes('quick.bin'));
  assert.deepEqual(fs.readdirSync(path.join(inc, '.rcurepo-watch', 'ready')), [], 'the marker went with its upload');
  // A manifest written without a marker (a writer that might append in place) still waits for its settle time.
  uploadWithManifest(inc, 'plain.tram', 'r', { 'slow.bin': 'slow\n' });
  await new Promise((res) => setTimeout(res, 3000));
  assert.deepEqual(pendingUploads(inc).sort(), ['plain.tram', 'slow.bin'], 'not taken before it settled');
  assert.ok(!listRepo(cli, 'r').includes('slow.bin'));
});

test('a refused upload: the reason and import exit code reach the caller; a missing repository is 5', async () => {
  const { dir, base } = setupBase();
  const inc = path.join(dir, 'incoming');
  fs.mkdirSync(inc);
  const w = watcher(base, ['--incoming', inc, ...FAST]);
  await until('start event', () => w.events.some((e) => e.event === 'start'));
  const ok = path.join(dir, 'same.bin');
  fs.writeFileSync(ok, 'one\n');
  assert.equal((await upload(['-r', 'r', inc, ok])).code, 0);
  fs.writeFileSync(ok, 'two\n'); // same path, different bytes: a conflict, as `import` would say (exit 4)
  const conflict = await upload(['-r', 'r', inc, ok]);
  assert.equal(conflict.code, 4, conflict.stderr);
  assert.match(conflict.stderr, /refused: .*same\.bin/);
  const missing = await upload(['-r', 'nosuch', inc, ok]);
  assert.equal(missing.code, 5, missing.stderr);
  assert.match(missing.stderr, /nosuch/);
  const usage = await upload([inc, ok]);
  assert.equal(usage.code, 2, 'no -r is a usage error');
  const notFile = await upload(['-r', 'r', inc, dir]);
  assert.equal(notFile.code, 3, 'a folder is refused before anything is placed');
});

test('the watcher killed and restarted while clients wait: every client still gets its verdict', async () => {
  const { dir, base, cli } = setupBase();
  const inc = path.join(dir, 'incoming');
  fs.mkdirSync(inc);
  const files = Array.from({ length: 8 }, (_, i) => {
    const f = path.join(dir, `w-${i}.bin`);
    fs.writeFileSync(f, `waiting ${i}\n`);
    return f;
  });
  // No watcher yet: the clients place their uploads and wait.
  const pending = files.map((f) => upload(['-r', 'r', '-t', '90', inc, f]));
  await until('all manifests placed', () => fs.readdirSync(inc).filter((n) => n.endsWith('.tram')).length === files.length);
  const first = watcher(base, ['--incoming', inc, ...FAST]);
  await until('first acceptance', () => first.events.some((e) => e.event === 'accepted'), 30_000, 5);
  first.proc.kill('SIGKILL');
  await first.exit;
  const second = watcher(base, ['--incoming', inc, ...FAST]);
  const results = await Promise.all(pending);
  for (const [i, r] of results.entries()) assert.equal(r.code, 0, `client ${i}: ${r.stderr}`);
  const listed = listRepo(cli, 'r');
  for (const f of files) assert.ok(listed.includes(path.basename(f)), `${path.basename(f)} published`);
  second.proc.kill('SIGTERM');
  await second.exit;
});

test('fifty uploads waiting for the watcher share ONE publish; a conflicting one among them is refused with its reason', async () => {
  const { dir, base, cli } = setupBase();
  const inc = path.join(dir, 'incoming');
  fs.mkdirSync(inc);
  const same = path.join(dir, 'same.bin');
  fs.writeFileSync(same, 'first bytes\n');
  const seed = watcher(base, ['--incoming', inc, ...FAST]);
  const first = await upload(['-r', 'r', '-t', '60', inc, same]);
  assert.equal(first.code, 0, first.stderr);
  const before = Number(/generation (\d+)/.exec(first.stdout)?.[1]);
  seed.proc.kill('SIGTERM');
  await seed.exit;
  // Placed while no watcher runs, so the next one finds all fifty settled in the same scan: one round.
  const files = Array.from({ length: 49 }, (_, i) => {
    const f = path.join(dir, `many-${i}.bin`);
    fs.writeFileSync(f, `many ${i}\n`);
    return f;
  });
  fs.writeFileSync(same, 'other bytes\n');
  const pending = [...files, same].map((f) => upload(['-r', 'r', '-t', '120', inc, f]));
  await until('all manifests placed', () => fs.readdirSync(inc).filter((n) => n.endsWith('.tram')).length === 50, 60_000);
  const w = watcher(base, ['--incoming', inc, ...FAST]);
  const results = await Promise.all(pending);
  const refused = results.pop()!;
  assert.equal(refused.code, 4, `the conflicting upload exits as import would (4): ${refused.stderr}`);
  assert.match(refused.stderr, /refused: .*same\.bin/);
  const gens = new Set<number>();
  for (const [i, r] of results.entries()) {
    assert.equal(r.code, 0, `upload ${i}: ${r.stderr}`);
    gens.add(Number(/^published in generation (\d+) of 'r'/.exec(r.stdout)?.[1]));
  }
  assert.deepEqual([...gens], [before + 1], 'every accepted upload of the round was published in the same, single new generation');
  const listed = listRepo(cli, 'r');
  for (const f of files) assert.ok(listed.includes(path.basename(f)), `${path.basename(f)} published`);
  await until('the refused upload moved into rejected/', () => fs.readdirSync(path.join(inc, 'rejected')).some((n) => n.startsWith('same.bin')));
  await until('nothing left in incoming', () => pendingUploads(inc).length === 0);
  assert.deepEqual(fs.readdirSync(path.join(inc, '.rcurepo-watch', 'verdicts')), [], 'every verdict collected');
  assert.deepEqual(fs.readdirSync(path.join(inc, '.rcurepo-watch', 'wake')), [], 'every wake-up FIFO removed by its client');
  w.proc.kill('SIGTERM');
  await w.exit;
});

test('no watcher: the client gives up after -t with exit 75 and leaves the upload queued', async () => {
  const { dir } = setupBase();
  const inc = path.join(dir, 'incoming');
  fs.mkdirSync(inc);
  const f = path.join(dir, 'late.bin');
  fs.writeFileSync(f, 'late\n');
  const r = await upload(['-r', 'r', '-t', '1', inc, f]);
  assert.equal(r.code, 75, r.stderr);
  assert.match(r.stderr, /no verdict/);
  assert.ok(fs.existsSync(path.join(inc, 'late.bin')), 'the upload stays for the watcher');
  assert.equal(fs.readdirSync(inc).filter((n) => n.endsWith('.tram')).length, 1);
});

test('a file where a state folder belongs: the watcher replaces it at start; arriving later, clients poll for their verdicts', async () => {
  const { dir, base, cli } = setupBase();
  const inc = path.join(dir, 'incoming');
  const state = path.join(inc, '.rcurepo-watch');
  fs.mkdirSync(state, { recursive: true });
  fs.writeFileSync(path.join(state, 'wake'), 'not a folder\n');
  fs.symlinkSync('/nonexistent', path.join(state, 'verdicts'));
  const w = watcher(base, ['--incoming', inc, ...FAST]);
  await until('start event', () => w.events.some((e) => e.event === 'start'));
  await until('repairs logged', () => w.events.filter((e) => e.event === 'repaired').length === 2);
  assert.ok(fs.lstatSync(path.join(state, 'wake')).isDirectory() && fs.lstatSync(path.join(state, 'verdicts')).isDirectory());
  const first = path.join(dir, 'first.bin');
  fs.writeFileSync(first, 'first\n');
  const r0 = await upload(['-r', 'r', '-t', '30', inc, first]);
  assert.equal(r0.code, 0, r0.stderr);
  // Now while it runs: no FIFO can be made (as on a filesystem without FIFOs), the clients poll.
  fs.rmSync(path.join(state, 'wake'), { recursive: true });
  fs.writeFileSync(path.join(state, 'wake'), 'not a folder\n');
  const files = Array.from({ length: 3 }, (_, i) => {
    const f = path.join(dir, `polled-${i}.bin`);
    fs.writeFileSync(f, `polled ${i}\n`);
    return f;
  });
  const results = await Promise.all(files.map((f) => upload(['-r', 'r', '-t', '30', inc, f])));
  assertAllPublished(results);
  const listed = listRepo(cli, 'r');
  for (const f of [first, ...files]) assert.ok(listed.includes(path.basename(f)), `${path.basename(f)} published`);
  assert.deepEqual(fs.readdirSync(path.join(state, 'verdicts')), [], 'every verdict collected');
  assert.equal(w.proc.exitCode, null, 'the watcher keeps running');
});
