/** Post-publish hooks: configuration commands, environment, failures logged, never blocking the publisher. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setupBase, until, upload } from './helpers/hooks-env.js';
import { Layout } from '../src/engine/layout.js';
import { runPostPublishHooks } from '../src/hooks/post-publish.js';

test('hooks add/list/remove/run: settings.postPublish, environment, failures and timeouts logged', () => {
  const { dir, base, cli } = setupBase();
  const out = path.join(dir, 'hook.out');
  assert.equal(cli.sync(['hooks', 'add', 'r', '--', 'sh', '-c', `echo "$RCUREPO_REPO $RCUREPO_GENERATION $RCUREPO_SNAPSHOT $PWD" >> ${out}`]).code, 0);
  assert.equal(cli.sync(['hooks', 'add', 'r', '--timeout', '1', '--', 'sleep', '30']).code, 0);
  assert.equal(cli.sync(['hooks', 'add', 'r', '--', 'sh', '-c', 'echo broken >&2; exit 3']).code, 0);
  const cfg = JSON.parse(fs.readFileSync(path.join(base, 'repos', 'r', 'repo.json'), 'utf8')) as { settings: { postPublish: Array<{ argv: string[] }> } };
  assert.deepEqual(cfg.settings.postPublish[1]!.argv, ['sleep', '30']);
  const list = cli.json<{ hooks: Array<{ index: number; argv: string[]; timeoutSeconds?: number }> }>(['hooks', 'list', 'r']);
  assert.equal(list.hooks.length, 3);
  assert.equal(list.hooks[1]!.timeoutSeconds, 1);

  const t = Date.now();
  const run = cli.sync(['hooks', 'run', 'r']);
  assert.ok(Date.now() - t < 10_000, 'the timeout killed the sleeping hook');
  assert.equal(run.code, 1);
  assert.match(run.stdout, /hook 1 .*: ok/);
  assert.match(run.stdout, /hook 2 .*: timeout/);
  assert.match(run.stdout, /hook 3 .*: failed \(exit 3\)/);
  assert.match(run.stderr, /post-publish hook 3 .* failed: exit 3/);
  const snap = path.join(base, 'repos', 'r', 'snapshots', '1');
  assert.equal(fs.readFileSync(out, 'utf8').trim(), `r 1 ${snap} ${snap}`);
  const log = fs.readFileSync(path.join(base, 'repos', 'r', 'meta', 'post-publish.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { status: string; output?: string });
  assert.deepEqual(log.map((l) => l.status), ['ok', 'timeout', 'failed']);
  assert.match(log[2]!.output!, /broken/);

  assert.equal(cli.sync(['hooks', 'remove', 'r', '2']).code, 0);
  assert.deepEqual(cli.json<{ hooks: Array<{ argv: string[] }> }>(['hooks', 'list', 'r']).hooks.map((h) => h.argv[0]), ['sh', 'sh']);
  assert.equal(cli.sync(['hooks', 'remove', 'r', '7']).code, 5);
  assert.equal(cli.sync(['hooks', 'list', 'nosuch']).code, 5);
});

test('runPostPublishHooks returns at once; hooks run detached, in order, and a failure is logged without undoing the publish', async () => {
  const { dir, base, cli } = setupBase();
  const out = path.join(dir, 'order.out');
  cli.sync(['hooks', 'add', 'r', '--', 'sh', '-c', `sleep 1; echo first-$RCUREPO_GENERATION >> ${out}`]);
  cli.sync(['hooks', 'add', 'r', '--', 'sh', '-c', `echo second-$RCUREPO_GENERATION >> ${out}; exit 9`]);
  assert.equal(cli.sync(['import', 'r', upload(dir, 'x.bin', 'x')]).code, 0);
  const layout = new Layout(base);
  const t = Date.now();
  const r = await runPostPublishHooks(layout, 'r', 2, layout.repo('r').snapshotDir(2));
  assert.ok(Date.now() - t < 1000, `returned in ${Date.now() - t} ms`);
  assert.deepEqual(r, []);
  const logFile = path.join(base, 'repos', 'r', 'meta', 'post-publish.log');
  await until('both hooks logged', () => fs.existsSync(logFile) && fs.readFileSync(logFile, 'utf8').trim().split('\n').length >= 2, 15_000);
  assert.equal(fs.readFileSync(out, 'utf8'), 'first-2\nsecond-2\n');
  const lines = fs.readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { status: string; exitCode: number });
  assert.equal(lines[1]!.status, 'failed');
  assert.equal(lines[1]!.exitCode, 9);
  // The publish stands.
  assert.equal(cli.json<{ generation: number }>(['list', 'r']).generation, 2);
});

test('after each publish the hooks run for current: a burst of publishes coalesces, the newest generation wins', async () => {
  const { dir, base, cli } = setupBase();
  const out = path.join(dir, 'gens.out');
  // A hook held until the test opens its gate (at most 60 s): publishes made while it runs wait in ONE
  // pending child, which then runs for current. The gate makes this independent of how fast imports are.
  const gate = path.join(dir, 'gate');
  cli.sync(['hooks', 'add', 'r', '--', 'sh', '-c', `echo $RCUREPO_GENERATION >> ${out}; n=0; while [ ! -e ${gate} ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done`]);
  assert.equal(cli.sync(['import', 'r', upload(dir, 'a.bin', 'a')]).code, 0);
  // The runner starts detached and works on `current` as it finds it: wait for it before publishing
  // again, or a slow start (a loaded machine) lets it run for a later generation first (also correct).
  await until('the first hook run started', () => fs.existsSync(out), 30_000);
  for (const name of ['b', 'c', 'd']) assert.equal(cli.sync(['import', 'r', upload(dir, `${name}.bin`, name)]).code, 0);
  assert.equal(cli.json<{ generation: number }>(['list', 'r']).generation, 5);
  fs.writeFileSync(gate, '');
  await until('the newest generation ran its hooks', () => fs.existsSync(out) && fs.readFileSync(out, 'utf8').trim().split('\n').at(-1) === '5', 30_000);
  const runs = fs.readFileSync(out, 'utf8').trim().split('\n').map(Number);
  assert.equal(runs[0], 2, 'the first publish ran at once');
  assert.ok(runs.length <= 3, `four publishes, coalesced into at most three runs: ${runs.join(' ')}`);
  assert.deepEqual([...runs].sort((x, y) => x - y), runs, 'never an older generation after a newer one');
  await until('no reaction pending', () => !fs.existsSync(path.join(base, 'repos', 'r', 'meta', 'pending', 'post-publish')), 15_000);
});
