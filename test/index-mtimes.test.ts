/**
 * Each generation's index files are modified in a later second than the previous generation's
 * (src/engine/index-mtimes.ts): apt's If-Modified-Since and rsync's quick check compare whole seconds,
 * so an index rewritten within the same second would look unchanged to clients and mirrors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cliIn, tempDir } from './helpers/cli.js';

test('SHA256SUMS of back-to-back publishes: each a whole second newer than the one it replaces', () => {
  const base = tempDir('rcurepo-mtimes-');
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  assert.equal(cli.sync(['create-repo', 'r', '--format', 'files']).code, 0);
  const sums = () => fs.statSync(path.join(base, 'repos/r/current/SHA256SUMS'));
  const seconds: number[] = [];
  const inodes: number[] = [];
  for (let i = 0; i < 4; i++) {
    // The same size every time: only the modification time can tell the versions apart.
    const f = path.join(base, `v.txt`);
    fs.writeFileSync(f, `version ${i}\n`);
    assert.equal(cli.sync(['import', 'r', f, '--replace']).code, 0);
    seconds.push(Math.floor(sums().mtimeMs / 1000));
    inodes.push(sums().ino);
  }
  for (let i = 1; i < seconds.length; i++) assert.ok(seconds[i]! > seconds[i - 1]!, `publish ${i + 1}: SHA256SUMS at second ${seconds[i]}, the one before at ${seconds[i - 1]}`);
  assert.equal(new Set(inodes).size, inodes.length, 'every publish wrote its own SHA256SUMS');
  assert.ok(seconds.at(-1)! <= Math.floor(Date.now() / 1000) + seconds.length, 'ahead of the clock by at most a second per publish');
  assert.equal(cli.sync(['verify', 'r']).code, 0);
});
