/**
 * "Nothing changes" means nothing: a refused file/folder collision consumes no blob and no generation
 * number, a writer killed inside the pool commit leaves nothing gc and verify cannot account for, and a
 * dry-run import leaves no folder behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import { cliIn, tempDir } from './helpers/cli.js';
import { verify } from '../src/commands/verify.js';
import { status } from '../src/commands/status.js';

function setup() {
  const dir = tempDir('rcurepo-left-');
  const base = path.join(dir, 'base');
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  assert.equal(cli.sync(['create-repo', 'main']).code, 0);
  assert.equal(cli.sync(['config', 'main', 'gcAfterPublish', 'false']).code, 0);
  return { dir, base, cli };
}

function walk(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).sort();
}

const counter = (base: string) => fs.readFileSync(path.join(base, 'repos/main/meta/last-generation'), 'utf8');

test('a file/folder collision is refused before any blob is committed or generation number taken', () => {
  const { dir, base, cli } = setup();
  const a = path.join(dir, 'a');
  fs.writeFileSync(a, 'a file');
  assert.equal(cli.sync(['import', 'main', a]).code, 0);
  const folder = path.join(dir, 'folder');
  fs.mkdirSync(path.join(folder, 'a'), { recursive: true });
  fs.writeFileSync(path.join(folder, 'a', 'inside'), 'new bytes under a');
  const pool = walk(path.join(base, 'pool'));
  const gen = counter(base);
  // The tree has a file `a`; the import wants a folder `a`.
  const r1 = cli.sync(['import', 'main', folder]);
  assert.equal(r1.code, 3, r1.stderr);
  assert.match(r1.stderr, /a\/inside: its folder 'a' is a file in the repository/);
  // The tree has a folder `sub`; the import wants a file `sub`.
  const sub = path.join(dir, 'sub');
  fs.mkdirSync(path.join(dir, 'x'));
  fs.writeFileSync(path.join(dir, 'x', 'f'), 'f');
  assert.equal(cli.sync(['import', 'main', path.join(dir, 'x', 'f'), '--prefix', 'sub']).code, 0);
  const pool2 = walk(path.join(base, 'pool'));
  const gen2 = counter(base);
  fs.writeFileSync(sub, 'a file named like the folder');
  const r2 = cli.sync(['import', 'main', sub]);
  assert.equal(r2.code, 3, r2.stderr);
  assert.match(r2.stderr, /sub: a folder of that name exists in the repository/);
  assert.deepEqual(walk(path.join(base, 'pool')), pool2, 'no orphan blob, no temp, no meta');
  assert.equal(counter(base), gen2, 'no generation number consumed');
  assert.notDeepEqual(pool, pool2);
  assert.equal(gen, '2\n');
  // The collision inside one change is found too, and in bulk (entries loaded) as well.
  const both = path.join(dir, 'both');
  fs.mkdirSync(path.join(both, 'p'), { recursive: true });
  fs.writeFileSync(path.join(both, 'p', 'q'), 'q');
  const flat = path.join(dir, 'flat');
  fs.mkdirSync(flat);
  fs.writeFileSync(path.join(flat, 'p'), 'p');
  const r3 = cli.sync(['import', 'main', both, flat]);
  assert.equal(r3.code, 3, r3.stderr);
  const bulk = path.join(dir, 'bulk');
  fs.mkdirSync(path.join(bulk, 'a'), { recursive: true });
  for (let i = 0; i < 100; i++) fs.writeFileSync(path.join(bulk, `f${i}`), `bulk ${i}`);
  fs.writeFileSync(path.join(bulk, 'a', 'deep'), 'deep');
  const r4 = cli.sync(['import', 'main', bulk]);
  assert.equal(r4.code, 3, r4.stderr);
  assert.match(r4.stderr, /a\/deep: its folder 'a' is a file in the repository/);
  assert.deepEqual(walk(path.join(base, 'pool')), pool2);
  assert.equal(counter(base), gen2);
  assert.equal(cli.sync(['verify']).code, 0);
});

test('kill -9 inside the pool commit: gc removes the stray link and base-wide verify passes', () => {
  const { dir, base, cli } = setup();
  const f = path.join(dir, 'f.txt');
  fs.writeFileSync(f, 'killed while committing');
  const r = cli.sync(['import', 'main', f], { env: { RCUREPO_CRASH_AT: 'in-pool-commit' } });
  assert.equal(r.signal, 'SIGKILL', r.stderr);
  const tmp = path.join(base, 'pool/tmp');
  assert.ok(fs.readdirSync(tmp).length >= 1, 'the killed writer left its temporary name(s)');
  const v1 = cli.sync(['verify']);
  assert.equal(v1.code, 0, `a writer's temporary link is not a fault: ${v1.stdout}`);
  const gc = cli.sync(['gc']);
  assert.equal(gc.code, 0, gc.stderr);
  assert.deepEqual(fs.readdirSync(tmp), [], 'gc removed the dead writer\'s temporary name');
  const v2 = cli.sync(['verify']);
  assert.equal(v2.code, 0, v2.stdout);
  assert.match(gc.stdout, /swept 1 of 1 blobs/, 'the orphan blob itself is swept too');
});

test('a dry-run import of 50 files creates no pool/meta folder and leaves nothing anywhere', () => {
  const { dir, base, cli } = setup();
  const many = path.join(dir, 'many');
  fs.mkdirSync(many);
  for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(many, `p${i}.bin`), `package ${i}`);
  // The background work create-repo started (gc, the spare clone) must be over before the base is
  // compared with itself: wait until two looks 300 ms apart agree.
  let before = walk(base);
  for (let i = 0; i < 50; i++) {
    spawnSync('sleep', ['0.3']);
    const again = walk(base);
    if (JSON.stringify(again) === JSON.stringify(before)) break;
    before = again;
  }
  const r = cli.sync(['import', 'main', many, '--dry-run']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /50 added/);
  assert.deepEqual(walk(base), before);
  // The same through the worker threads of a bulk import.
  const r2 = cli.sync(['import', 'main', many, '--dry-run'], { env: { RCUREPO_PREPARE_THREADS: '2' } });
  assert.equal(r2.code, 0, r2.stderr);
  assert.deepEqual(walk(base), before);
});

test('verify and status, which take no lock, tolerate a blob swept by a background gc while they walk the pool', async () => {
  const { dir, base, cli } = setup();
  const a = path.join(dir, 'a');
  fs.writeFileSync(a, 'referenced');
  assert.equal(cli.sync(['import', 'main', a]).code, 0);
  // An unreferenced blob (link count 1), the kind the background gc after a publish removes.
  const bytes = 'nothing links me';
  const sha = createHash('sha256').update(bytes).digest('hex');
  const orphan = path.join(base, 'pool', 'blobs', sha.slice(0, 2), sha);
  fs.mkdirSync(path.dirname(orphan), { recursive: true });
  fs.writeFileSync(orphan, bytes, { mode: 0o444 });
  // The sweep lands between the walk listing the blob and stat-ing it: deterministic, by one stat call.
  const realStat = fsp.stat;
  const sweepFirst = async (p: Parameters<typeof fsp.stat>[0], o?: Parameters<typeof fsp.stat>[1]) => {
    if (p === orphan && fs.existsSync(orphan)) fs.unlinkSync(orphan);
    return realStat(p, o as never);
  };
  fsp.stat = sweepFirst as typeof fsp.stat;
  try {
    const report = await verify({ base, deep: true });
    assert.deepEqual(report.faults, []);
    assert.equal(report.blobs, 1, 'the referenced blob is checked, the swept one skipped');
    fs.writeFileSync(orphan, bytes, { mode: 0o444 });
    const s = await status({ base });
    assert.equal(s.pool.blobs, 1);
    assert.equal(s.pool.unreferenced, 0);
  } finally {
    fsp.stat = realStat;
  }
});

/** A repository with one generation per imported file; its generation numbers, oldest first. */
function generations(names: string[]) {
  const { dir, base, cli } = setup();
  for (const name of names) {
    const f = path.join(dir, name);
    fs.writeFileSync(f, `only in ${name}`);
    assert.equal(cli.sync(['import', 'main', f]).code, 0);
  }
  const repo = path.join(base, 'repos', 'main');
  const gens = fs.readdirSync(path.join(repo, 'snapshots')).map(Number).filter((g) => Number.isInteger(g)).sort((x, y) => x - y);
  return { base, repo, gens };
}

/** Run `fn` with `action` done once, at the first lstat of a path below `dir`: what a concurrent reaper does, at a chosen moment. */
async function onFirstLstatBelow<T>(dir: string, action: () => void, fn: () => Promise<T>): Promise<{ result: T; fired: boolean }> {
  const inside = dir + path.sep;
  const realLstat = fsp.lstat;
  let fired = false;
  fsp.lstat = (async (p: Parameters<typeof fsp.lstat>[0], o?: Parameters<typeof fsp.lstat>[1]) => {
    if (!fired && String(p).startsWith(inside)) {
      fired = true;
      action();
    }
    return realLstat(p, o as never);
  }) as typeof fsp.lstat;
  try {
    return { result: await fn(), fired };
  } finally {
    fsp.lstat = realLstat;
  }
}

/** What the reaper does to a generation (readers/reaper.ts): rename into trash; `finish` also deletes it and its manifest. */
function reap(repo: string, gen: number, finish: boolean): void {
  const trash = path.join(repo, 'trash');
  fs.mkdirSync(trash, { recursive: true });
  fs.renameSync(path.join(repo, 'snapshots', String(gen)), path.join(trash, `gen-${gen}`));
  if (!finish) return;
  fs.rmSync(path.join(trash, `gen-${gen}`), { recursive: true });
  fs.rmSync(path.join(repo, 'meta', 'manifests', `${gen}.json`), { force: true });
}

test('verify beside a reaping gc: a generation reaped while it is walked, or after it was counted, is no fault', async () => {
  for (const during of ['the walk of a later generation', 'its own walk']) {
    const { base, repo, gens } = generations(['a', 'b', 'c']);
    const victim = gens[gens.length - 2]!;
    const trigger = during === 'its own walk' ? victim : gens[gens.length - 1]!;
    const { result: report, fired } = await onFirstLstatBelow(path.join(repo, 'snapshots', String(trigger)), () => reap(repo, victim, true), () => verify({ base }));
    assert.ok(fired, `the reap happened during ${during}`);
    assert.deepEqual(report.faults, [], during);
    assert.equal(report.snapshots, gens.length - 1, 'the reaped generation is not reported on');
  }
});

test('status beside a reaping gc: a generation reaped while it is walked is left out, not an internal error', async () => {
  const { base, repo, gens } = generations(['a', 'b']);
  const victim = gens[0]!;
  const { result: s, fired } = await onFirstLstatBelow(path.join(repo, 'snapshots', String(victim)), () => reap(repo, victim, false), () => status({ base }));
  assert.ok(fired);
  assert.deepEqual(s.repos[0]!.snapshots.map((x) => x.generation), gens.slice(1));
});
