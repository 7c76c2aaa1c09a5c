/**
 * Errors keep their documented codes wherever they happen, and a refused or failed command leaves
 * nothing behind: an unreadable input (EIO) and a name longer than the filesystem allows
 * (ENAMETOOLONG) are bad input (exit 3), running out of space or inodes at any step, creating pool
 * folders included, is a filesystem limit (exit 9), never an internal error with a stack trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cliIn, tempDir } from './helpers/cli.js';
import { awaitReactions, mountRefusal } from './helpers/mounts.js';
import { spawnSync } from 'node:child_process';

const scratch = tempDir('rcurepo-err-');
const refused = mountRefusal(scratch);

function setup(base: string) {
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  assert.equal(cli.sync(['create-repo', 'main']).code, 0);
  assert.equal(cli.sync(['config', 'main', 'gcAfterPublish', 'false']).code, 0);
  awaitReactions(base, 'main');
  return cli;
}

/** What must not change when a command is refused: pool, temp area, generations. */
function state(base: string) {
  const ls = (p: string) => (fs.existsSync(p) ? fs.readdirSync(p).sort() : []);
  return {
    current: fs.readlinkSync(path.join(base, 'repos/main/current')),
    tmp: ls(path.join(base, 'pool/tmp')),
    blobs: ls(path.join(base, 'pool/blobs')),
    meta: ls(path.join(base, 'pool/meta')),
    snapshots: ls(path.join(base, 'repos/main/snapshots')),
    counter: fs.readdirSync(path.join(base, 'repos/main/meta')).filter((n) => /gen|counter|next/.test(n)).map((n) => fs.statSync(path.join(base, 'repos/main/meta', n)).isFile() ? fs.readFileSync(path.join(base, 'repos/main/meta', n), 'utf8') : n),
  };
}

test('an input that cannot be read (EIO) is bad input, exit 3, and nothing changes', () => {
  const base = path.join(tempDir('rcurepo-err-'), 'base');
  const cli = setup(base);
  const before = state(base);
  const r = cli.sync(['import', 'main', '/proc/self/mem']);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /\/proc\/self\/mem: cannot be read \(EIO/);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  assert.deepEqual(state(base), before);
});

test('a --prefix segment longer than a file name may be is bad input, exit 3, nothing staged or consumed', () => {
  const base = path.join(tempDir('rcurepo-err-'), 'base');
  const cli = setup(base);
  const f = path.join(scratch, 'x.txt');
  fs.writeFileSync(f, 'x');
  const before = state(base);
  const long = 'a'.repeat(300);
  const r = cli.sync(['import', 'main', f, '--prefix', `ok/${long}`]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /name too long: 300 bytes, at most 255/);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  assert.deepEqual(state(base), before);
  // A file whose own name is too long for the tree (one the source filesystem allows but not after
  // the prefix) is the same: refused by name, not by a failed system call later.
  const deep = cli.sync(['import', 'main', f, '--prefix', Array.from({ length: 20 }, () => 'b'.repeat(250)).join('/')]);
  assert.equal(deep.code, 3, deep.stderr);
  assert.match(deep.stderr, /path too long/);
  assert.deepEqual(state(base), before);
  // The next generation is the next number: none was consumed.
  assert.equal(cli.sync(['import', 'main', f]).code, 0);
  assert.equal(fs.readlinkSync(path.join(base, 'repos/main/current')), 'snapshots/2');
});

test('out of inodes at every step of an import (pool folders included): exit 9, nothing left behind', { skip: refused }, () => {
  const dir = fs.mkdtempSync(path.join(scratch, 'inodes-'));
  const mnt = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16m,nr_inodes=400', 'tmpfs', dir]);
  assert.equal(mnt.status, 0, String(mnt.stderr));
  try {
    const base = path.join(dir, 'base');
    const cli = setup(base);
    const junk = path.join(dir, 'junk');
    fs.mkdirSync(junk);
    const outcomes: string[] = [];
    let published = false;
    for (let free = 0; free < 40 && !published; free++) {
      // Take every inode, then give back `free` of them.
      const made: string[] = [];
      for (let i = 0; ; i++) {
        const p = path.join(junk, String(i));
        try {
          fs.writeFileSync(p, '');
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
          break;
        }
        made.push(p);
      }
      for (const p of made.slice(made.length - free)) fs.rmSync(p);
      const input = path.join(scratch, `in-${free}.txt`);
      fs.writeFileSync(input, `content ${free}`);
      const before = state(base);
      const r = cli.sync(['import', 'main', input]);
      for (const p of made.slice(0, made.length - free)) fs.rmSync(p);
      assert.ok(r.code === 0 || r.code === 9, `with ${free} free inodes: exit ${r.code}\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /internal error/);
      if (r.code === 9) {
        assert.match(r.stderr, /no space left on device/);
        const after = state(base);
        assert.deepEqual({ ...after, meta: [], blobs: [] }, { ...before, meta: [], blobs: [] }, `with ${free} free inodes: nothing published, no temp left`);
        outcomes.push(/(\S+): no space left/.exec(r.stderr)?.[1] ?? '?');
      } else published = true;
    }
    assert.ok(published, 'the import went through once enough inodes were free');
    assert.ok(outcomes.some((p) => /\/pool\/(meta|blobs)\//.test(p)), `one step failed in a pool folder: ${outcomes.join(', ')}`);
    assert.ok(outcomes.some((p) => p.endsWith('/queue')), `one step failed creating a folder (the import queue): ${outcomes.join(', ')}`);
    const v = cli.sync(['verify']);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  } finally {
    spawnSync('umount', ['-l', dir]);
  }
});
