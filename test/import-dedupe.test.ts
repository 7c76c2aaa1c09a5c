/**
 * Imports de-duplicate by hash as they read: bytes the pool already holds get no temporary copy, and
 * identical inputs of one import share one (66,000 identical files must not need 66,000 inodes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './helpers/cli.js';
import { loopRefusal, mountExt4, mountRefusal, onMount, repoOn } from './helpers/mounts.js';
import { setupBase } from './helpers/hooks-env.js';
import { Layout } from '../src/engine/layout.js';
import { Pool } from '../src/engine/pool.js';
import { prepareFiles } from '../src/engine/importer.js';
import { getFormat } from '../src/formats/registry.js';

function identicalFiles(dir: string, n: number, content: string | Buffer, stem = 'same'): Array<{ abs: string; rel: string }> {
  fs.mkdirSync(dir, { recursive: true });
  const out: Array<{ abs: string; rel: string }> = [];
  for (let i = 0; i < n; i++) {
    const rel = `${stem}-${String(i).padStart(5, '0')}.bin`;
    fs.writeFileSync(path.join(dir, rel), content);
    out.push({ abs: path.join(dir, rel), rel });
  }
  return out;
}

/** Regular files in pool/tmp, and how many distinct inodes they are. */
function poolTemp(base: string): { names: number; inodes: number } {
  const dir = path.join(base, 'pool', 'tmp');
  const st = fs.readdirSync(dir).map((n) => fs.lstatSync(path.join(dir, n))).filter((s) => s.isFile());
  return { names: st.length, inodes: new Set(st.map((s) => s.ino)).size };
}

test('identical inputs share one staged copy; bytes already pooled get none', async () => {
  const { dir, base, cli } = setupBase();
  const layout = new Layout(base);
  const format = await getFormat('files');
  const pool = new Pool(layout);
  const small = identicalFiles(path.join(dir, 'small'), 40, 'the same small bytes\n');
  const big = identicalFiles(path.join(dir, 'big'), 3, Buffer.alloc(5 * 1024 * 1024, 1), 'big'); // streamed, not read whole
  for (const files of [small, big]) {
    const { prepared, refused } = await prepareFiles(layout, format, files, {});
    assert.deepEqual(refused, []);
    assert.equal(prepared.length, files.length);
    assert.deepEqual(poolTemp(base).inodes, 1, 'one temporary copy for identical bytes');
    await pool.discard(prepared.map((p) => p.staged));
    assert.deepEqual(poolTemp(base), { names: 0, inodes: 0 });
  }
  // Published once, the bytes are in the pool: preparing them again copies nothing.
  assert.equal(cli.sync(['import', 'r', small[0]!.abs, big[0]!.abs]).code, 0);
  for (const files of [small, big]) {
    const { prepared } = await prepareFiles(layout, format, files, {});
    assert.equal(prepared.length, files.length);
    assert.deepEqual(poolTemp(base), { names: 0, inodes: 0 }, 'nothing staged for pooled bytes');
    await pool.discard(prepared.map((p) => p.staged));
  }
  // And they import (the pool blob is linked, never copied again).
  const r = cli.json<{ added: string[] }>(['import', 'r', path.join(dir, 'small'), '--prefix', 'again']);
  assert.equal(r.added.length, small.length);
  assert.equal(cli.sync(['verify']).code, 0);
});

const scratch = tempDir('rcurepo-dedupe-mnt-');
const refused = mountRefusal(scratch) || loopRefusal(scratch);

// (ext4, not tmpfs: tmpfs charges every hard link against its inode limit.)
test('1,500 identical files import on a filesystem with 512 inodes', { skip: refused ? `LOUD: ${refused}` : false }, () => {
  onMount(mountExt4(scratch, 16, 512), (dir) => {
    const { base, cli } = repoOn(dir, 'r');
    const src = path.join(scratch, 'many');
    identicalFiles(src, 1500, Buffer.alloc(2048, 7));
    const first = cli.sync(['--json', 'import', 'r', src]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal((JSON.parse(first.stdout) as { added: string[] }).added.length, 1500);
    // The same bytes under 1,500 new names: all from the pool.
    const again = cli.sync(['--json', 'import', 'r', src, '--prefix', 'copy']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { added: string[] }).added.length, 1500);
    assert.deepEqual(fs.readdirSync(path.join(base, 'pool', 'tmp')), []);
    assert.equal(cli.sync(['verify']).code, 0);
  });
});
