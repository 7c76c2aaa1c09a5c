/** `freeze REPO [--reason TEXT]` / `unfreeze REPO`: a frozen repository refuses every change. */
import { openBase, readRepoConfig, writeRepoConfig } from '../../engine/repo.js';
import { acquireWriterLock } from '../../engine/lock.js';
import type { LockHolder } from '../../engine/lock.js';
import { defaultActor } from '../../engine/transaction.js';

export interface FreezeOptions {
  base: string;
  repo: string;
  frozen: boolean;
  reason?: string;
  dryRun?: boolean;
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
}

export interface FreezeResult {
  repo: string;
  frozen: boolean;
  changed: boolean;
  dryRun: boolean;
}

/** Under the writer lock, so a freeze lands between transactions, never inside one. */
export async function setFrozen(opts: FreezeOptions): Promise<FreezeResult> {
  const layout = await openBase(opts.base);
  const repo = layout.repo(opts.repo);
  const before = await readRepoConfig(repo);
  if (!!before.frozen === opts.frozen) return { repo: opts.repo, frozen: opts.frozen, changed: false, dryRun: !!opts.dryRun };
  if (opts.dryRun) return { repo: opts.repo, frozen: opts.frozen, changed: true, dryRun: true };
  const lock = await acquireWriterLock(repo.lockTarget, { operation: opts.frozen ? 'freeze' : 'unfreeze', waitSeconds: opts.waitSeconds ?? 300, onWait: opts.onWait });
  try {
    const cfg = await readRepoConfig(repo);
    if (opts.frozen) cfg.frozen = { since: new Date().toISOString(), by: defaultActor(), ...(opts.reason ? { reason: opts.reason } : {}) };
    else delete cfg.frozen;
    await lock.assertHeld();
    await writeRepoConfig(repo, cfg);
  } finally {
    await lock.release();
  }
  return { repo: opts.repo, frozen: opts.frozen, changed: true, dryRun: false };
}
