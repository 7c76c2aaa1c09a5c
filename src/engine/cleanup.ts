/**
 * Recovery of what a crashed writer left behind. Runs under the repository's writer lock at the start
 * of every writing command; it never touches a published snapshot (current or older).
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Layout, RepoLayout } from './layout.js';
import { listHistory, listSnapshots, markSuperseded, readCurrent, readSupersededSync } from './generations.js';

import { listDir as names, listDirSync, mkdirp, removePath, TMP_PREFIX, tmpName } from '../util/fsx.js';
import { isProcessAlive } from '../util/process.js';

export interface CleanupReport {
  staging: number;
  unpublishedSnapshots: number[];
  tempFiles: number;
}

/** Temp names carry the creating pid: `.rcurepo-tmp-<pid>-...`. */
function tempOwnerPid(name: string): number | undefined {
  if (!name.startsWith(TMP_PREFIX)) return undefined;
  const pid = Number(name.slice(TMP_PREFIX.length).split('-')[0]);
  return Number.isInteger(pid) ? pid : undefined;
}

export async function cleanupRepo(layout: Layout, repo: RepoLayout): Promise<CleanupReport> {
  const report: CleanupReport = { staging: 0, unpublishedSnapshots: [], tempFiles: 0 };
  // Staging trees: only writers holding this lock create them, and we hold it now.
  for (const n of await names(repo.stagingDir)) {
    await removePath(path.join(repo.stagingDir, n));
    report.staging++;
  }
  // Stray temporary names (half-made `current` symlinks, atomic-write temps) in repository folders.
  // Only those of dead processes: lock candidates of live waiters also live in the repository folder.
  for (const dir of [repo.dir, repo.snapshotsDir, repo.historyDir, repo.manifestsDir, repo.supersededDir, repo.metaDir]) {
    for (const n of await names(dir)) {
      const pid = tempOwnerPid(n);
      if (pid === undefined || pid === process.pid || isProcessAlive(pid)) continue;
      await removePath(path.join(dir, n));
      report.tempFiles++;
    }
  }
  // Snapshots newer than `current` were renamed into place but never published: a crash between the
  // rename and the swap. Generations only move forward, so anything above current is such a leftover.
  const current = await readCurrent(repo);
  if (current !== undefined) {
    for (const gen of await listSnapshots(repo)) {
      if (gen <= current) continue;
      await mkdirp(repo.trashDir);
      const trash = tmpName(repo.trashDir, `gen-${gen}`);
      await fsp.rename(repo.snapshotDir(gen), trash);
      await removePath(trash);
      report.unpublishedSnapshots.push(gen);
    }
    for (const gen of await listHistory(repo)) {
      if (gen > current) {
        await fsp.rm(repo.historyFile(gen), { force: true });
        await fsp.rm(repo.manifestFile(gen), { force: true });
      }
    }
  }
  // A crash between the swap and the supersede record: start the grace period now (later, never earlier).
  // Every writer runs this, and a repository in a long grace period keeps hundreds of generations: the
  // records are read synchronously (one small file each), and only those the folder lists.
  if (current !== undefined) {
    const recorded = new Set(listDirSync(repo.supersededDir));
    for (const gen of await listSnapshots(repo)) {
      if (gen < current && !(recorded.has(path.basename(repo.supersededFile(gen))) && readSupersededSync(repo, gen))) await markSuperseded(repo, gen);
    }
  }
  // Trees in trash belong to a reaper deleting them without the lock: only a dead one's are ours to finish.
  for (const n of await names(repo.trashDir)) {
    const pid = tempOwnerPid(n);
    if (pid === undefined || pid === process.pid || !isProcessAlive(pid)) await removePath(path.join(repo.trashDir, n));
  }
  report.tempFiles += await cleanupPoolTemp(layout);
  return report;
}

/** pool/tmp is shared by all repositories: remove only files whose creating process is gone. */
export async function cleanupPoolTemp(layout: Layout): Promise<number> {
  let n = 0;
  for (const name of await names(layout.poolTmpDir)) {
    const pid = tempOwnerPid(name);
    if (pid !== undefined && pid !== process.pid && !isProcessAlive(pid)) {
      await fsp.rm(path.join(layout.poolTmpDir, name), { force: true, recursive: true });
      n++;
    }
  }
  return n;
}
