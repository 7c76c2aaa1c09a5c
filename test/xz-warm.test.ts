/**
 * The warm xz (xz-warm.ts): a block compressed by the process started ahead of need is byte-identical to
 * one compressed by a fresh process; a warm process nobody takes is ended, never left behind; one started
 * with other arguments is not taken.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { descendants } from './helpers/sshd.js';
import { compressBlock, compressBlocks, xzArgs } from '../src/formats/shared/xz-blocks.js';
import { coolXz, takeWarmXz, warmXz } from '../src/formats/shared/xz-warm.js';

const text = Buffer.from('Package: hello\nVersion: 1.0\n\n'.repeat(500));

test('a warm xz compresses the same block as a fresh one, and is used once', async () => {
  const fresh = await compressBlock(text, 3);
  warmXz(xzArgs(3));
  const warmed = await compressBlocks([text], 3);
  assert.ok(warmed[0]!.bytes.equals(fresh.bytes), 'same block bytes');
  assert.equal(takeWarmXz(xzArgs(3)), undefined, 'taken by the compression above, not warm any more');
});

test('a warm xz of other arguments is not taken, and an untaken one ends when cooled', async () => {
  const before = descendants(process.pid);
  warmXz(xzArgs(6));
  assert.equal(takeWarmXz(xzArgs(3)), undefined);
  const pids = descendants(process.pid).filter((p) => !before.includes(p));
  assert.ok(pids.length >= 1, 'the warm xz runs');
  coolXz();
  const deadline = Date.now() + 10_000;
  while (descendants(process.pid).some((p) => pids.includes(p))) {
    assert.ok(Date.now() < deadline, 'the untaken xz exited after its input was closed');
    await new Promise((r) => setTimeout(r, 20));
  }
});
