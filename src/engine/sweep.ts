/** Pool sweep: remove blobs nothing links (nlink == 1) and their cached metadata. */
import fs from 'node:fs';
import path from 'node:path';
import type { Layout } from './layout.js';
import { isSha256 } from './pool.js';
import { withPoolExclusive } from './pool-guard.js';
import { cleanupPoolTemp } from './cleanup.js';

import { chunked } from '../util/chunked.js';
import { listDirSync as listDir } from '../util/fsx.js';

/** Cached metadata files of one pool prefix, by blob: `<sha256>.<kind>.json`. */
function metaByBlob(layout: Layout, prefix: string): Map<string, string[]> {
  const dir = path.join(layout.poolMetaDir, prefix);
  const m = new Map<string, string[]>();
  for (const name of listDir(dir)) {
    const sha = name.slice(0, 64);
    (m.get(sha) ?? m.set(sha, []).get(sha)!).push(path.join(dir, name));
  }
  return m;
}

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
  const run = async (): Promise<SweepResult> => {
    const res: SweepResult = { ran: true, examined: 0, removed: 0, bytesFreed: 0, removedBlobs: [] };
    // A writer killed inside the pool commit leaves its temporary name as a second link to a blob: gone
    // first, so the blob's link count is its reference count again (and nothing else would remove it).
    if (!opts.dryRun) await cleanupPoolTemp(layout);
    // Synchronous stat/unlink in slices: a thread-pool round trip per blob would cost ~10x more.
    for (const prefix of listDir(layout.blobsDir).sort()) {
      const dir = path.join(layout.blobsDir, prefix);
      let meta: Map<string, string[]> | undefined;
      await chunked(listDir(dir), (name) => {
        const [sha, copy] = name.split('.');
        if (!sha || !isSha256(sha)) return;
        res.examined++;
        const file = path.join(dir, name);
        const st = fs.statSync(file, { throwIfNoEntry: false });
        if (!st || st.nlink !== 1) return;
        res.removed++;
        res.bytesFreed += st.size;
        res.removedBlobs.push(name);
        if (opts.dryRun) return;
        fs.unlinkSync(file);
        if (copy === undefined) for (const f of (meta ??= metaByBlob(layout, prefix)).get(sha) ?? []) fs.rmSync(f, { force: true });
      });
    }
    return res;
  };
  if (opts.dryRun) return run();
  const out = await withPoolExclusive(layout, run, opts.waitMs);
  return out ?? { ran: false, examined: 0, removed: 0, bytesFreed: 0, removedBlobs: [] };
}
