/**
 * Crash consistency: SIGKILL the real CLI at every named step of a transaction and at random instants,
 * then check that `current` is a complete snapshot, acknowledged imports survive, and the next command
 * cleans up so that `verify` passes.
 */
import { track } from './helpers/children.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { BIN, cliIn, tempDir } from './helpers/cli.js';
import { checkSums } from './helpers/tree-check.js';
import { CRASH_POINTS } from '../src/util/crash.js';

function currentGen(base: string): number {
  return Number(fs.readlinkSync(path.join(base, 'repos', 'main', 'current')).split('/')[1]);
}

function assertConsistent(base: string, acknowledged: Set<string>): Map<string, string> {
  const cur = path.join(base, 'repos', 'main', 'current');
  const sums = checkSums(fs.realpathSync(cur));
  for (const f of acknowledged) assert.ok(sums.has(f), `acknowledged ${f} is published`);
  return sums;
}

test('SIGKILL at every named step leaves old or new, and the next command recovers', () => {
  const dir = tempDir();
  const base = path.join(dir, 'base');
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  assert.equal(cli.sync(['create-repo', 'main']).code, 0);
  const acknowledged = new Set<string>();
  let n = 0;
  const fresh = () => {
    const f = path.join(dir, `f${n++}.txt`);
    fs.writeFileSync(f, `content ${n} ${'x'.repeat(n * 13)}\n`);
    return f;
  };
  assert.equal(cli.sync(['import', 'main', fresh()]).code, 0);
  acknowledged.add('f0.txt');
  for (const point of CRASH_POINTS) {
    const before = currentGen(base);
    const file = fresh();
    const r = cli.sync(['import', 'main', file], { env: { RCUREPO_CRASH_AT: point } });
    assert.equal(r.signal, 'SIGKILL', `crashed at ${point}: ${r.stderr}`);
    const after = currentGen(base);
    const sums = assertConsistent(base, acknowledged);
    const published = sums.has(path.basename(file));
    // Up to the rename the old snapshot is current; from the swap on, the new one.
    const swapped = CRASH_POINTS.indexOf(point) >= CRASH_POINTS.indexOf('after-swap');
    assert.equal(after, swapped ? before + 1 : before, `current after a crash at ${point}`);
    assert.equal(published, swapped, `${point}: file published iff the swap happened`);
    // The next command cleans up and succeeds; verify passes (repair rebuilds nothing it should not need).
    const next = fresh();
    const ok = cli.sync(['import', 'main', next]);
    assert.equal(ok.code, 0, `import after crash at ${point}: ${ok.stderr}`);
    acknowledged.add(path.basename(next));
    if (swapped) acknowledged.add(path.basename(file));
    const gen = currentGen(base);
    assert.ok(gen > after, 'generations only move forward (never reused after a crash)');
    const staging = fs.readdirSync(path.join(base, 'repos', 'main', 'staging'));
    assert.deepEqual(staging, [], `no staging left after ${point}`);
    const v = cli.sync(['verify']);
    assert.equal(v.code, 0, `verify after crash at ${point}:\n${v.stdout}${v.stderr}`);
  }
  assertConsistent(base, acknowledged);
});

test('SIGKILL at random instants across many transactions', async () => {
  const dir = tempDir();
  const base = path.join(dir, 'base');
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  assert.equal(cli.sync(['create-repo', 'main']).code, 0);
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  const acknowledged = new Set<string>();
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let killed = 0;
  for (let i = 0; i < 30; i++) {
    // Each transaction adds a few files and, sometimes, removes an acknowledged one.
    const batch = path.join(src, `b${i}`);
    fs.mkdirSync(batch);
    for (let k = 0; k < 5; k++) fs.writeFileSync(path.join(batch, `f${i}-${k}.bin`), `${i}/${k}/${rand()}`);
    const child = track(spawn(process.execPath, [BIN, '--base', base, 'import', 'main', batch, '--prefix', `b${i}`], { stdio: 'ignore' }));
    const delay = Math.floor(rand() * 400);
    const timer = setTimeout(() => child.kill('SIGKILL'), delay);
    const { code, signal } = await new Promise<{ code: number | null; signal: string | null }>((res) => child.on('close', (c, s) => res({ code: c, signal: s })));
    clearTimeout(timer);
    if (signal === 'SIGKILL') killed++;
    else {
      assert.equal(code, 0);
      for (let k = 0; k < 5; k++) acknowledged.add(`b${i}/f${i}-${k}.bin`);
    }
    assertConsistent(base, acknowledged);
  }
  assert.ok(killed > 0, 'some transactions were killed');
  // The next writing command cleans up; verify passes.
  const last = path.join(src, 'last.txt');
  fs.writeFileSync(last, 'last');
  assert.equal(cli.sync(['import', 'main', last]).code, 0);
  const v = cli.sync(['verify']);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assertConsistent(base, acknowledged);
  assert.deepEqual(fs.readdirSync(path.join(base, 'pool', 'tmp')), []);
});
