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
import { isAlive, track } from './helpers/children.js';

const alive = isAlive;

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
  try {
    assert.ok(await waitGone(pid, 5000), `serve (pid ${pid}) outlived the failed test process`);
  } finally {
    if (alive(pid)) process.kill(pid, 'SIGKILL'); // this test leaves nothing behind either
  }
});

test('without rsync the stress test skips loudly and the run ends', { timeout: 120_000 }, async () => {
  // A PATH with what the run needs but no rsync.
  const bin = path.join(tempDir('rcurepo-path-'), 'bin');
  fs.mkdirSync(bin);
  for (const tool of ['sh', 'xz', 'sync', 'python3', 'mkfs.ext4', 'mount', 'umount']) {
    const where = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (where) fs.symlinkSync(where, path.join(bin, tool));
  }
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  // Its own process group, so that a hanging run (the defect) is killed whole, grandchildren included.
  const run = spawn(process.execPath, ['scripts/run-tests.mjs', 'test/readers-stress.test.ts'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT')), PATH: bin, RCUREPO_TEST_NO_INSTALL: '1' },
  });
  const killGroup = () => {
    try {
      process.kill(-run.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  process.once('exit', killGroup);
  let stdout = '';
  let stderr = '';
  run.stdout!.on('data', (d) => (stdout += d));
  run.stderr!.on('data', (d) => (stderr += d));
  let timer: NodeJS.Timeout | undefined;
  try {
    const status = await new Promise<number | null | 'hung'>((resolve) => {
      timer = setTimeout(() => resolve('hung'), 100_000);
      run.once('close', (code) => resolve(code));
    });
    assert.notEqual(status, 'hung', 'the run ended by itself');
    assert.equal(status, 0, stdout + stderr);
    assert.match(stderr, /MISSING system tools: rsync \(Debian package rsync\)/);
    assert.match(stdout, /SKIPPING: rsync not installed/);
    assert.match(stdout, /# skipped 1/);
  } finally {
    clearTimeout(timer);
    killGroup();
  }
});
