/**
 * Filesystem limits met for real: ENOSPC on a small tmpfs, EMLINK on a loop-mounted ext4 (65,000 links
 * per inode), EXDEV when the repositories folder is another filesystem than the pool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cliIn, tempDir } from './helpers/cli.js';
import { checkSums } from './helpers/tree-check.js';
import { loopRefusal, mountExt4, mountRefusal, mountTmpfs, onMount, repoOn } from './helpers/mounts.js';

const scratch = tempDir('rcurepo-mnt-');
const refused = mountRefusal(scratch);
const loopRefused = refused || loopRefusal(scratch);

test('ENOSPC mid-transaction aborts cleanly and leaves current alone', { skip: refused }, () => {
  onMount(mountTmpfs(scratch, '4m'), (dir) => {
    const { base, cli } = repoOn(dir, 'main');
    const small = path.join(scratch, 'small.txt');
    fs.writeFileSync(small, 'small');
    assert.equal(cli.sync(['import', 'main', small]).code, 0);
    const big = path.join(scratch, 'big.bin');
    fs.writeFileSync(big, Buffer.alloc(6 * 1024 * 1024, 7));
    const r = cli.sync(['import', 'main', big]);
    assert.equal(r.code, 9, r.stderr);
    assert.match(r.stderr, /no space left on device/);
    assert.equal(fs.readlinkSync(path.join(base, 'repos/main/current')), 'snapshots/2');
    checkSums(fs.realpathSync(path.join(base, 'repos/main/current')));
    assert.deepEqual(fs.readdirSync(path.join(base, 'pool/tmp')), []);
    assert.equal(cli.sync(['verify']).code, 0);
    // The same on worker threads (a bulk import): the thread's fault stops the batch, every staged copy
    // (from both threads) is dropped, nothing is published.
    const many = path.join(scratch, 'many');
    fs.mkdirSync(many);
    for (let i = 0; i < 100; i++) fs.writeFileSync(path.join(many, `f${i}.bin`), Buffer.alloc(100 * 1024, i));
    const bulk = cli.sync(['import', 'main', many], { env: { RCUREPO_PREPARE_THREADS: '2', RCUREPO_TRACE: '1' } });
    assert.equal(bulk.code, 9, bulk.stderr);
    assert.match(bulk.stderr, /no space left on device/);
    assert.doesNotMatch(bulk.stderr, /import: prepared/, 'stopped while preparing');
    assert.equal(fs.readlinkSync(path.join(base, 'repos/main/current')), 'snapshots/2');
    assert.deepEqual(fs.readdirSync(path.join(base, 'pool/tmp')), []);
    assert.equal(cli.sync(['verify']).code, 0);
    // Still usable once space is back.
    const again = path.join(scratch, 'again.txt');
    fs.writeFileSync(again, 'again');
    assert.equal(cli.sync(['import', 'main', again]).code, 0);
  });
});

test('EMLINK: a blob at the hard-link limit gets an overflow copy, clones and imports keep working', { skip: loopRefused }, () => {
  onMount(mountExt4(scratch, 64), (dir) => {
    // No background spare clone: it would take links of the blob while this test counts them.
    const { base, cli } = repoOn(dir, 'main', [['spareClone', 'false']]);
    const f = path.join(scratch, 'empty-ish.txt');
    fs.writeFileSync(f, 'shared bytes');
    assert.equal(cli.sync(['import', 'main', f]).code, 0);
    const blobDir = path.join(base, 'pool/blobs');
    const blob = path.join(blobDir, fs.readdirSync(blobDir)[0]!, fs.readdirSync(path.join(blobDir, fs.readdirSync(blobDir)[0]!))[0]!);
    // Fill the inode up to ext4's limit with links elsewhere on the same filesystem.
    const junk = path.join(dir, 'junk');
    fs.mkdirSync(junk);
    let links = fs.statSync(blob).nlink;
    for (let i = 0; links < 65_000; i++, links++) fs.linkSync(blob, path.join(junk, String(i)));
    assert.throws(() => fs.linkSync(blob, path.join(junk, 'one-more')), /EMLINK/);
    // The clone of current meets EMLINK on that file; the same content under a new name needs a link too.
    const g = path.join(scratch, 'other-name.txt');
    fs.writeFileSync(g, 'shared bytes');
    const r = cli.sync(['import', 'main', g]);
    assert.equal(r.code, 0, r.stderr);
    const cur = fs.realpathSync(path.join(base, 'repos/main/current'));
    checkSums(cur);
    assert.ok(fs.existsSync(blob + '.1'), 'an overflow copy of the blob exists');
    assert.equal(fs.statSync(path.join(cur, 'other-name.txt')).ino, fs.statSync(blob + '.1').ino);
    fs.rmSync(junk, { recursive: true });
    const v = cli.sync(['verify', '--deep']);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  });
});

test('EXDEV: repositories on another filesystem than the pool are refused at init', { skip: refused }, () => {
  onMount(mountTmpfs(scratch, '1m'), (dir) => {
    const base = path.join(scratch, 'xdev');
    fs.mkdirSync(base);
    fs.symlinkSync(dir, path.join(base, 'repos')); // repos/ resolves onto the tmpfs, pool/ stays here
    const r = cliIn(base).sync(['init']);
    assert.equal(r.code, 9, r.stderr);
    assert.match(r.stderr, /different filesystems \(EXDEV\)/);
    assert.equal(fs.existsSync(path.join(base, 'rcurepo-layout.json')), false, 'no layout marker for a refused base');
  });
});
