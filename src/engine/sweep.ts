/** Pool sweep: remove blobs nothing links (nlink == 1) and their cached metadata. */
import fsp from 'node:fs/promises';
import type { Layout } from './layout.js';
import { Pool } from './pool.js';
import { withPoolExclusive } from './pool-guard.js';
import { errnoCode } from '../util/errors.js';

export interface SweepResult {
  /** False when active pool users did not drain in time; nothing was removed. */
  ran: boolean;
  examined: number;
  removed: number;
  bytesFreed: number;
  removedBlobs: string[];
}

/**
 * Callers hold the writer lock of the repository whose reaping made blobs unreferenced (the reaper) or
 * none (a whole-repository delete); the pool guard excludes every transaction that adds blobs.
 * Deletion needs no free space (unlink only), so it works on a full disk.
 */
export async function sweepPool(layout: Layout, opts: { dryRun?: boolean; waitMs?: number } = {}): Promise<SweepResult> {
  const pool = new Pool(layout);
  const run = async (): Promise<SweepResult> => {
    const res: SweepResult = { ran: true, examined: 0, removed: 0, bytesFreed: 0, removedBlobs: [] };
    for await (const blob of pool.walk()) {
      res.examined++;
      let st;
      try {
        st = await fsp.stat(blob.path);
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') continue;
        throw e;
      }
      if (st.nlink !== 1) continue;
      res.removed++;
      res.bytesFreed += st.size;
      res.removedBlobs.push(blob.name);
      if (opts.dryRun) continue;
      await fsp.unlink(blob.path);
      if (blob.copy === 0) await pool.removeMeta(blob.sha256);
    }
    return res;
  };
  if (opts.dryRun) return run();
  const out = await withPoolExclusive(layout, run, opts.waitMs);
  return out ?? { ran: false, examined: 0, removed: 0, bytesFreed: 0, removedBlobs: [] };
}
