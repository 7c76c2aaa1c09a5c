/** `rcurepo gc [REPO]`: reap old generations, then sweep unreferenced pool blobs. */
import type { LockHolder } from '../engine/lock.js';
import { openBase } from '../engine/repo.js';
import { runGc } from '../readers/reaper.js';
import type { GcResult } from '../readers/reaper.js';
import { claimPending } from '../publish/pending.js';
import type { RepoLayout } from '../engine/layout.js';
import { writeGcRecord } from '../readers/gc-record.js';
import { emitEvent, secondsSince } from '../util/event-log.js';

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
  const t0 = performance.now();
  const started = new Date().toISOString();
  let r: GcResult;
  try {
    r = await runGc({
      layout,
      repo: o.repo,
      dryRun: o.dryRun,
      waitSeconds: o.background ? Math.min(o.waitSeconds ?? 60, 60) : o.waitSeconds,
      onWait: o.background ? undefined : o.onWait,
      onLocked: o.background ? (repo: RepoLayout) => claimPending(repo, 'gc') : undefined,
    });
  } catch (e) {
    const duration = secondsSince(t0);
    emitEvent('gc', { event: 'gc', outcome: 'failed', repo: o.repo, duration, error: (e as Error).message });
    if (!o.dryRun) await writeGcRecord(layout, { time: started, durationSeconds: duration, outcome: 'failed', reaped: 0, bytesFreed: 0, error: (e as Error).message });
    throw e;
  }
  const duration = secondsSince(t0);
  const reaped = r.repos.reduce((n, x) => n + x.reaped.length, 0);
  for (const x of r.repos) if (x.reaped.length) emitEvent('gc', { event: 'reaped', outcome: 'ok', repo: x.repo, generations: x.reaped, dryRun: r.dryRun });
  emitEvent('gc', { event: 'gc', outcome: 'ok', repo: o.repo, duration, reaped, bytesFreed: r.bytesFreed, swept: r.sweep.removed, dryRun: r.dryRun });
  if (!o.dryRun) await writeGcRecord(layout, { time: started, durationSeconds: duration, outcome: 'ok', reaped, bytesFreed: r.bytesFreed });
  return r;
}
