/**
 * One writer transaction, exactly as docs/rcu-protocol: lock -> clean leftovers -> plan -> allocate a
 * generation -> hard-link clone -> commit new blobs -> apply -> regenerate indexes -> verify -> make
 * durable -> rename into snapshots/ -> swap `current` -> record the supersede time -> unlock.
 */
import { emitEvent, secondsSince } from '../util/event-log.js';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Layout, RepoLayout } from './layout.js';
import type { Format, TreeEntry } from '../formats/format.js';
import { acquireWriterLock } from './lock.js';
import type { LockHolder, WriterLock } from './lock.js';
import { assertSameFilesystem, readRepoConfig, writeRepoConfig } from './repo.js';
import type { RepoConfig } from './repo.js';
import { cleanupRepo } from './cleanup.js';
import { allocateGeneration, markSuperseded, readCurrent, swapCurrent, writeHistory, writeManifest } from './generations.js';
import type { HistoryRecord } from './generations.js';
import { Pool } from './pool.js';
import type { StagedBlob } from './pool.js';
import { enterPool } from './pool-guard.js';
import { assertNoPathConflicts, shapeFromDisk, shapeFromEntries } from './path-conflicts.js';
import { findBuildClashes, settleBuildClashes } from './build-identity.js';
import { applyChange, nextEntries, verifyStaging } from './apply.js';
import { loadEntries, makeMetaLoader } from './snapshot-state.js';
import { cloneTree } from './tree.js';
import type { CloneReply } from './clone-worker.js';
import { lastCloneMs, recordCloneMs, takeSpare } from './spare.js';
import { carryTwin, storeTwin } from './spare-twin.js';
import type { CarriedTwin } from './spare-twin.js';
import { RcuError } from '../util/errors.js';
import { fsyncPath, mkdirp, removePath, syncFilesystem } from '../util/fsx.js';
import { indexTimesAfterParent } from './index-mtimes.js';
import { crashPoint } from '../util/crash.js';
import { trace } from '../util/trace.js';

export interface AddChange {
  path: string;
  sha256: string;
  size: number;
  /** Bytes not yet in the pool (a private staged copy); absent when the blob is already pooled. */
  staged?: StagedBlob;
  /** Format metadata to cache with the blob. */
  meta?: unknown;
}

export interface Change {
  adds: AddChange[];
  removes: string[];
  /** Builds of the format's identity (eopkg: name and release) already in the tree at other paths are replaced by the adds (import --replace). */
  replaceBuilds?: boolean;
  /**
   * New repository settings that change what the indexes say (e.g. a deb distribution added): the
   * indexes are built with them, a generation is published even when no file changes, and repo.json
   * takes them just before the swap.
   */
  settings?: Record<string, unknown>;
}

export interface PlanState {
  parent: number;
  parentDir: string;
  config: RepoConfig;
  /** Entries of the parent snapshot (loaded once, on first use). */
  entries(): Promise<readonly TreeEntry[]>;
  /** The same entries by path (built once, on first use, and shared with the transaction's later steps). */
  entriesByPath(): Promise<ReadonlyMap<string, TreeEntry>>;
  /** Whether `treePath` in the parent is absent, or holds exactly this blob, without loading all entries. */
  compare(treePath: string, sha256: string): Promise<'absent' | 'same' | 'different'>;
}

/** What follows a publish (src/publish/after-publish.ts): returns warnings, never undoes the publish. */
export type AfterPublish = (gen: number, snapshotDir: string) => Promise<string[]>;

export interface TransactionOptions {
  layout: Layout;
  repoName: string;
  format: Format;
  operation: string;
  args?: string[];
  actor?: string;
  waitSeconds?: number;
  dryRun?: boolean;
  onWait?: (holder: LockHolder | undefined) => void;
  /** Operations that may run on a frozen repository (none of the content-changing ones). */
  allowFrozen?: boolean;
  /**
   * Called after the swap, still under the lock: the repository's after-publish reactions. Required, so
   * no publishing command can forget them; commands get it from src/publish/ (publishingTransaction).
   * It returns warnings for the result; a failure never undoes the publish.
   */
  afterPublish: AfterPublish;
  /**
   * A writer lock on this repository the caller already holds (group-commit leader): used instead of
   * acquiring one, and NOT released here; the caller releases it after its own post-transaction work.
   */
  heldLock?: WriterLock;
  /**
   * A check started under the lock and awaited once the plan has changes to publish, before anything is
   * written (pool commit, generation number, staging): a failure aborts with nothing changed. Commands
   * pass the signing check, so a key that cannot sign costs no generation and leaves the pool as it was.
   */
  beforeWrite?: (settings: Record<string, unknown>) => Promise<void>;
  /** Publish a new generation even when the content is unchanged (`resign`: fresh indexes and signatures). */
  force?: boolean;
  /**
   * Write the indexes elsewhere (a worker thread with a heap of its own: src/publish/index-thread.ts)
   * and resolve true, or resolve false to have them written here, on this thread. Either way the same
   * format code writes the same files into the staging tree.
   */
  indexElsewhere?: (job: IndexJob) => Promise<boolean>;
}

/** What writing a staging tree's indexes needs, as plain data (it crosses to a worker thread). */
export interface IndexJob {
  repoName: string;
  settings: Record<string, unknown>;
  stagingDir: string;
  entries: readonly TreeEntry[];
  cacheDir: string;
  /** Files the change adds: how big the index work is. */
  adds: number;
}

export interface TransactionResult {
  repo: string;
  published: boolean;
  dryRun: boolean;
  parent: number;
  generation: number;
  added: string[];
  removed: string[];
  replaced: string[];
  warnings: string[];
}

export function defaultActor(): string {
  if (process.env.RCUREPO_ACTOR) return process.env.RCUREPO_ACTOR;
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    /* no passwd entry */
  }
  return `${user}@${os.hostname()}`;
}

const HISTORY_SAMPLE = 20;

export async function runTransaction(opts: TransactionOptions, plan: (state: PlanState) => Promise<Change>): Promise<TransactionResult> {
  const { layout, format } = opts;
  const t0 = performance.now();
  const repo = layout.repo(opts.repoName);
  const config = await readRepoConfig(repo);
  if (config.format !== format.name) throw new RcuError('FAILURE', `repository '${repo.name}' has format '${config.format}', not '${format.name}'`);
  await assertSameFilesystem(layout, repo);
  const pool = new Pool(layout);
  let lock: WriterLock | undefined;
  let staging: string | undefined;
  let twin: CarriedTwin | undefined;
  let stagedBlobs: StagedBlob[] = [];
  let poolUse: { leave(): Promise<void> } | undefined;
  try {
    lock = opts.heldLock ?? (await acquireWriterLock(repo.lockTarget, {
      operation: opts.operation,
      waitSeconds: opts.waitSeconds ?? 300,
      onWait: opts.onWait,
    }));
    crashPoint('after-lock');
    trace('after-lock');
    // Re-read under the lock: a freeze or format change may have happened while we waited.
    const cfg = await readRepoConfig(repo);
    if (cfg.frozen && !opts.allowFrozen) {
      throw new RcuError('FROZEN', `repository '${repo.name}' is frozen since ${cfg.frozen.since} by ${cfg.frozen.by}${cfg.frozen.reason ? ` (${cfg.frozen.reason})` : ''}; 'rcurepo unfreeze ${repo.name}' first`);
    }
    if (cfg.upstream) {
      throw new RcuError('USAGE', `repository '${repo.name}' mirrors ${cfg.upstream.url}: it changes only by 'rcurepo sync ${repo.name}'`);
    }
    // Started now so its latency (a gpg process, for signing) overlaps the cleanup and the plan; only
    // awaited once there is something to write. A no-op transaction ignores its outcome.
    const ready = opts.dryRun ? undefined : opts.beforeWrite?.(cfg.settings);
    ready?.catch(() => undefined);
    await cleanupRepo(layout, repo);
    const parent = await readCurrent(repo);
    if (parent === undefined) throw new RcuError('INTEGRITY', `repository '${repo.name}' has no current snapshot`);
    const parentDir = repo.snapshotDir(parent);
    const entriesOnce = lazy(() => loadEntries(layout, repo, parent, format));
    // One map of the parent's entries for the plan and every step after it (50,000 entries: ~15 ms each).
    const byPathOnce = lazy(async () => new Map((await entriesOnce()).map((e) => [e.path, e] as const)) as ReadonlyMap<string, TreeEntry>);
    const entriesLoaded = () => entriesOnce.started;
    const state: PlanState = {
      parent,
      parentDir,
      config: cfg,
      entries: entriesOnce,
      entriesByPath: byPathOnce,
      compare: (p, sha) => pool.compareFile(path.join(parentDir, p), sha),
    };
    trace('cleanup+read');
    const change = await plan(state);
    trace('plan');
    stagedBlobs = change.adds.flatMap((a) => (a.staged ? [a.staged] : []));
    const warnings: string[] = [];
    const noWork = (): TransactionResult => ({ repo: repo.name, published: false, dryRun: !!opts.dryRun, parent, generation: parent, added: [], removed: [], replaced: [], warnings });
    const reindex = change.settings !== undefined || !!opts.force;
    const settings = change.settings ?? cfg.settings;
    if (change.adds.length === 0 && change.removes.length === 0 && !reindex) return noWork();
    // One build per identity (eopkg: name and release), and no file/folder collisions: refused now,
    // while the refusal still changes nothing.
    if (format.buildIdentity && change.adds.length) settleBuildClashes(change, findBuildClashes(change, await byPathOnce(), (p) => format.buildIdentity!(p)), repo.name, parent);
    await assertNoPathConflicts(change, entriesLoaded() ? shapeFromEntries(await byPathOnce()) : shapeFromDisk(parentDir, byPathOnce));
    if (format.checkChange && !opts.dryRun) {
      await format.checkChange({ repo, settings, parentDir, parentEntries: entriesOnce, adds: change.adds, removes: change.removes });
      trace('format-check');
    }
    // When the plan did not need the parent's entries (a few files compared by inode), every add is new
    // or different, so a publish will follow: read the entries while the clone runs, not before it.
    const planLoadedEntries = entriesLoaded();
    const parentEntriesP = entriesOnce();
    parentEntriesP.catch(() => undefined); // awaited below; a rejection before then is not "unhandled"
    if (planLoadedEntries || opts.dryRun) {
      const diff = classify(await byPathOnce(), change);
      if ((diff.added.length + diff.removed.length + diff.replaced.length === 0 && !reindex) || opts.dryRun) {
        await pool.discard(stagedBlobs);
        return { ...noWork(), ...diff };
      }
    }

    await ready;
    trace('ready-to-write');
    poolUse = await enterPool(layout);
    // New blobs enter the pool before the clone: the commit's syncfs then flushes only their data, not
    // the clone's thousands of new directory entries (the durable step below covers those). A
    // transaction that ends up publishing nothing leaves them unreferenced, for the sweep.
    await pool.commit(stagedBlobs);
    stagedBlobs = [];
    for (const a of change.adds) a.staged = undefined; // committed: nothing left to discard, nothing to keep
    crashPoint('after-pool-commit');
    trace('after-pool-commit');
    const gen = await allocateGeneration(repo);
    crashPoint('after-allocate');
    trace('after-allocate');
    await mkdirp(repo.stagingDir);
    staging = path.join(repo.stagingDir, String(gen));
    // (Building the indexes while the clone runs was measured no faster on 2 cores, also with a one-thread
    // clone: pulls of 1,000 into 50,000 packages, alternating, 6.4 / 7.7 / 8.0 s overlapped against
    // 6.5 / 7.8 / 7.5 s in sequence. The clone is bound by the filesystem's journal, which the index's
    // 116 MiB of writes share, and it slowed from ~2 s to ~5 s beside them.)
    const [cloned, parentEntries] = await Promise.all([spareOrClone(repo, parent, parentDir, staging, format.indexFiles, cfg.settings, warnings), parentEntriesP]);
    const parentByPath = await byPathOnce();
    const diff = classify(parentByPath, change);
    const result: TransactionResult = { repo: repo.name, published: false, dryRun: false, parent, generation: parent, ...diff, warnings };
    if (diff.added.length + diff.removed.length + diff.replaced.length === 0 && !reindex) {
      return result; // (the finally block removes the staging clone; the committed blobs await the sweep)
    }
    crashPoint('after-clone');
    trace('after-clone');
    for (const a of change.adds) {
      if (a.meta === undefined) continue;
      // Usually cached at import already (cacheStagedMetaSync). Written again only when missing: the
      // blob is committed now, so no other importer's discard removes that cache any more.
      if (!pool.hasMetaSync(a.sha256, format.name)) await pool.writeMeta(a.sha256, format.name, a.meta);
      // Read back from the cache by the index build: a bulk import of 50,000 packages otherwise keeps
      // every package's metadata on the heap through the index step.
      a.meta = undefined;
    }
    const entries = nextEntries(parentEntries, parentByPath, change);
    await applyChange({ pool, staging, parentByPath, change, cloned, warnings });
    crashPoint('after-apply');
    trace('after-apply');
    const job: IndexJob = { repoName: repo.name, settings, stagingDir: staging, entries, cacheDir: repo.formatCacheDir(format.name), adds: change.adds.length };
    if (!(await opts.indexElsewhere?.(job))) {
      const changed = [...change.adds.map((a) => a.path), ...change.removes];
      await format.writeIndexes({ layout, repo, settings, stagingDir: staging, entries, loadMeta: makeMetaLoader(pool, format), cacheDir: job.cacheDir, changed });
    }
    await indexTimesAfterParent(staging, parentDir, format.indexFiles);
    crashPoint('after-index');
    trace('after-index');
    await verifyStaging({ layout, repo, pool, format, staging, entries, cloned, change, settings });
    crashPoint('after-verify');
    trace('after-verify');
    // The spare's twin (a second clone of `parent`), changed alike: the next generation's spare.
    twin = await carryTwin({ repo, pool, parent, gen, settings: cfg.settings, parentByPath, entries, change, warnings });
    crashPoint('after-twin');
    await syncFilesystem(staging, () => [...cloned.dirs.map((d) => path.join(staging!, d)), ...(twin?.touchedDirs ?? [])]);
    crashPoint('after-durable');
    trace('after-durable');
    // Caches for the new generation, before it becomes visible (a crash leaves them for cleanup). After
    // the sync, not beside it: written while the sync ran, their pages joined its work (measured no faster).
    await writeManifest(repo, gen, entries);
    const record: HistoryRecord = {
      generation: gen,
      parent,
      time: new Date().toISOString(),
      actor: opts.actor ?? defaultActor(),
      operation: opts.operation,
      args: opts.args ?? [],
      added: diff.added.length,
      removed: diff.removed.length,
      replaced: diff.replaced.length,
      files: entries.length,
      bytes: entries.reduce((s, e) => s + e.size, 0),
      changes: sample(diff),
      durationSeconds: secondsSince(t0),
    };
    await writeHistory(repo, record);
    await fsp.rename(staging, repo.snapshotDir(gen));
    staging = undefined;
    await fsyncPath(repo.snapshotsDir);
    crashPoint('after-rename');
    trace('after-rename');
    await lock.assertHeld();
    if ((await readCurrent(repo)) !== parent) throw new RcuError('FAILURE', `current of '${repo.name}' moved during the transaction; refusing to publish over it`);
    // Settings first: a crash before the swap leaves them ahead of `current`, and the next publish
    // writes the indexes they describe.
    if (change.settings !== undefined) await writeRepoConfig(repo, { ...cfg, settings: change.settings });
    await swapCurrent(repo, gen);
    crashPoint('after-swap');
    trace('after-swap');
    await markSuperseded(repo, parent);
    crashPoint('after-supersede');
    trace('after-supersede');
    if (twin) {
      // The new generation's spare, ready before its maker starts (the maker then clones only a twin).
      await storeTwin(repo, gen, twin).catch((e) => warnings.push(`spare twin not kept: ${(e as Error).message}`));
      twin = undefined;
    }
    crashPoint('after-twin-stored');
    result.published = true;
    result.generation = gen;
    emitEvent('publish', { event: 'publish', outcome: 'ok', repo: repo.name, generation: gen, parent, duration: secondsSince(t0), operation: opts.operation, added: record.added, removed: record.removed, replaced: record.replaced });
    try {
      warnings.push(...(await opts.afterPublish(gen, repo.snapshotDir(gen))));
    } catch (e) {
      warnings.push(`after-publish step failed: ${(e as Error).message}`);
    }
    return result;
  } finally {
    if (staging) await removePath(staging).catch(() => undefined);
    if (twin) await removePath(twin.dir).catch(() => undefined);
    if (stagedBlobs.length) await pool.discard(stagedBlobs).catch(() => undefined);
    await poolUse?.leave().catch(() => undefined);
    if (!opts.heldLock) await lock?.release().catch(() => undefined);
  }
}

/**
 * The staging tree: the spare clone of the parent when one is ready (or nearly: its maker is waited for
 * at most as long as a clone takes), else a fresh hard-link clone. Both replies describe the tree the same
 * way, and verifyStaging checks either against the parent's manifest.
 */
async function spareOrClone(repo: RepoLayout, parent: number, parentDir: string, staging: string, skip: readonly string[], settings: Record<string, unknown>, warnings: string[]): Promise<CloneReply> {
  if (settings.spareClone !== false) {
    try {
      const taken = await takeSpare(repo, parent, staging, { waitMs: (await lastCloneMs(repo)) ?? 0 });
      if (taken) {
        trace(`spare-taken${taken.waitedMs ? `-after-${taken.waitedMs}ms` : ''}`);
        return taken.reply;
      }
    } catch (e) {
      warnings.push(`spare clone not used: ${(e as Error).message}`);
      await removePath(staging).catch(() => undefined);
    }
  }
  const t0 = performance.now();
  const reply = await cloneTree(parentDir, staging, skip);
  await recordCloneMs(repo, performance.now() - t0).catch(() => undefined);
  return reply;
}

function lazy<T>(fn: () => Promise<T>): (() => Promise<T>) & { readonly started: boolean } {
  let p: Promise<T> | undefined;
  const get = () => (p ??= fn());
  return Object.defineProperty(get, 'started', { get: () => p !== undefined }) as (() => Promise<T>) & { readonly started: boolean };
}


function classify(byPath: ReadonlyMap<string, TreeEntry>, change: Change): { added: string[]; removed: string[]; replaced: string[] } {
  const added: string[] = [];
  const replaced: string[] = [];
  const removed: string[] = [];
  for (const a of change.adds) {
    const old = byPath.get(a.path);
    if (!old) added.push(a.path);
    else if (old.sha256 !== a.sha256) replaced.push(a.path);
  }
  for (const r of change.removes) if (byPath.has(r)) removed.push(r);
  return { added, removed, replaced };
}

function sample(d: { added: string[]; removed: string[]; replaced: string[] }): HistoryRecord['changes'] {
  const t = d.added.length > HISTORY_SAMPLE || d.removed.length > HISTORY_SAMPLE || d.replaced.length > HISTORY_SAMPLE;
  return { added: d.added.slice(0, HISTORY_SAMPLE), removed: d.removed.slice(0, HISTORY_SAMPLE), replaced: d.replaced.slice(0, HISTORY_SAMPLE), truncated: t };
}
