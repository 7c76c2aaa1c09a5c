/** Leases, with-snapshot, pins and the reaper, through the built CLI (and the lease API for the race). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeRepo, must, current, snapshots } from './helpers/readers-fixture.js';
import { Layout } from '../src/engine/layout.js';
import { acquireLease } from '../src/readers/leases.js';
import { scheduleReaction } from '../src/publish/after-publish.js';

/** A repository with generations 1..5 (1 is the empty first one), grace 0, keep 1. */
function fiveGenerations() {
  const fx = makeRepo('r');
  // These tests assert exact lease lists; a spare maker leases `current` while it clones, and one a
  // publish killed for being slow leaves a holder-dead lease behind until gc (both correct, both noise here).
  must(fx.cli.sync(['config', 'r', 'spareClone', 'false']));
  for (let i = 0; i < 4; i++) fx.publish({ [`f${i}.txt`]: `content ${i}` });
  must(fx.cli.sync(['config', 'r', 'graceSeconds', '0']));
  must(fx.cli.sync(['config', 'r', 'keep', '1']));
  return fx;
}

test('lease acquire/renew/release/list; TTL capped by leaseMaxTtlSeconds', () => {
  const fx = fiveGenerations();
  const a = fx.cli.json<{ id: string; path: string; generation: number }>(['lease', 'acquire', 'r', '--ttl', '60', '--holder', 'op']);
  assert.equal(a.generation, current(fx.repoDir));
  assert.equal(a.path, path.join(fx.repoDir, 'snapshots', String(a.generation)));
  assert.match(fx.cli.sync(['lease', 'acquire', 'r']).stdout, /^r\.5\.[0-9a-f]+\t\/.*snapshots\/5\n$/);
  const list = fx.cli.json<{ leases: Array<{ id: string; holder: string; state: string }> }>(['lease', 'list', 'r']);
  assert.equal(list.leases.length, 2);
  assert.equal(list.leases.find((l) => l.id === a.id)!.state, 'live');
  must(fx.cli.sync(['config', 'r', 'leaseMaxTtlSeconds', '100']));
  const r = fx.cli.json<{ expires: string; clamped: boolean }>(['lease', 'renew', a.id, '--ttl', '99999']);
  assert.equal(r.clamped, true);
  assert.ok(Date.parse(r.expires) <= Date.now() + 101_000);
  assert.equal(fx.cli.json<{ released: boolean }>(['lease', 'release', a.id]).released, true);
  assert.equal(fx.cli.sync(['lease', 'renew', a.id]).code, 5, 'released lease is NOT_FOUND');
  assert.equal(fx.cli.sync(['lease', 'acquire', 'nope']).code, 5);
});

test('gc: keeps current, newest K, pinned, graced and leased generations; dry run changes nothing', () => {
  const fx = fiveGenerations();
  const leased = fx.cli.json<{ id: string }>(['lease', 'acquire', 'r', '--gen', '2', '--ttl', '600']);
  must(fx.cli.sync(['pin', 'r', '3']));
  const dry = fx.cli.json<{ repos: Array<{ decisions: Array<{ generation: number; action: string; reason: string }> }>; bytesFreed: number }>(['gc', 'r', '--dry-run']);
  const byGen = new Map(dry.repos[0]!.decisions.map((d) => [d.generation, d]));
  assert.equal(byGen.get(1)!.action, 'reap');
  assert.equal(byGen.get(2)!.reason, 'leased');
  assert.equal(byGen.get(3)!.reason, 'pinned');
  assert.equal(byGen.get(4)!.action, 'reap');
  assert.equal(byGen.get(5)!.reason, 'current');
  assert.deepEqual(snapshots(fx.repoDir), [1, 2, 3, 4, 5], 'dry run removed nothing');
  const out = fx.cli.sync(['gc', 'r']);
  must(out);
  assert.match(out.stdout, /reaped 1, 4/);
  assert.match(out.stdout, /freed/);
  assert.deepEqual(snapshots(fx.repoDir), [2, 3, 5]);
  assert.ok(fs.existsSync(path.join(fx.repoDir, 'meta', 'history', '1.json')), 'history stays');
  assert.ok(!fs.existsSync(path.join(fx.repoDir, 'meta', 'manifests', '1.tsv')));
  assert.deepEqual(fs.readdirSync(path.join(fx.repoDir, 'condemned')), []);
  // Grace: a generation superseded just now stays.
  must(fx.cli.sync(['config', 'r', 'graceSeconds', '3600']));
  must(fx.cli.sync(['lease', 'release', leased.id]));
  must(fx.cli.sync(['unpin', 'r', '3']));
  fx.publish({ 'g.txt': 'g' });
  must(fx.cli.sync(['gc', 'r']));
  assert.ok(snapshots(fx.repoDir).includes(5), 'superseded less than the grace period ago');
  // A generation with no supersede record is not reaped; its grace clock starts now.
  fs.rmSync(path.join(fx.repoDir, 'meta', 'superseded', '5'));
  must(fx.cli.sync(['config', 'r', 'graceSeconds', '1']));
  must(fx.cli.sync(['gc', 'r']));
  assert.ok(snapshots(fx.repoDir).includes(5));
  assert.ok(fs.existsSync(path.join(fx.repoDir, 'meta', 'superseded', '5')));
});

test('an expired lease, or one whose holder pid is dead, does not block reaping', async () => {
  const fx = fiveGenerations();
  fx.cli.json(['lease', 'acquire', 'r', '--gen', '2', '--ttl', '1']);
  const dead = spawn(process.execPath, ['-e', '0']);
  const deadPid = await new Promise<number>((r) => dead.on('exit', () => r(dead.pid!)));
  fx.cli.json(['lease', 'acquire', 'r', '--gen', '3', '--ttl', '600', '--pid', String(deadPid)]);
  const live = fx.cli.json<{ id: string }>(['lease', 'acquire', 'r', '--gen', '4', '--ttl', '600', '--pid', String(process.pid)]);
  await new Promise((r) => setTimeout(r, 1200));
  const states = fx.cli.json<{ leases: Array<{ generation: number; state: string }> }>(['lease', 'list']).leases.map((l) => `${l.generation}:${l.state}`);
  assert.deepEqual(states, ['2:expired', '3:holder-dead', '4:live']);
  must(fx.cli.sync(['gc', 'r']));
  assert.deepEqual(snapshots(fx.repoDir), [4, 5]);
  must(fx.cli.sync(['lease', 'release', live.id]));
  must(fx.cli.sync(['gc', 'r']));
  assert.deepEqual(snapshots(fx.repoDir), [5]);
  assert.equal(fx.cli.sync(['lease', 'acquire', 'r', '--gen', '2']).code, 5, 'reaped generation cannot be leased');
});

test('a reader that leases a generation the reaper just condemned retries and gets a valid one', async () => {
  const fx = fiveGenerations();
  const layout = new Layout(fx.base);
  const g = current(fx.repoDir);
  // The reaper's marker on the generation the reader resolved (as if it raced a publish + reap).
  fs.mkdirSync(path.join(fx.repoDir, 'condemned'), { recursive: true });
  fs.writeFileSync(path.join(fx.repoDir, 'condemned', String(g)), '');
  let retried = 0;
  const lease = await acquireLease(layout, 'r', {
    ttlSeconds: 60,
    onRetry: async (gen) => {
      retried++;
      assert.equal(gen, g);
      if (retried === 1) fx.publish({ 'next.txt': 'n' });
    },
  });
  assert.equal(retried, 1);
  assert.equal(lease.record.generation, g + 1);
  assert.ok(!fs.existsSync(path.join(fx.repoDir, 'leases', String(g), `${lease.record.id}.json`)), 'dropped the lease on the condemned one');
  await assert.rejects(acquireLease(layout, 'r', { gen: g }), /reaped or being reaped/);
});

test('with-snapshot runs inside the leased snapshot and passes on the exit status', () => {
  const fx = fiveGenerations();
  const g = current(fx.repoDir);
  const script = 'pwd; echo "$RCUREPO_SNAPSHOT"; ls "$(dirname "$PWD")/../leases/$RCUREPO_GENERATION"; cat f0.txt';
  const r = must(fx.cli.sync(['with-snapshot', 'r', '--', 'sh', '-c', script]));
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], path.join(fx.repoDir, 'snapshots', String(g)));
  assert.equal(lines[1], lines[0]);
  assert.match(lines[2]!, new RegExp(`^r\\.${g}\\.[0-9a-f]+\\.json$`), 'leased while running');
  assert.equal(lines[3], 'content 0');
  assert.deepEqual(fs.readdirSync(path.join(fx.repoDir, 'leases', String(g))), [], 'released after');
  const bad = fx.cli.sync(['with-snapshot', 'r', '--gen', '2', '--', 'sh', '-c', 'exit 3']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /exited with status 3/);
});

test('gc after publish runs detached, at most one pending per repository', async () => {
  const fx = fiveGenerations();
  must(fx.cli.sync(['config', 'r', 'gcAfterPublish', 'true']));
  const layout = new Layout(fx.base);
  const pid = await scheduleReaction(layout, 'r', 'gc');
  assert.ok(pid);
  assert.equal(await scheduleReaction(layout, 'r', 'gc'), undefined, 'one already pending');
  const deadline = Date.now() + 15_000;
  while (snapshots(fx.repoDir).length > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(snapshots(fx.repoDir), [5]);
  // Through a real publish: the import returns at once and a background gc reaps generation 5.
  fx.publish({ 'after.txt': 'published after' });
  const deadline2 = Date.now() + 15_000;
  while (snapshots(fx.repoDir).length > 1 && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(snapshots(fx.repoDir), [6]);
  must(fx.cli.sync(['config', 'r', 'gcAfterPublish', 'false']));
  assert.equal(await scheduleReaction(layout, 'r', 'gc'), undefined);
});
