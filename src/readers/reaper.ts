/**
 * The reaper (rcu-protocol.md, "Reaper"): under the repository writer lock, oldest first, skip current,
 * the newest K, pinned generations, those superseded less than the grace period ago and those with a
 * live lease; condemn (marker) THEN scan leases; rename into trash (the name goes atomically). Then,
 * with the lock released, delete the trash trees and sweep the pool under the pool guard. Uses only
 * unlink/rename/rmdir on the deletion path, so it works on a full disk.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Layout, RepoLayout } from '../engine/layout.js';
import { parseGeneration } from '../engine/layout.js';
import { listSnapshots, markSuperseded, readCurrent, readSuperseded } from '../engine/generations.js';
import { tidySpares } from '../engine/spare.js';
import { acquireWriterLock } from '../engine/lock.js';
import type { LockHolder } from '../engine/lock.js';
import { listRepoNames, readRepoConfig } from '../engine/repo.js';
import { sweepPool } from '../engine/sweep.js';
import { errnoCode } from '../util/errors.js';
import { listDir, mkdirp, pathExists, tmpName } from '../util/fsx.js';
import { deleteTree } from './delete-tree.js';
import { hasLiveLease, leasesOf } from './leases.js';
import { settingsFrom } from './settings.js';
import { estimateFreed } from './reap-estimate.js';

export interface GenDecision {
  generation: number;
  action: 'reap' | 'keep';
  reason: string;
}

export interface RepoGcResult {
  repo: string;
  current: number | undefined;
  reaped: number[];
  decisions: GenDecision[];
  /** Problems that made the reaper keep a generation it would have reaped (e.g. ENOSPC on the marker). */
  problems: string[];
}

export interface GcResult {
  dryRun: boolean;
  repos: RepoGcResult[];
  sweep: { ran: boolean; examined: number; removed: number; bytesFreed: number };
  /** Bytes given back: reaped trees' own files (index files) plus swept blobs (or the estimate, dry run). */
  bytesFreed: number;
}

export interface GcOptions {
  layout: Layout;
  repo?: string;
  dryRun?: boolean;
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
  /** Called once the lock is held (the after-publish scheduling marker is dropped then). */
  onLocked?: (repo: RepoLayout) => Promise<void>;
}

async function exists(p: string): Promise<boolean> {
  return pathExists(p);
}

/** Create the condemned marker; false (and a problem noted) when the disk cannot take even that. */
async function condemn(repo: RepoLayout, gen: number, problems: string[]): Promise<boolean> {
  try {
    await mkdirp(repo.condemnedDir);
    await fsp.writeFile(repo.condemnedMarker(gen), '', { flag: 'w' });
    return true;
  } catch (e) {
    const c = errnoCode(e);
    if (c === 'ENOSPC' || c === 'EDQUOT') {
      problems.push(`generation ${gen}: could not create the condemned marker (${c}); kept`);
      return false;
    }
    throw e;
  }
}

async function unlinkIfExists(p: string): Promise<void> {
  try {
    await fsp.unlink(p);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
}

/** Sizes of the tree's files no other path links (index files): freed by deleting the tree itself. */
async function ownBytes(dir: string): Promise<number> {
  let n = 0;
  for (const ent of await fsp.readdir(dir, { withFileTypes: true })) {
    if (!ent.isFile()) continue; // index files live at the top of the tree in every format we have
    const st = await fsp.lstat(path.join(dir, ent.name));
    if (st.nlink === 1) n += st.size;
  }
  return n;
}

/** Decide for each generation, oldest first, without changing anything except missing supersede times. */
async function decide(repo: RepoLayout, current: number | undefined, dryRun: boolean): Promise<GenDecision[]> {
  const settings = settingsFrom((await readRepoConfig(repo)).settings);
  const gens = await listSnapshots(repo);
  const newest = new Set(gens.slice(-settings.keep));
  const now = Date.now();
  const out: GenDecision[] = [];
  for (const gen of gens) {
    const keep = (reason: string) => out.push({ generation: gen, action: 'keep', reason });
    if (current === undefined) keep('repository has no current generation');
    else if (gen === current) keep('current');
    else if (gen > current) keep('newer than current (unpublished leftover; cleanup removes it)');
    else if (newest.has(gen)) keep(`among the newest ${settings.keep}`);
    else if (await exists(repo.pinMarker(gen))) keep('pinned');
    else {
      const at = await readSuperseded(repo, gen);
      if (!at) {
        // Never reap on missing information: start its grace period now.
        if (!dryRun) await markSuperseded(repo, gen);
        keep('no supersede time recorded; grace period starts now');
      } else if (now - at.getTime() < settings.graceSeconds * 1000) {
        keep(`superseded ${Math.round((now - at.getTime()) / 1000)} s ago, grace ${settings.graceSeconds} s`);
      } else if (await hasLiveLease(repo, gen)) keep('leased');
      else out.push({ generation: gen, action: 'reap', reason: `superseded ${at.toISOString()}` });
    }
  }
  return out;
}

/** A condemned generation renamed out of the way, whose tree is deleted after the lock is released. */
interface Victim {
  gen: number;
  tree: string;
}

/**
 * Condemn and unname one generation already decided on (under the writer lock): the tree is renamed
 * into trash, so the name disappears atomically. Returns the victim, or undefined if the generation is
 * kept after all. Deleting the tree's links (the slow part) happens later, without the lock.
 */
async function unnameOne(repo: RepoLayout, gen: number, d: GenDecision, problems: string[]): Promise<Victim | undefined> {
  if ((await readCurrent(repo)) === gen) {
    d.action = 'keep';
    d.reason = 'became current';
    return undefined;
  }
  if (!(await condemn(repo, gen, problems))) {
    d.action = 'keep';
    d.reason = 'could not condemn';
    return undefined;
  }
  // Marker first, THEN leases: a reader that leased before our marker is seen here; one that leases
  // after it sees the marker and goes elsewhere.
  if (await hasLiveLease(repo, gen)) {
    await unlinkIfExists(repo.condemnedMarker(gen));
    d.action = 'keep';
    d.reason = 'leased (seen after condemning)';
    return undefined;
  }
  const snap = repo.snapshotDir(gen);
  try {
    await mkdirp(repo.trashDir);
    const victim = tmpName(repo.trashDir, `gen-${gen}`);
    await fsp.rename(snap, victim);
    return { gen, tree: victim };
  } catch (e) {
    const c = errnoCode(e);
    if (c !== 'ENOSPC' && c !== 'EDQUOT') throw e;
    // No room for a trash folder: delete in place, under the lock. The condemned marker stays until the
    // tree is gone, so readers (who check it after leasing) keep away from the half-deleted tree.
    problems.push(`generation ${gen}: no space for the trash folder; deleted in place`);
    await deleteTree(snap);
    return { gen, tree: snap };
  }
}

/** Delete an unnamed generation's tree and its per-generation files (no lock needed: nothing names it). */
async function finishOne(repo: RepoLayout, v: Victim): Promise<number> {
  const own = (await pathExists(v.tree)) ? await ownBytes(v.tree) : 0;
  await deleteTree(v.tree);
  await unlinkIfExists(repo.manifestFile(v.gen));
  await unlinkIfExists(repo.supersededFile(v.gen));
  await fsp.rm(repo.leaseDir(v.gen), { recursive: true, force: true });
  await unlinkIfExists(repo.condemnedMarker(v.gen));
  return own;
}

/** Markers left by a crashed reaper for generations it did not finish: drop those we keep now. */
async function dropStaleMarkers(repo: RepoLayout, keep: Set<number>): Promise<void> {
  for (const n of await listDir(repo.condemnedDir)) {
    const gen = parseGeneration(n);
    if (gen !== undefined && keep.has(gen)) await unlinkIfExists(repo.condemnedMarker(gen));
  }
}

/** Remove dead lease files and lease folders of generations that no longer exist. */
async function tidyLeases(repo: RepoLayout, existing: Set<number>): Promise<void> {
  for (const n of await listDir(repo.leasesDir)) {
    const gen = parseGeneration(n);
    if (gen === undefined) continue;
    for (const l of await leasesOf(repo, gen)) if (l.state !== 'live') await unlinkIfExists(l.file);
    if (!existing.has(gen)) {
      // Empty folder of a reaped generation; a reader racing in re-creates it and then finds the snapshot gone.
      await fsp.rmdir(repo.leaseDir(gen)).catch((e) => {
        if (errnoCode(e) !== 'ENOENT' && errnoCode(e) !== 'ENOTEMPTY') throw e;
      });
    }
  }
}

/** Under the writer lock: decide, condemn, unname. Returns the victims to delete after unlocking. */
async function gcRepo(layout: Layout, name: string, opts: GcOptions): Promise<{ res: RepoGcResult; victims: Victim[]; estimate: number }> {
  const repo = layout.repo(name);
  await readRepoConfig(repo);
  const res: RepoGcResult = { repo: name, current: undefined, reaped: [], decisions: [], problems: [] };
  res.current = await readCurrent(repo);
  res.decisions = await decide(repo, res.current, !!opts.dryRun);
  if (opts.dryRun) {
    const victims = res.decisions.filter((d) => d.action === 'reap').map((d) => repo.snapshotDir(d.generation));
    return { res, victims: [], estimate: await estimateFreed(victims) };
  }
  const victims: Victim[] = [];
  for (const d of res.decisions) {
    if (d.action !== 'reap') continue;
    const v = await unnameOne(repo, d.generation, d, res.problems);
    if (v) {
      victims.push(v);
      res.reaped.push(d.generation);
    }
  }
  await dropStaleMarkers(repo, new Set(res.decisions.filter((d) => d.action === 'keep').map((d) => d.generation)));
  await tidyLeases(repo, new Set(await listSnapshots(repo)));
  return { res, victims, estimate: 0 };
}

export async function runGc(opts: GcOptions): Promise<GcResult> {
  const { layout } = opts;
  const names = opts.repo ? [opts.repo] : await listRepoNames(layout);
  const out: GcResult = { dryRun: !!opts.dryRun, repos: [], sweep: { ran: false, examined: 0, removed: 0, bytesFreed: 0 }, bytesFreed: 0 };
  const sweep = async () => {
    const s = await sweepPool(layout, { dryRun: opts.dryRun });
    out.sweep = { ran: s.ran, examined: s.examined, removed: s.removed, bytesFreed: s.bytesFreed };
    out.bytesFreed += s.bytesFreed;
  };
  for (const name of names) {
    const repo = layout.repo(name);
    await readRepoConfig(repo);
    const lock = opts.dryRun ? undefined : await acquireWriterLock(repo.lockTarget, { operation: 'gc', waitSeconds: opts.waitSeconds ?? 300, onWait: opts.onWait });
    let r: Awaited<ReturnType<typeof gcRepo>>;
    try {
      if (opts.onLocked) await opts.onLocked(repo);
      r = await gcRepo(layout, name, opts);
    } finally {
      await lock?.release();
    }
    // The lock is held only while generations are condemned and unnamed: deleting 100,000 links must
    // not stall the next publish. Trash entries carry our pid, so a writer's cleanup leaves them alone.
    for (const v of r.victims) out.bytesFreed += await finishOne(repo, v);
    out.bytesFreed += r.estimate;
    // Spares of generations no longer current hold links that would keep blobs from the sweep below.
    if (!opts.dryRun) await tidySpares(repo, repo.trashDir);
    out.repos.push(r.res);
  }
  // One sweep at the end; the pool guard (not a repository lock) excludes every writer adding blobs.
  await sweep();
  return out;
}
