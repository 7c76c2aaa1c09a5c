/**
 * One delta maker per repository at a time (by hand or after a publish), so two runs never compute the
 * same pairs side by side. It is not the writer lock: imports and other writers never wait for a delta
 * run, which takes the writer lock only for its short publish at the end.
 */
import type { RepoLayout } from '../../engine/layout.js';
import { acquireWriterLock, type LockHolder } from '../../engine/lock.js';
import { mkdirp } from '../../util/fsx.js';

export async function withDeltasLock<T>(repo: RepoLayout, opts: { waitSeconds: number; onWait?: (h: LockHolder | undefined) => void }, fn: () => Promise<T>): Promise<T> {
  await mkdirp(repo.metaDir);
  const lock = await acquireWriterLock(repo.deltasLockTarget, { operation: 'deltas', waitSeconds: opts.waitSeconds, onWait: opts.onWait });
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
