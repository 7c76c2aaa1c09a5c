/**
 * treeFaults (src/engine/apply.ts), the check that a staging tree is what the new manifest says: every
 * manifest path is in the tree (cloned, or added), the counts agree, a path listed twice is caught, and a
 * removed file that is still there is named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { treeFaults } from '../src/engine/apply.js';
import type { Pool } from '../src/engine/pool.js';
import type { CloneReply } from '../src/engine/clone-worker.js';

const pool = { identitiesSync: () => [] } as unknown as Pool;
const reply = (files: string[]): CloneReply => ({ files, dirs: [''], emlink: [], foreign: [] });
const entries = (paths: string[]) => paths.map((p) => ({ path: p, sha256: '0'.repeat(64), size: 1 }));

test('a staging tree that matches its manifest has no faults', async () => {
  assert.deepEqual(await treeFaults(pool, os.tmpdir(), entries(['a', 'b/c']), reply(['b/c', 'a', 'gone']), { adds: [], removes: ['gone'] }), []);
});

test('a manifest path missing from the tree, an extra file in the tree, a path listed twice', async () => {
  const missing = await treeFaults(pool, os.tmpdir(), entries(['a', 'b']), reply(['a']), { adds: [], removes: [] });
  assert.ok(missing.includes('b: in the manifest but not in the tree'), missing.join('; '));
  assert.ok(missing.includes('staging has 1 files, the new manifest 2'));
  const extra = await treeFaults(pool, os.tmpdir(), entries(['a']), reply(['a', 'stray']), { adds: [], removes: [] });
  assert.deepEqual(extra, ['staging has 2 files, the new manifest 1']);
  const twice = await treeFaults(pool, os.tmpdir(), entries(['a', 'a', 'b']), reply(['a', 'b', 'c']), { adds: [], removes: [] });
  assert.deepEqual(twice, ['staging has 3 files, the new manifest 2']);
  // Not sorted, no duplicate: the same answer as sorted.
  assert.deepEqual(await treeFaults(pool, os.tmpdir(), entries(['b', 'a']), reply(['a', 'b']), { adds: [], removes: [] }), []);
});

test('a removed file still in the tree is named', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tree-faults-'));
  try {
    fs.writeFileSync(path.join(dir, 'old'), 'x');
    const f = await treeFaults(pool, dir, entries(['a']), reply(['a', 'old']), { adds: [], removes: ['old'] });
    assert.deepEqual(f, ['old: still present after removal']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
