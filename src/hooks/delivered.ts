/**
 * Which upload manifests a repository has already published (repos/NAME/meta/delivered/<key>.json), so a
 * re-delivered manifest is answered "already published in generation N" even when its files are gone
 * (the watcher deletes accepted uploads). A cache in the sense of the layout: losing it only means a
 * re-delivery is imported again, which is idempotent.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { RepoLayout } from '../engine/layout.js';
import type { Layout } from '../engine/layout.js';
import { readCurrent } from '../engine/generations.js';
import { Pool } from '../engine/pool.js';
import { errnoCode } from '../util/errors.js';
import { mkdirp, readJsonIfExists, writeFileAtomic } from '../util/fsx.js';

export interface DeliveredRecord {
  generation: number;
  manifest: string;
  files: Array<{ path: string; sha256: string }>;
  time?: string;
}

function deliveredFile(repo: RepoLayout, key: string): string {
  return repo.deliveredFile(key);
}

export async function recordDelivered(repo: RepoLayout, key: string, rec: DeliveredRecord): Promise<void> {
  const p = deliveredFile(repo, key);
  await mkdirp(path.dirname(p));
  // Only written when the manifest was really imported (a re-delivery still served never gets here).
  // No fsync: a record lost in a crash only means a re-delivery is imported again (see above), and a
  // group commit writes one per upload while it holds the lock.
  await writeFileAtomic(p, JSON.stringify({ ...rec, time: new Date().toISOString() }) + '\n', { syncData: false, syncDir: false });
}

/**
 * The record of an earlier delivery whose files the current generation still serves with the same bytes;
 * undefined when never delivered, or when the files were removed or replaced since (then it is imported again).
 */
export async function findDelivered(layout: Layout, repo: RepoLayout, key: string): Promise<DeliveredRecord | undefined> {
  const rec = await readJsonIfExists<DeliveredRecord>(deliveredFile(repo, key)).catch((e) => {
    if (e instanceof SyntaxError) return undefined;
    throw e;
  });
  if (!rec) return undefined;
  return (await stillServed(repo, rec, new Pool(layout))) ? rec : undefined;
}

async function stillServed(repo: RepoLayout, rec: DeliveredRecord, pool: Pool): Promise<boolean> {
  const cur = await readCurrent(repo);
  if (cur === undefined || cur < rec.generation) return false;
  for (const f of rec.files) {
    let st;
    try {
      st = await fsp.lstat(path.join(repo.snapshotDir(cur), f.path));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return false;
      throw e;
    }
    const ids = await pool.identities(f.sha256);
    if (!ids.some((i) => i.ino === st.ino && i.dev === st.dev)) return false;
  }
  return true;
}
