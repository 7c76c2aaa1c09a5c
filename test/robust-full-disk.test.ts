/**
 * Full disks met for real (tmpfs): gc must take its lock and delete with 0 bytes free, and failures
 * while creating pool folders must come back as their documented code with nothing left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, tempDir } from './helpers/cli.js';
import { missingTool } from './helpers/children.js';
import { spawnSync } from 'node:child_process';
import { loopRefusal, mountExt4, mountRefusal, mountTmpfs, onMount, repoOn } from './helpers/mounts.js';

const scratch = tempDir('rcurepo-full-');
const refused = mountRefusal(scratch);
const loopRefused = refused || loopRefusal(scratch);

/** Fill the filesystem of `dir` until not one more byte can be written. */
function fill(dir: string): void {
  const fd = fs.openSync(path.join(dir, 'filler'), 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (let size = chunk.length; size >= 1; ) {
      try {
        fs.writeSync(fd, chunk, 0, size);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
        size = Math.floor(size / 2);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  // Every byte is taken: even an empty file's first byte fails.
  assert.throws(() => fs.writeFileSync(path.join(dir, 'probe'), 'x'), /ENOSPC/);
  fs.rmSync(path.join(dir, 'probe'), { force: true });
}

test('gc takes its lock and reaps with 0 bytes free, leaving no lock, marker or temp behind', { skip: refused }, () => {
  onMount(mountTmpfs(scratch, '8m'), (dir) => {
    // No spare clones: a spare maker still at work after the last publish writes and deletes its record
    // files, which can free a page of the filled tmpfs between the fill and the gc under test.
    const { base, cli } = repoOn(dir, 'main', [['gcAfterPublish', 'false'], ['graceSeconds', '0'], ['keep', '1'], ['spareClone', 'false']]);
    for (let i = 0; i < 3; i++) {
      const f = path.join(scratch, `big${i}.bin`);
      fs.writeFileSync(f, Buffer.alloc(1024 * 1024, i + 1));
      const r = cli.sync(['import', 'main', f]);
      assert.equal(r.code, 0, r.stderr);
      fs.rmSync(f);
    }
    assert.equal(cli.sync(['remove', 'main', 'big0.bin', 'big1.bin']).code, 0);
    fill(dir);
    const dry = cli.sync(['gc', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    const r = cli.sync(['gc']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /main: reaped 1, 2, 3, 4/);
    assert.match(r.stdout, /freed 2\.0 MiB/);
    const repoDir = path.join(base, 'repos/main');
    assert.deepEqual(fs.readdirSync(path.join(repoDir, 'snapshots')).sort(), ['5']);
    const leftovers = fs.readdirSync(path.join(base, 'repos')).filter((n) => n !== 'main');
    assert.deepEqual(leftovers, [], 'no lock or temporary names left beside the repository');
    assert.deepEqual(fs.readdirSync(path.join(base, 'pool/tmp')), []);
    assert.deepEqual(fs.readdirSync(path.join(base, 'pool/guard')), [], 'no pool-guard marker left');
    fs.rmSync(path.join(dir, 'filler'));
    const v = cli.sync(['verify']);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  });
});

test('gc on a completely full ext4 leaves no empty lock directory or marker behind', { skip: loopRefused }, () => {
  onMount(mountExt4(scratch, 32), (dir) => {
    const { base, cli } = repoOn(dir, 'main', [['gcAfterPublish', 'false'], ['graceSeconds', '0'], ['keep', '1'], ['spareClone', 'false']]);
    const f = path.join(scratch, 'e4.bin');
    fs.writeFileSync(f, Buffer.alloc(2 * 1024 * 1024, 5));
    assert.equal(cli.sync(['import', 'main', f]).code, 0);
    assert.equal(cli.sync(['remove', 'main', 'e4.bin']).code, 0);
    fill(dir); // as root: the reserved blocks too, so not even a directory block is left
    const r = cli.sync(['gc']);
    // ext4 needs a block for any new directory: the lock may be refused, but then as a filesystem limit.
    assert.ok(r.code === 0 || r.code === 9, `exit ${r.code}: ${r.stderr}`);
    if (r.code === 9) assert.match(r.stderr, /no space left on device/);
    const leftovers = fs.readdirSync(path.join(base, 'repos')).filter((n) => n !== 'main');
    assert.deepEqual(leftovers, [], 'no lock or temporary names left beside the repository');
    assert.deepEqual(fs.readdirSync(path.join(base, 'pool/guard')), []);
  });
});

test('gc as a non-root user on an ext4 full for it leaves no empty lock directory behind', { skip: loopRefused || missingTool('setpriv', 'util-linux') }, () => {
  onMount(mountExt4(scratch, 32), (dir) => {
    fs.chmodSync(scratch, 0o755); // the user must reach the mount point
    fs.chownSync(dir, 65534, 65534);
    const as = (cmd: string, args: string[]) =>
      spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', cmd, ...args], { encoding: 'utf8', cwd: dir });
    const base = path.join(dir, 'base');
    const cli = (...args: string[]) => as(process.execPath, [BIN, '--base', base, ...args]);
    for (const args of [['init'], ['create-repo', 'main'], ['config', 'main', 'gcAfterPublish', 'false'], ['config', 'main', 'graceSeconds', '0'], ['config', 'main', 'keep', '1']]) {
      const r = cli(...args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    const f = path.join(dir, 'nb.bin');
    fs.writeFileSync(f, Buffer.alloc(2 * 1024 * 1024, 9));
    fs.chmodSync(f, 0o644);
    assert.equal(cli('import', 'main', f).status, 0);
    fs.rmSync(f);
    assert.equal(cli('remove', 'main', 'nb.bin').status, 0);
    // Fill what the user may write (root's reserved blocks stay free, as on a real server).
    as('dd', ['if=/dev/zero', `of=${path.join(dir, 'filler')}`, 'bs=64k']);
    as('dd', ['if=/dev/zero', `of=${path.join(dir, 'filler2')}`, 'bs=1k']);
    as('dd', ['if=/dev/zero', `of=${path.join(dir, 'filler3')}`, 'bs=1']);
    const r = cli('gc');
    assert.ok(r.status === 0 || r.status === 9, `exit ${r.status}: ${r.stderr}`);
    if (r.status === 9) assert.match(r.stderr, /no space left on device/);
    assert.deepEqual(fs.readdirSync(path.join(base, 'repos')).filter((n) => n !== 'main'), [], 'no lock or temporary names left beside the repository');
    assert.deepEqual(fs.readdirSync(path.join(base, 'pool/guard')), []);
  });
});
