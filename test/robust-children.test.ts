/**
 * The test command itself: a test that fails never leaves a daemon it started alive, and a machine
 * without rsync skips the rsync part loudly instead of hanging.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { ROOT, cliIn, tempDir } from './helpers/cli.js';
import { track } from './helpers/children.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}

test('a test process that dies of an uncaught error takes its serve child with it', { timeout: 60_000 }, async () => {
  const dir = tempDir('rcurepo-children-');
  const base = path.join(dir, 'base');
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  const script = path.join(dir, 'fails.mts');
  fs.writeFileSync(
    script,
    `import { startServe } from ${JSON.stringify(path.join(ROOT, 'test/helpers/readers-fixture.ts'))};\n` +
      `const s = await startServe(${JSON.stringify(base)});\n` +
      `console.log('serve-pid ' + s.proc.pid);\n` +
      `throw new Error('a failing test');\n`,
  );
  const child = track(spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  assert.notEqual(code, 0);
  const pid = Number(/serve-pid (\d+)/.exec(out)?.[1]);
  assert.ok(pid > 0, out);
  assert.ok(await waitGone(pid, 5000), `serve (pid ${pid}) outlived the failed test process`);
});

test('without rsync the stress test skips loudly and the run ends', { timeout: 120_000 }, () => {
  // A PATH with what the run needs but no rsync.
  const bin = path.join(tempDir('rcurepo-path-'), 'bin');
  fs.mkdirSync(bin);
  for (const tool of ['sh', 'xz', 'sync', 'python3', 'mkfs.ext4', 'mount', 'umount']) {
    const where = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (where) fs.symlinkSync(where, path.join(bin, tool));
  }
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  const r = spawnSync(process.execPath, ['scripts/run-tests.mjs', 'test/readers-stress.test.ts'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 110_000,
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT')), PATH: bin, RCUREPO_TEST_NO_INSTALL: '1' },
  });
  assert.equal(r.error, undefined, 'the run ended by itself');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stderr, /MISSING system tools: rsync \(Debian package rsync\)/);
  assert.match(r.stdout, /SKIPPING: rsync not installed/);
  assert.match(r.stdout, /# skipped 1/);
});
