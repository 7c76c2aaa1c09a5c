/** `rcurepo status [REPO]`: generations, snapshots kept, pool usage, bytes each snapshot alone holds. */
import fsp from 'node:fs/promises';
import { openBase, listRepoNames, readRepoConfig } from '../engine/repo.js';
import { listSnapshots, readCurrent, readSuperseded } from '../engine/generations.js';
import { readLockHolder } from '../engine/lock.js';
import type { LockHolder } from '../engine/lock.js';
import { Pool } from '../engine/pool.js';
import { walkTree } from '../engine/tree.js';
import { listSpares } from '../engine/spare.js';
import type { SpareState } from '../engine/spare.js';
import { settingsFrom } from '../readers/settings.js';
import { signingStatus } from './status-signing.js';
import type { SigningStatus } from './status-signing.js';
import { errnoCode } from '../util/errors.js';
import { pathExists } from '../util/fsx.js';

export interface SnapshotStatus {
  generation: number;
  current: boolean;
  files: number;
  bytes: number;
  /** Bytes freed if only this snapshot were deleted (files no other snapshot or repository links, plus its indexes). */
  exclusiveBytes: number;
  supersededAt?: string;
}

export interface RepoStatus {
  name: string;
  format: string;
  current: number | undefined;
  frozen: boolean;
  lock?: LockHolder;
  snapshots: SnapshotStatus[];
  /** Spare clones on disk (ready = of the current generation, taken by the next transaction). */
  spares: SpareState[];
  spareClone: boolean;
  /** Present when the repository signs: its keys, their expiry, warnings (e.g. expiry within 30 days). */
  signing?: SigningStatus;
}

export interface StatusResult {
  base: string;
  pool: { blobs: number; bytes: number; unreferenced: number };
  repos: RepoStatus[];
}

export async function status(opts: { base: string; repo?: string }): Promise<StatusResult> {
  const layout = await openBase(opts.base);
  const names = opts.repo ? [opts.repo] : await listRepoNames(layout);
  const repos: RepoStatus[] = [];
  for (const name of names) {
    const repo = layout.repo(name);
    const cfg = await readRepoConfig(repo);
    const current = await readCurrent(repo);
    const snaps: SnapshotStatus[] = [];
    for (const gen of await listSnapshots(repo)) {
      const perInode = new Map<string, { nlink: number; size: number; count: number }>();
      let files = 0;
      let bytes = 0;
      try {
        for await (const f of walkTree(repo.snapshotDir(gen))) {
          const st = await fsp.lstat(f.abs);
          files++;
          bytes += st.size;
          const k = `${st.dev}:${st.ino}`;
          const cur = perInode.get(k);
          if (cur) cur.count++;
          else perInode.set(k, { nlink: st.nlink, size: st.size, count: 1 });
        }
      } catch (e) {
        // Reaped by a gc while we walked it (status takes no lock): it is no longer there to report.
        if (errnoCode(e) === 'ENOENT' && !(await pathExists(repo.snapshotDir(gen)))) continue;
        throw e;
      }
      let exclusive = 0;
      // A pool blob has one link in the pool; index files have none. Either way: all links are ours.
      for (const v of perInode.values()) if (v.nlink - v.count <= 1) exclusive += v.size;
      const sup = await readSuperseded(repo, gen);
      snaps.push({ generation: gen, current: gen === current, files, bytes, exclusiveBytes: exclusive, supersededAt: sup?.toISOString() });
    }
    repos.push({ name, format: cfg.format, current, frozen: !!cfg.frozen, lock: await readLockHolder(repo.lockTarget), snapshots: snaps, spares: await listSpares(repo), spareClone: settingsFrom(cfg.settings).spareClone, signing: await signingStatus(cfg.settings) });
  }
  const pool = { blobs: 0, bytes: 0, unreferenced: 0 };
  for await (const { st } of new Pool(layout).walk()) {
    pool.blobs++;
    pool.bytes += st.size;
    if (st.nlink === 1) pool.unreferenced++;
  }
  return { base: layout.base, pool, repos };
}
