/**
 * Large changes write their indexes on a worker thread (src/publish/index-thread.ts): the same bytes as
 * on the main thread, for eopkg and files repositories, and `verify` passes either way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cliIn, tempDir } from './helpers/cli.js';
import { generatePackages } from '../fixtures/gen-eopkg.js';

/** Import `src` into a fresh repository of `format`, traced; returns the published snapshot and stderr. */
function importInto(dir: string, name: string, format: string, src: string, env: NodeJS.ProcessEnv): { snap: string; stderr: string } {
  const base = path.join(dir, name);
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  assert.equal(cli.sync(['create-repo', 'r', '--format', format]).code, 0);
  const r = cli.sync(['import', 'r', src], { env: { ...env, RCUREPO_TRACE: '1' } });
  assert.equal(r.code, 0, r.stderr);
  const v = cli.sync(['verify']);
  assert.equal(v.code, 0, `verify: ${v.stdout}${v.stderr}`);
  return { snap: fs.realpathSync(path.join(base, 'repos', 'r', 'current')), stderr: r.stderr };
}

function sameIndexes(a: string, b: string, names: string[]): void {
  for (const n of names) assert.ok(fs.readFileSync(path.join(a, n)).equals(fs.readFileSync(path.join(b, n))), `${n}: the same bytes from the thread and the main thread`);
}

test('a 1,200-package eopkg import writes its index on a thread: the same bytes as on the main thread', () => {
  const dir = tempDir();
  const src = path.join(dir, 'pkgs');
  generatePackages({ out: src, count: 1200, seed: 'index-thread' });
  const thread = importInto(dir, 'a', 'eopkg', src, {});
  const main = importInto(dir, 'b', 'eopkg', src, { RCUREPO_INDEX_THREAD: '0' });
  assert.match(thread.stderr, /\[trace\] index-thread/, 'the index was written on the thread');
  assert.doesNotMatch(main.stderr, /\[trace\] index-thread/, 'RCUREPO_INDEX_THREAD=0 keeps it on the main thread');
  sameIndexes(thread.snap, main.snap, ['eopkg-index.xml', 'eopkg-index.xml.xz', 'eopkg-index.xml.sha1sum', 'eopkg-index.xml.xz.sha1sum']);
});

test('a 1,500-file import writes SHA256SUMS on a thread; a small one stays on the main thread', () => {
  const dir = tempDir();
  const src = path.join(dir, 'src');
  for (let i = 0; i < 1500; i++) {
    fs.mkdirSync(path.join(src, `d${i % 15}`), { recursive: true });
    fs.writeFileSync(path.join(src, `d${i % 15}`, `f${i}.txt`), `file ${i}\n`);
  }
  const thread = importInto(dir, 'a', 'files', src, {});
  const main = importInto(dir, 'b', 'files', src, { RCUREPO_INDEX_THREAD: '0' });
  assert.match(thread.stderr, /\[trace\] index-thread/);
  sameIndexes(thread.snap, main.snap, ['SHA256SUMS']);
  const small = path.join(dir, 'small');
  fs.mkdirSync(small);
  fs.writeFileSync(path.join(small, 'one.txt'), 'one\n');
  assert.doesNotMatch(importInto(dir, 'c', 'files', small, {}).stderr, /\[trace\] index-thread/, 'a small change indexes on the main thread');
});
