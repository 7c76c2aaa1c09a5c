/**
 * Integrity check of trees, indexes, the pool and link counts; `repair` rebuilds every cache (manifests,
 * history records, supersede times, the generation counter, blob metadata) from the trees and the pool.
 * Trees and blobs themselves are never modified, only reported (except restoring a blob's 0444 mode).
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Layout } from './layout.js';
import type { Format, TreeEntry } from '../formats/format.js';
import { listHistory, listSnapshots, readCurrent, readHistory, readManifest, readSuperseded, markSuperseded, writeHistory, writeManifest, serializeManifest } from './generations.js';
import { readRepoConfig } from './repo.js';
import type { RepoConfig } from './repo.js';
import { HASHES_META, Pool } from './pool.js';
import { hashFile, makeMetaLoader, poolInodeMap } from './snapshot-state.js';
import type { InodeMap } from './snapshot-state.js';
import { walkTree } from './tree.js';
import { spareTreesSync, waitForMakers } from './spare.js';
import { listDir, writeFileAtomic } from '../util/fsx.js';
import { errnoCode, isRcuError } from '../util/errors.js';
import { compareBytewise } from '../util/paths.js';
import type { BlobHashes } from '../formats/format.js';

export interface VerifyOptions {
  deep?: boolean;
  repair?: boolean;
  /**
   * Formats of the repositories (resolved by the caller: the engine knows no concrete format). The
   * repository's configuration is passed too: a mirror's format checks the upstream's own indexes.
   */
  formatOf: (name: string, config: RepoConfig) => Promise<Format>;
}

export interface VerifyReport {
  repos: string[];
  snapshots: number;
  files: number;
  blobs: number;
  faults: string[];
  repaired: string[];
}

/** Passes a read-only verification makes before it believes faults seen beside a reaping gc. */
const PASSES = 4;

/**
 * Read-only verification takes no lock, so a gc may reap a generation while it is walked: its tree is
 * renamed into trash (the walk then meets ENOENT) and its links go while the pool's are counted (link
 * counts then disagree). Such a pass is made again, and faults are reported only from a pass with no
 * reaping under way and nothing reaped during it (or after PASSES passes). `repair` holds the writer
 * locks, which the reaper takes too: one pass.
 */
export async function verifyBase(layout: Layout, repoNames: string[], allRepos: boolean, opts: VerifyOptions): Promise<VerifyReport> {
  for (let pass = 1; ; pass++) {
    const before = await reapingState(layout, repoNames);
    let report: VerifyReport;
    try {
      report = await verifyPass(layout, repoNames, allRepos, opts);
    } catch (e) {
      if (opts.repair || pass >= PASSES || errnoCode(e) !== 'ENOENT') throw e;
      await sleep(250 * pass);
      continue;
    }
    if (report.faults.length === 0 || opts.repair || pass >= PASSES) return report;
    const after = await reapingState(layout, repoNames);
    if (after.key === before.key && !after.deleting) return report;
    await sleep(250 * pass);
  }
}

/** What a reaper changes (each repository's generations, the trees in its trash), and whether it is deleting now. */
async function reapingState(layout: Layout, repoNames: readonly string[]): Promise<{ key: string; deleting: boolean }> {
  const out: unknown[] = [];
  let deleting = false;
  for (const n of repoNames) {
    const repo = layout.repo(n);
    const trash = (await listDir(repo.trashDir)).sort();
    deleting ||= trash.length > 0;
    out.push([n, await listSnapshots(repo), trash]);
  }
  return { key: JSON.stringify(out), deleting };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function verifyPass(layout: Layout, repoNames: string[], allRepos: boolean, opts: VerifyOptions): Promise<VerifyReport> {
  const report: VerifyReport = { repos: repoNames, snapshots: 0, files: 0, blobs: 0, faults: [], repaired: [] };
  const pool = new Pool(layout);
  const inodes = await poolInodeMap(layout);
  /** (dev:ino) -> references found in trees. */
  const refs = new Map<string, number>();
  for (const name of repoNames) await verifyRepo(layout, name, inodes, refs, report, opts);
  await verifyPool(pool, refs, allRepos, report, opts);
  return report;
}

async function verifyRepo(layout: Layout, name: string, inodes: InodeMap, refs: Map<string, number>, report: VerifyReport, opts: VerifyOptions): Promise<void> {
  const repo = layout.repo(name);
  const fault = (s: string) => report.faults.push(`${name}: ${s}`);
  const repaired = (s: string) => report.repaired.push(`${name}: ${s}`);
  let format: Format;
  let repoSettings: Record<string, unknown> = {};
  try {
    const cfg = await readRepoConfig(repo);
    repoSettings = cfg.settings;
    format = await opts.formatOf(cfg.format, cfg);
  } catch (e) {
    fault((e as Error).message);
    return;
  }
  // Spare clones (finished or in progress) hold pool links too; they are no snapshot, only counted. A
  // maker at work adds links while we count: let it finish (it takes what a clone takes).
  if (!(await waitForMakers(repo, 60_000))) fault('a spare clone is still being made after 60 s; link counts may be off');
  for (const dir of spareTreesSync(repo)) {
    try {
      for await (const f of walkTree(dir)) {
        const st = await fsp.lstat(f.abs).catch(() => undefined);
        if (!st) continue;
        const key = `${st.dev}:${st.ino}`;
        if (inodes.has(key)) refs.set(key, (refs.get(key) ?? 0) + 1);
      }
    } catch (e) {
      // Taken by a transaction or removed by gc while we walked: its links moved or went with it.
      if (errnoCode(e) !== 'ENOENT') throw e;
    }
  }
  let current: number | undefined;
  try {
    current = await readCurrent(repo);
  } catch (e) {
    fault((e as Error).message);
  }
  const gens = await listSnapshots(repo);
  if (current === undefined) fault('no current snapshot');
  else if (!gens.includes(current)) fault(`current points to generation ${current}, which does not exist`);
  const indexFiles = new Set(format.indexFiles);
  for (const gen of gens) {
    report.snapshots++;
    const dir = repo.snapshotDir(gen);
    const entries: TreeEntry[] = [];
    const others: string[] = [];
    for await (const f of walkTree(dir, (rel) => others.push(rel), '', indexFiles)) {
      const st = await fsp.lstat(f.abs);
      report.files++;
      const key = `${st.dev}:${st.ino}`;
      const blob = inodes.get(key);
      if (!blob) {
        fault(`generation ${gen}: ${f.rel} is not a pool blob`);
        continue;
      }
      refs.set(key, (refs.get(key) ?? 0) + 1);
      entries.push({ path: f.rel, sha256: blob.sha256, size: blob.size });
    }
    for (const o of others) fault(`generation ${gen}: ${o} is not a regular file or folder`);
    const sorted = entries.sort((a, b) => compareBytewise(a.path, b.path));
    const cached = await readManifest(repo, gen);
    if (!cached || serializeManifest(cached) !== serializeManifest(sorted)) {
      if (opts.repair) {
        await writeManifest(repo, gen, sorted);
        repaired(`generation ${gen}: manifest rebuilt from the tree`);
      } else fault(`generation ${gen}: manifest cache ${cached ? 'disagrees with the tree' : 'is missing'} (repair with --repair)`);
    }
    const pool = new Pool(layout);
    const loadMeta = makeMetaLoader(pool, format);
    try {
      for (const f of await format.verifyIndexes({ layout, repo, settings: repoSettings, snapshotDir: dir, entries: sorted, loadMeta })) fault(`generation ${gen}: ${f}`);
    } catch (e) {
      if (!isRcuError(e)) throw e;
      fault(`generation ${gen}: ${e.message}`);
    }
    if (!(await readHistory(repo, gen))) {
      if (opts.repair) {
        const st = await fsp.stat(dir);
        await writeHistory(repo, {
          generation: gen, parent: null, time: st.mtime.toISOString(), actor: 'unknown', operation: 'unknown', args: [],
          added: 0, removed: 0, replaced: 0, files: sorted.length, bytes: sorted.reduce((s, e) => s + e.size, 0), reconstructed: true,
        });
        repaired(`generation ${gen}: history record reconstructed`);
      } else fault(`generation ${gen}: history record missing (repair with --repair)`);
    }
    if (current !== undefined && gen < current && !(await readSuperseded(repo, gen))) {
      if (opts.repair) {
        await markSuperseded(repo, gen);
        repaired(`generation ${gen}: supersede time set to now (its grace period restarts)`);
      } else fault(`generation ${gen}: supersede time missing (repair with --repair)`);
    }
  }
  // A mirror's kept sync attempt links pool blobs too (resumed by the next sync): its links are references.
  for (const tree of repo.syncTrees) {
    try {
      for await (const f of walkTree(tree)) {
        const st = await fsp.lstat(f.abs);
        const key = `${st.dev}:${st.ino}`;
        if (inodes.has(key)) refs.set(key, (refs.get(key) ?? 0) + 1);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  const counter = Number((await fsp.readFile(repo.generationCounterFile, 'utf8').catch(() => '0')).trim()) || 0;
  const maxSeen = Math.max(0, ...gens, ...(await listHistory(repo)));
  if (counter < maxSeen) {
    if (opts.repair) {
      await writeFileAtomic(repo.generationCounterFile, `${maxSeen}\n`);
      repaired(`generation counter raised from ${counter} to ${maxSeen}`);
    } else fault(`generation counter ${counter} is below generation ${maxSeen} (repair with --repair)`);
  }
}

async function verifyPool(pool: Pool, refs: Map<string, number>, allRepos: boolean, report: VerifyReport, opts: VerifyOptions): Promise<void> {
  // Names in pool/tmp are links too: a live writer's blob between link and unlink, or what a killed one
  // left there (the next transaction or gc removes those). Neither is a wrong reference count.
  const inFlight = new Map<string, number>();
  for (const name of await listDir(pool.layout.poolTmpDir)) {
    const st = await fsp.lstat(path.join(pool.layout.poolTmpDir, name)).catch(() => undefined);
    if (st?.isFile()) inFlight.set(`${st.dev}:${st.ino}`, (inFlight.get(`${st.dev}:${st.ino}`) ?? 0) + 1);
  }
  for await (const b of pool.walk()) {
    report.blobs++;
    const st = b.st;
    const key = `${st.dev}:${st.ino}`;
    if ((st.mode & 0o222) !== 0) {
      if (opts.repair) {
        await fsp.chmod(b.path, 0o444);
        report.repaired.push(`pool: ${b.name} made read-only`);
      } else report.faults.push(`pool: ${b.name} is writable (mode ${(st.mode & 0o777).toString(8)})`);
    }
    const counted = (refs.get(key) ?? 0) + (inFlight.get(key) ?? 0);
    if (allRepos ? st.nlink - 1 !== counted : st.nlink - 1 < counted) {
      report.faults.push(`pool: ${b.name} has ${st.nlink - 1} references by link count but ${counted} in the trees`);
    }
    if (opts.deep) {
      // Swept since the walk stat'd it (it had no references): nothing left to check.
      const h = await hashFile(b.path).catch((e: unknown) => {
        if (errnoCode(e) === 'ENOENT') return undefined;
        throw e;
      });
      if (!h) continue;
      if (h.sha256 !== b.sha256) report.faults.push(`pool: ${b.name} content hashes to ${h.sha256} (corrupt blob)`);
      else if (b.copy === 0) {
        const cached = await pool.readMeta<BlobHashes>(b.sha256, HASHES_META);
        if (!cached || cached.sha1 !== h.sha1 || cached.size !== h.size) {
          if (opts.repair) {
            await pool.writeMeta(b.sha256, HASHES_META, h);
            report.repaired.push(`pool: ${b.name} hash cache rebuilt`);
          } else report.faults.push(`pool: ${b.name} hash cache ${cached ? 'wrong' : 'missing'} (repair with --repair)`);
        }
      }
    }
  }
}

