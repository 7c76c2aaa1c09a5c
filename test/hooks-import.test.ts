/** Group commit (concurrent `import` processes) and upload manifests (.tram), through the built CLI. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Layout } from '../src/engine/layout.js';
import { acquireWriterLock } from '../src/engine/lock.js';
import fsp from 'node:fs/promises';
import { forgetRequest } from '../src/hooks/queue.js';
import { listRepo, manifestText, setupBase, sha256, upload, uploadWithManifest } from './helpers/hooks-env.js';

function currentGen(cli: ReturnType<typeof setupBase>['cli'], repo = 'r'): number {
  return cli.json<{ generation: number }>(['list', repo]).generation;
}

test('50 concurrent imports of distinct packages: all published, no errors, a handful of generations', async () => {
  const { dir, cli } = setupBase();
  const up = path.join(dir, 'up');
  const files = Array.from({ length: 50 }, (_, i) => upload(up, `pkg-${String(i).padStart(2, '0')}.bin`, `package ${i}\n`));
  const before = currentGen(cli);
  const results = await Promise.all(files.map((f) => cli.async(['--json', 'import', 'r', f])));
  const failed = results.filter((r) => r.code !== 0);
  assert.equal(failed.length, 0, failed.map((r) => r.stderr).join('\n'));
  const gens = new Set(results.map((r) => (JSON.parse(r.stdout) as { generation: number; published: boolean }).generation));
  for (const r of results) assert.equal((JSON.parse(r.stdout) as { published: boolean }).published, true);
  const after = currentGen(cli);
  const listed = new Set(listRepo(cli, 'r'));
  for (const f of files) assert.ok(listed.has(path.basename(f)), `${path.basename(f)} published`);
  assert.ok(after - before <= 10, `${after - before} generations for 50 imports`);
  assert.ok(gens.size <= after - before);
  // Every caller's generation exists and contains its file (one listing per generation).
  const byGen = new Map<number, Set<string>>();
  for (const g of gens) byGen.set(g, new Set(cli.json<{ entries: Array<{ path: string }> }>(['list', 'r', '--gen', String(g)]).entries.map((e) => e.path)));
  for (const [i, r] of results.entries()) {
    const g = (JSON.parse(r.stdout) as { generation: number }).generation;
    assert.ok(byGen.get(g)!.has(path.basename(files[i]!)));
  }
  assert.deepEqual(fs.readdirSync(path.join(dir, 'base', 'repos', 'r', 'queue')).filter((n) => !n.startsWith('.')), [], 'queue drained');
  assert.equal(cli.sync(['verify', 'r']).code, 0);
});

test('a caller forgets its claimed request before its outcome, so no leader sees a claim without an outcome and answers it again', async () => {
  const { dir } = setupBase();
  const repo = new Layout(path.join(dir, 'base')).repo('r');
  const queue = path.join(dir, 'base', 'repos', 'r', 'queue');
  fs.mkdirSync(queue, { recursive: true });
  const id = `x-${process.pid}-1`;
  for (const kind of ['claim', 'res']) fs.writeFileSync(path.join(queue, `${id}.${kind}.json`), '{}');
  // The outcome's removal may start only once the claim is gone: a leader listing the queue in between
  // must never find a claim whose outcome has vanished. Record the queue as each removal starts.
  const seen: string[][] = [];
  const realRm = fsp.rm;
  fsp.rm = (async (p: Parameters<typeof fsp.rm>[0], o?: Parameters<typeof fsp.rm>[1]) => {
    if (String(p).endsWith('.res.json')) seen.push(fs.readdirSync(queue).sort());
    await realRm(p, o);
  }) as typeof fsp.rm;
  try {
    await forgetRequest(repo, id);
  } finally {
    fsp.rm = realRm;
  }
  assert.deepEqual(fs.readdirSync(queue), []);
  assert.equal(seen.length, 1, 'the outcome was removed once');
  assert.deepEqual(seen[0], [`${id}.res.json`], 'when the outcome goes, the claim is gone already');
});

test('bad packages mixed into concurrent imports fail only their own callers', async () => {
  const { dir, cli } = setupBase();
  const up = path.join(dir, 'up');
  // Published first, so a later import of the same name with other bytes is a conflict.
  upload(path.join(dir, 'old'), 'taken-0.bin', 'original 0');
  upload(path.join(dir, 'old'), 'taken-1.bin', 'original 1');
  assert.equal(cli.sync(['import', 'r', path.join(dir, 'old')]).code, 0);
  const jobs: Array<{ args: string[]; bad: boolean; name: string }> = [];
  for (let i = 0; i < 24; i++) {
    const f = upload(up, `good-${i}.bin`, `good ${i}`);
    jobs.push({ args: ['import', 'r', f], bad: false, name: `good-${i}.bin` });
  }
  for (let i = 0; i < 2; i++) {
    const f = upload(path.join(up, `c${i}`), `taken-${i}.bin`, `different ${i}`);
    jobs.push({ args: ['import', 'r', f], bad: true, name: `taken-${i}.bin` });
  }
  fs.symlinkSync('/etc/hostname', path.join(up, 'link.bin'));
  jobs.push({ args: ['import', 'r', path.join(up, 'link.bin')], bad: true, name: 'link.bin' });
  jobs.push({ args: ['import', 'r', path.join(up, 'missing.bin')], bad: true, name: 'missing.bin' });
  jobs.sort(() => Math.random() - 0.5);
  const results = await Promise.all(jobs.map((j) => cli.async(j.args)));
  const listed = new Set(listRepo(cli, 'r'));
  for (const [i, j] of jobs.entries()) {
    const r = results[i]!;
    if (j.bad) {
      assert.notEqual(r.code, 0, `${j.name} must be refused`);
      assert.match(r.stderr, /rcurepo: /);
    } else {
      assert.equal(r.code, 0, `${j.name}: ${r.stderr}`);
      assert.match(r.stdout, /published generation \d+/);
      assert.ok(listed.has(j.name));
    }
  }
  const conflict = results.find((_, i) => jobs[i]!.name === 'taken-0.bin')!;
  assert.equal(conflict.code, 4);
  assert.match(conflict.stderr, /different content/);
  assert.equal(sha256(fs.readFileSync(path.join(dir, 'base', 'repos', 'r', 'current', 'taken-0.bin'))), sha256('original 0'));
});

test('single caller stays simple: a no-op import is fast and --wait 0 on a free lock works', () => {
  const { dir, cli } = setupBase();
  const f = upload(dir, 'one.bin', 'one');
  assert.equal(cli.sync(['--wait', '0', 'import', 'r', f]).code, 0);
  const t = Date.now();
  const again = cli.sync(['import', 'r', f]);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /already present/);
  assert.ok(Date.now() - t < 5000);
});

test('--wait 0 waits out a housekeeping hold of the lock (the gc after a publish), not another writer', async () => {
  const { dir, base, cli } = setupBase();
  const target = new Layout(base).repo('r').lockTarget;
  const gc = await acquireWriterLock(target, { operation: 'gc', waitSeconds: 30 }); // also waits out create-repo's own gc
  const first = cli.async(['--wait', '0', 'import', 'r', upload(dir, 'a.bin', 'a')]);
  setTimeout(() => void gc.release(), 800);
  const r = await first;
  assert.equal(r.code, 0, r.stderr);
  const writer = await acquireWriterLock(target, { operation: 'import', waitSeconds: 30 });
  try {
    const busy = await cli.async(['--wait', '0', 'import', 'r', upload(dir, 'b.bin', 'b')]);
    assert.equal(busy.code, 75, busy.stderr);
    assert.match(busy.stderr, /busy/);
  } finally {
    await writer.release();
  }
});

test('upload manifests: verified import, re-delivery, hash mismatch, missing file, unknown repository, unsafe paths', () => {
  const { dir, cli } = setupBase();
  const up = path.join(dir, 'up');
  uploadWithManifest(up, 'build-1.tram', 'r', { 'nano-1.bin': 'nano one', 'nano-dbg-1.bin': 'nano dbg one' });
  const first = cli.json<{ published: boolean; generation: number; added: string[] }>(['import', 'r', path.join(up, 'build-1.tram')]);
  assert.equal(first.published, true);
  assert.deepEqual(first.added.sort(), ['nano-1.bin', 'nano-dbg-1.bin']);

  // Re-delivery, even after the uploads were deleted: already published, exit 0.
  fs.rmSync(path.join(up, 'nano-1.bin'));
  const again = cli.json<{ published: boolean; alreadyPublished: number }>(['import', 'r', path.join(up, 'build-1.tram')]);
  assert.equal(again.published, false);
  assert.equal(again.alreadyPublished, first.generation);

  // Hash mismatch: nothing imported (the good file neither).
  upload(up, 'ok-2.bin', 'fine');
  upload(up, 'bad-2.bin', 'tampered');
  upload(up, 'build-2.tram', manifestText('r', [{ path: 'ok-2.bin', sha256: sha256('fine') }, { path: 'bad-2.bin', sha256: sha256('original') }]));
  const mismatch = cli.sync(['import', 'r', path.join(up, 'build-2.tram')]);
  assert.equal(mismatch.code, 3);
  assert.match(mismatch.stderr, /bad-2\.bin' has sha256 [0-9a-f]{64}, the manifest says/);
  assert.ok(!listRepo(cli, 'r').includes('ok-2.bin'));

  // Missing file.
  upload(up, 'build-3.tram', manifestText('r', [{ path: 'ok-2.bin', sha256: sha256('fine') }, { path: 'gone-3.bin', sha256: sha256('x') }]));
  const missing = cli.sync(['import', 'r', path.join(up, 'build-3.tram')]);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /gone-3\.bin' is missing/);

  // Unknown repository, and a repository argument that is not the target.
  upload(up, 'build-4.tram', manifestText('nosuch', [{ path: 'ok-2.bin', sha256: sha256('fine') }]));
  const unknown = cli.sync(['import', 'nosuch', path.join(up, 'build-4.tram')]);
  assert.equal(unknown.code, 5);
  assert.match(unknown.stderr, /no repository named 'nosuch'/);
  const wrong = cli.sync(['import', 'r', path.join(up, 'build-4.tram')]);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /targets repository 'nosuch', not 'r'/);

  // Outside the upload directory, symbolic links, hard links to foreign files.
  fs.writeFileSync(path.join(dir, 'outside.bin'), 'outside');
  fs.symlinkSync(path.join(dir, 'outside.bin'), path.join(up, 'sym.bin'));
  fs.linkSync(path.join(dir, 'outside.bin'), path.join(up, 'hard.bin'));
  for (const [p, re] of [
    ['../outside.bin', /escapes/],
    ['/etc/hostname', /absolute/],
    ['sym.bin', /symbolic link/],
    ['hard.bin', /hard link/],
  ] as const) {
    upload(up, 'evil.tram', manifestText('r', [{ path: p, sha256: sha256('outside') }]));
    const r = cli.sync(['import', 'r', path.join(up, 'evil.tram')]);
    assert.equal(r.code, 3, `${p}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  assert.ok(!listRepo(cli, 'r').some((p) => p.includes('outside') || p.includes('sym') || p.includes('hard')));
});

test('the pool never shares an inode with an upload', () => {
  const { dir, base, cli } = setupBase();
  const f = upload(dir, 'mine.bin', 'bytes of mine');
  assert.equal(cli.sync(['import', 'r', f]).code, 0);
  const served = fs.statSync(path.join(base, 'repos', 'r', 'current', 'mine.bin'));
  assert.notEqual(served.ino, fs.statSync(f).ino);
  assert.equal(fs.statSync(f).nlink, 1);
});
