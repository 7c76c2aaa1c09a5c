/** `rcurepo verify [REPO] [--deep] [--repair]`. */
import { openBase, listRepoNames, readRepoConfig } from '../engine/repo.js';
import { verifyBase } from '../engine/verify.js';
import type { VerifyReport } from '../engine/verify.js';
import { acquireWriterLock } from '../engine/lock.js';
import type { LockHolder, WriterLock } from '../engine/lock.js';
import { cleanupRepo } from '../engine/cleanup.js';
import { formatOfRepo } from './repo-format.js';
import { listSnapshots } from '../engine/generations.js';
import { verifyListedDeltas } from '../formats/eopkg/verify-deltas.js';

export interface VerifyCommandOptions {
  base: string;
  repo?: string;
  deep?: boolean;
  repair?: boolean;
  /** With repair: report what is wrong (what repair would rebuild), take no lock, change nothing. */
  dryRun?: boolean;
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
}

/**
 * Read-only verification takes no lock (snapshots are immutable). Repair takes the writer lock of every
 * repository it checks, so no transaction runs while caches are rewritten, and cleans crash leftovers first.
 */
export async function verify(opts: VerifyCommandOptions): Promise<VerifyReport & { dryRun?: boolean }> {
  if (opts.dryRun) return { ...(await verify({ ...opts, repair: false, dryRun: false })), dryRun: true };
  const layout = await openBase(opts.base);
  const names = opts.repo ? [opts.repo] : await listRepoNames(layout);
  if (opts.repo) await readRepoConfig(layout.repo(opts.repo)); // NOT_FOUND for unknown names
  const locks: WriterLock[] = [];
  try {
    if (opts.repair) {
      for (const n of names) {
        const repo = layout.repo(n);
        locks.push(await acquireWriterLock(repo.lockTarget, { operation: 'verify --repair', waitSeconds: opts.waitSeconds ?? 300, onWait: opts.onWait }));
        await cleanupRepo(layout, repo);
      }
    }
    const report = await verifyBase(layout, names, !opts.repo, { deep: opts.deep, repair: opts.repair, formatOf: (_name, cfg) => formatOfRepo(cfg) });
    // eopkg: every delta an index lists, by size and sha1 of its bytes (what a client checks after download).
    const hashed = new Map<string, string>();
    for (const n of names) {
      const repo = layout.repo(n);
      if ((await readRepoConfig(repo).catch(() => undefined))?.format !== 'eopkg') continue;
      for (const gen of await listSnapshots(repo)) {
        for (const f of await verifyListedDeltas(repo.snapshotDir(gen), hashed)) report.faults.push(`${n}: generation ${gen}: eopkg-index.xml: ${f}`);
      }
    }
    return report;
  } finally {
    for (const l of locks) await l.release().catch(() => undefined);
  }
}
