/** `rcurepo gc [REPO]`: reap old generations, then sweep unreferenced pool blobs. */
import type { LockHolder } from '../engine/lock.js';
import { openBase } from '../engine/repo.js';
import { runGc } from '../readers/reaper.js';
import type { GcResult } from '../readers/reaper.js';
import { claimPending } from '../publish/pending.js';
import type { RepoLayout } from '../engine/layout.js';

export interface GcCommandOptions {
  base: string;
  repo?: string;
  dryRun?: boolean;
  /**
   * Started by a publish (the 'gc' after-publish reaction): give up quietly on a long-busy lock (the next
   * publish schedules another), and claim the pending marker once the lock is held.
   */
  background?: boolean;
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
}

export async function gc(o: GcCommandOptions): Promise<GcResult> {
  const layout = await openBase(o.base);
  return runGc({
    layout,
    repo: o.repo,
    dryRun: o.dryRun,
    waitSeconds: o.background ? Math.min(o.waitSeconds ?? 60, 60) : o.waitSeconds,
    onWait: o.background ? undefined : o.onWait,
    onLocked: o.background ? (repo: RepoLayout) => claimPending(repo, 'gc') : undefined,
  });
}
