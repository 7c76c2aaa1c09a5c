/**
 * The spare clone: made after a publish, taken by the next transaction whose parent it clones, never
 * used when stale, cleaned after crashes at every step of making and taking it, and counted by verify
 * and the pool sweep as the links it holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cliIn, tempDir } from './helpers/cli.js';
import { checkSums } from './helpers/tree-check.js';
import { CRASH_POINTS, SPARE_CRASH_POINTS } from '../src/util/crash.js';

interface SpareState { generation: number; kind: 'spare' | 'twin'; state: string; pid?: number; carried?: boolean }
interface Status { repos: Array<{ current: number; spares: SpareState[]; spareClone: boolean }> }

function setup(files = 40) {
  const dir = tempDir();
  const base = path.join(dir, 'base');
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  assert.equal(cli.sync(['create-repo', 'main']).code, 0);
  // gc after publish would race the assertions about spares on disk; the tests run it themselves.
  assert.equal(cli.sync(['config', 'main', 'gcAfterPublish', 'false']).code, 0);
  const src = path.join(dir, 'src');
  for (let i = 0; i < files; i++) {
    fs.mkdirSync(path.join(src, `d${i % 5}`), { recursive: true });
    fs.writeFileSync(path.join(src, `d${i % 5}`, `f${i}.txt`), `file ${i}\n`);
  }
  assert.equal(cli.sync(['import', 'main', src]).code, 0);
  let n = 0;
  const fresh = () => {
    const f = path.join(dir, `new-${n++}.txt`);
    fs.writeFileSync(f, `new ${n} ${'y'.repeat(n)}\n`);
    return f;
  };
  return { dir, base, cli, fresh };
}

const spares = (cli: ReturnType<typeof cliIn>): SpareState[] => cli.json<Status>(['status', 'main']).repos[0]!.spares;
const current = (base: string) => Number(fs.readlinkSync(path.join(base, 'repos', 'main', 'current')).split('/')[1]);

async function waitFor(what: string, cond: () => boolean, ms = 15000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function verifyOk(cli: ReturnType<typeof cliIn>, when: string): void {
  const v = cli.sync(['verify']);
  assert.equal(v.code, 0, `verify ${when}: ${v.stdout}${v.stderr}`);
}

test('a publish leaves a spare of the new current; the next import takes it and verify passes', async () => {
  const { base, cli, fresh } = setup();
  await waitFor('the spare of the current generation', () => spares(cli).some((s) => s.generation === current(base) && s.state === 'ready'));
  verifyOk(cli, 'with a spare on disk'); // its links are counted, not reported as faults
  const parent = current(base);
  const r = cli.sync(['import', 'main', fresh()], { env: { RCUREPO_TRACE: '1' } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /spare-taken/, 'the transaction used the spare');
  assert.equal(current(base), parent + 1);
  checkSums(fs.realpathSync(path.join(base, 'repos', 'main', 'current')));
  await waitFor('the next spare', () => spares(cli).some((s) => s.generation === parent + 1 && s.state === 'ready'));
  verifyOk(cli, 'after taking a spare');
});

test('a stale spare is never used and gc removes it with the blobs only it held', async () => {
  const { base, cli, fresh } = setup();
  await waitFor('the first spare and its twin', () => spares(cli).filter((s) => s.state === 'ready').length === 2);
  const staleGen = current(base);
  // Publish without taking the spare: its generation is then no longer current.
  assert.equal(cli.sync(['config', 'main', 'spareClone', 'false']).code, 0);
  const gone = fresh();
  assert.equal(cli.sync(['import', 'main', gone]).code, 0);
  assert.equal(cli.sync(['remove', 'main', path.basename(gone)]).code, 0);
  assert.equal(cli.sync(['config', 'main', 'spareClone', 'true']).code, 0);
  await waitFor('makers done', () => spares(cli).every((s) => s.state !== 'making'));
  assert.deepEqual(spares(cli).map((s) => [s.generation, s.kind, s.state]), [[staleGen, 'spare', 'stale'], [staleGen, 'twin', 'stale']]);
  const r = cli.sync(['import', 'main', fresh()], { env: { RCUREPO_TRACE: '1' } });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /spare-taken|twin-carried/, 'neither tree of another generation is taken');
  verifyOk(cli, 'with a stale spare on disk');
  await waitFor('the new spare', () => spares(cli).some((s) => s.generation === current(base) && s.state === 'ready'));
  assert.equal(cli.sync(['config', 'main', 'keep', '1']).code, 0);
  assert.equal(cli.sync(['config', 'main', 'graceSeconds', '0']).code, 0);
  const gc = cli.json<{ sweep: { removed: number } }>(['gc', 'main']);
  assert.deepEqual(spares(cli).map((s) => s.generation), [current(base), current(base)], 'only the spare of current and its twin are left');
  assert.ok(gc.sweep.removed >= 1, 'the blob that only old generations and the stale spare held was swept');
  verifyOk(cli, 'after gc');
});

test('kill -9 at every step of making a spare: the next spare and the next publish are sound', async () => {
  const { base, cli, fresh } = setup();
  await waitFor('the first spare', () => spares(cli).some((s) => s.state === 'ready'));
  assert.equal(cli.sync(['config', 'main', 'spareClone', 'false']).code, 0);
  for (const point of SPARE_CRASH_POINTS) {
    // A publish while spares are off, then a maker killed at `point`.
    assert.equal(cli.sync(['import', 'main', fresh()]).code, 0);
    assert.equal(cli.sync(['config', 'main', 'spareClone', 'true']).code, 0);
    const r = cli.sync(['spare', 'main'], { env: { RCUREPO_CRASH_AT: point } });
    assert.equal(r.signal, 'SIGKILL', `maker killed at ${point}: ${r.stderr}`);
    assert.ok(!spares(cli).some((s) => s.generation === current(base) && s.state === 'ready'), `${point}: a half-made spare is not ready`);
    verifyOk(cli, `after a maker was killed at ${point}`);
    const parent = current(base);
    const t = cli.sync(['import', 'main', fresh()], { env: { RCUREPO_TRACE: '1' } });
    assert.equal(t.code, 0, t.stderr);
    assert.doesNotMatch(t.stderr, /spare-taken/, `${point}: a half-made spare is never taken`);
    assert.equal(current(base), parent + 1);
    checkSums(fs.realpathSync(path.join(base, 'repos', 'main', 'current')));
    // The maker started by that publish (or this one) tidies the dead maker's leftovers.
    const made = cli.json<{ removed: number[] }>(['spare', 'main']);
    await waitFor('leftovers gone', () => spares(cli).every((s) => s.state === 'ready' || s.state === 'making'));
    assert.ok(Array.isArray(made.removed));
    verifyOk(cli, `after the leftovers of ${point} were tidied`);
    assert.equal(cli.sync(['config', 'main', 'spareClone', 'false']).code, 0);
  }
});

test('kill -9 at every step of a transaction that took a spare and its twin leaves old or new, and verify passes', async () => {
  const { base, cli, fresh } = setup();
  for (const point of CRASH_POINTS.filter((p) => CRASH_POINTS.indexOf(p) >= CRASH_POINTS.indexOf('after-clone'))) {
    await waitFor('a ready spare and twin', () => spares(cli).filter((s) => s.generation === current(base) && s.state === 'ready').length === 2);
    const before = current(base);
    const r = cli.sync(['import', 'main', fresh()], { env: { RCUREPO_CRASH_AT: point } });
    assert.equal(r.signal, 'SIGKILL', `crashed at ${point}: ${r.stderr}`);
    const swapped = CRASH_POINTS.indexOf(point) >= CRASH_POINTS.indexOf('after-swap');
    assert.equal(current(base), swapped ? before + 1 : before, `current after a crash at ${point}`);
    checkSums(fs.realpathSync(path.join(base, 'repos', 'main', 'current')));
    const next = cli.sync(['import', 'main', fresh()]);
    assert.equal(next.code, 0, `import after a crash at ${point}: ${next.stderr}`);
    verifyOk(cli, `after a crash at ${point}`);
  }
});

test('a transaction racing the spare maker publishes correctly without waiting longer than a clone', async () => {
  const { base, cli, fresh } = setup(3000);
  await waitFor('the first spare', () => spares(cli).some((s) => s.state === 'ready'), 30000);
  for (let i = 0; i < 4; i++) {
    // Back to back: each publish starts a maker, and the next import arrives while it is at work.
    const parent = current(base);
    const r = await cli.async(['import', 'main', fresh()], { env: { RCUREPO_TRACE: '1' } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(current(base), parent + 1);
    checkSums(fs.realpathSync(path.join(base, 'repos', 'main', 'current')));
  }
  verifyOk(cli, 'after racing publishes');
  await waitFor('makers done', () => spares(cli).every((s) => s.state !== 'making'), 30000);
  assert.equal(cli.sync(['spare', 'main']).code, 0);
  verifyOk(cli, 'after the last maker');
});

test('the twin is carried through removals, replacements and new folders and becomes the next spare', async () => {
  const { dir, base, cli, fresh } = setup();
  const ready = () => spares(cli).filter((s) => s.generation === current(base) && s.state === 'ready');
  const listTree = (root: string, skip: string[]): string[] => {
    const out: string[] = [];
    const walk = (rel: string) => {
      for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
        const r2 = rel ? `${rel}/${e.name}` : e.name;
        if (!rel && skip.includes(e.name)) continue;
        if (e.isDirectory()) {
          out.push(`${r2}/`);
          walk(r2);
        } else out.push(`${r2} ${fs.statSync(path.join(root, r2)).ino}`);
      }
    };
    walk('');
    return out.sort();
  };
  /** Publish with spare and twin ready; the new generation's spare must be the carried twin, equal to the snapshot. */
  const publishCarrying = async (what: string, args: string[]): Promise<void> => {
    await waitFor('the spare and its twin', () => ready().length === 2);
    const r = cli.sync(args, { env: { RCUREPO_TRACE: '1' } });
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    assert.match(r.stderr, /spare-taken/, what);
    assert.match(r.stderr, /twin-carried/, `${what}: the twin was carried forward`);
    const gen = current(base);
    const carried = spares(cli).find((s) => s.generation === gen && s.kind === 'spare');
    assert.ok(carried?.carried && carried.state === 'ready', `${what}: the new generation's spare is the carried twin: ${JSON.stringify(spares(cli))}`);
    const snap = fs.realpathSync(path.join(base, 'repos', 'main', 'current'));
    const spareDir = path.join(base, 'repos', 'main', 'spare', String(gen));
    assert.deepEqual(listTree(spareDir, []), listTree(snap, ['SHA256SUMS']), `${what}: the carried spare holds the snapshot's files (same inodes) and folders, no more`);
    verifyOk(cli, `with the spare carried by ${what}`);
  };
  // A removal that empties its folder.
  await publishCarrying('remove', ['remove', 'main', 'd0/f0.txt', 'd0/f5.txt', 'd0/f10.txt', 'd0/f15.txt', 'd0/f20.txt', 'd0/f25.txt', 'd0/f30.txt', 'd0/f35.txt']);
  assert.ok(!fs.existsSync(path.join(base, 'repos', 'main', 'spare', String(current(base)), 'd0')), 'the folder the removals emptied is gone from the twin too');
  // A replacement and a file in a new folder.
  const src = path.join(dir, 'src2');
  fs.mkdirSync(path.join(src, 'd1'), { recursive: true });
  fs.mkdirSync(path.join(src, 'new', 'deep'), { recursive: true });
  fs.writeFileSync(path.join(src, 'd1', 'f1.txt'), 'replaced content\n');
  fs.writeFileSync(path.join(src, 'new', 'deep', 'n.txt'), 'in a new folder\n');
  await publishCarrying('import --replace', ['import', 'main', src, '--replace']);
  // The next publish takes the carried spare; the result is sound.
  const before = current(base);
  const t = cli.sync(['import', 'main', fresh()], { env: { RCUREPO_TRACE: '1' } });
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stderr, /spare-taken/);
  assert.equal(current(base), before + 1);
  checkSums(fs.realpathSync(path.join(base, 'repos', 'main', 'current')));
  verifyOk(cli, 'after taking the carried spare');
});

test('spareTwin false: only the spare is made, and publishes go on without a twin', async () => {
  const { base, cli, fresh } = setup();
  assert.equal(cli.sync(['config', 'main', 'spareTwin', 'false']).code, 0);
  assert.equal(cli.sync(['import', 'main', fresh()]).code, 0);
  await waitFor('the spare', () => spares(cli).some((s) => s.generation === current(base) && s.state === 'ready'));
  await waitFor('makers done', () => spares(cli).every((s) => s.state !== 'making'));
  assert.deepEqual(spares(cli).map((s) => [s.generation, s.kind]), [[current(base), 'spare']]);
  const r = cli.sync(['import', 'main', fresh()], { env: { RCUREPO_TRACE: '1' } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /spare-taken/);
  assert.doesNotMatch(r.stderr, /twin-carried/);
  verifyOk(cli, 'without twins');
});
