/**
 * Bringing outside files into a transaction: stage private copies in the pool (hashing as they are
 * copied), let the format place and describe them, and turn them into a Change against the parent
 * snapshot with conflict rules (same path, different bytes: refused unless replacing).
 */
import fs from 'node:fs';
import type { Layout } from './layout.js';
import type { Format, PlaceOptions, Placement } from '../formats/format.js';
import type { AddChange, Change, PlanState, TransactionResult } from './transaction.js';
import { HASHES_META, Pool } from './pool.js';
import type { StagedBlob } from './pool.js';
import { isRcuError, RcuError } from '../util/errors.js';
import type { Progress } from '../util/progress.js';
import { tmpName } from '../util/fsx.js';

export interface SourceFile {
  /** Absolute path to read. */
  abs: string;
  /** Relative path the format may use for placement. */
  rel: string;
  /**
   * Where the format already decided this file goes (a file another input lists, e.g. a .dsc's tarball:
   * Format.companions); the format is not asked to place it again.
   */
  placeAt?: string;
}

export interface PreparedFile {
  source: SourceFile;
  staged: StagedBlob;
  placement: Placement;
}

/** What an import answers: the transaction's result, and what the import itself adds to it. */
export interface ImportResult extends TransactionResult {
  inputs: number;
  /** Files already present with identical content. */
  unchanged: string[];
  /** Upload manifest imports: the manifest's file name. */
  manifest?: string;
  /** Upload manifest delivered again: the generation that first published it (nothing was imported now). */
  alreadyPublished?: number;
}

const PLACE_CONCURRENCY = 8;

export interface PrepareResult {
  prepared: PreparedFile[];
  /** One message per refused file (the file's staged copy is already discarded). */
  refused: string[];
}

/** A prepared file, or the message saying why the file is refused. */
export type PrepareOutcome = PreparedFile | string;

/**
 * Prepares many files elsewhere (worker threads: src/hooks/prepare-threads.ts), calling `onOutcome`
 * once per file in any order; rejects with the first I/O fault after every started file has answered.
 */
export interface ParallelPrepare {
  threads: number;
  run(files: readonly SourceFile[], onOutcome: (i: number, outcome: PrepareOutcome) => void): Promise<void>;
}

/**
 * Stage one file in the pool, let the format place and describe it, and cache what it found next to the
 * blob. Bad input comes back as a message (its staged copy already dropped); I/O faults throw.
 */
export async function prepareOne(pool: Pool, format: Format, f: SourceFile, opts: PlaceOptions): Promise<PrepareOutcome> {
  let staged: StagedBlob | undefined;
  try {
    // De-duplicated as it is read: bytes the pool already holds get no temporary copy (see Pool).
    const { bytes, ...blob } = await pool.stageForImport(f.abs);
    staged = blob;
    // The format reads a stable copy of the bytes hashed: the private one, or the (read-only) pool blob.
    const copyPath = blob.tmpPath ?? pool.blobPath(blob.sha256);
    // Bytes the pool holds already (a re-delivery: build bots send the same package again) come with what
    // the format cached for them, so it can place them without reading the package again.
    let asked = false;
    let consulted: unknown;
    const cachedMeta = blob.tmpPath === undefined && f.placeAt === undefined ? () => ((asked = true), (consulted = pool.readMetaSync(blob.sha256, format.name))) : undefined;
    const placement: Placement = f.placeAt !== undefined ? { treePath: f.placeAt } : await format.place({ source: f.abs, relPath: f.rel, copyPath, bytes, sha256: blob.sha256, sha1: blob.sha1, size: blob.size, cachedMeta }, opts);
    // Metadata goes to the pool's cache now, not into memory: a bulk import of 50,000 packages would
    // otherwise hold every fragment, and queued requests would carry them. Caching the hashes here too
    // keeps that file write out of the commit, which runs under the lock.
    pool.cacheStagedMetaSync(blob, HASHES_META, { sha256: blob.sha256, sha1: blob.sha1, size: blob.size });
    // A file placed beforehand (a companion) is described now, outside the writer lock, like the others.
    if (f.placeAt !== undefined) placement.meta = await format.describe(copyPath, { path: f.placeAt, sha256: blob.sha256, size: blob.size }, { sha256: blob.sha256, sha1: blob.sha1, size: blob.size });
    if (placement.meta === undefined) return { source: f, staged: blob, placement };
    // A cache the format consulted and did not place from (missing, of another version, unreadable) is
    // written anew: the index build reads the same cache.
    if (asked && placement.meta !== consulted) pool.writeMetaSync(blob.sha256, format.name, placement.meta);
    else pool.cacheStagedMetaSync(blob, format.name, placement.meta);
    return { source: f, staged: blob, placement: { ...placement, meta: undefined } };
  } catch (e) {
    if (staged) await pool.discard([staged]);
    if (isRcuError(e, 'BAD_INPUT') || isRcuError(e, 'USAGE')) return e.message;
    throw e;
  }
}

/** Stage and place every file; never throws for bad input (refusals are returned), only for I/O faults. */
export async function prepareFiles(
  layout: Layout,
  format: Format,
  files: readonly SourceFile[],
  opts: PlaceOptions & { progress?: Progress; parallel?: ParallelPrepare } = {},
): Promise<PrepareResult> {
  const pool = new Pool(layout);
  const results: Array<PrepareOutcome | undefined> = new Array(files.length);
  const shareCopy = sharedCopies(layout);
  const record = (i: number, outcome: PrepareOutcome): void => {
    if (typeof outcome !== 'string') shareCopy(outcome.staged);
    results[i] = outcome;
    opts.progress?.tick();
  };
  let failed: unknown;
  if (opts.parallel) {
    await opts.parallel.run(files, record).catch((e: unknown) => {
      failed = e;
    });
  } else {
    // Staging is synchronous (fast); placing may wait on I/O (a large package read from disk), so a few
    // files are in flight at once. Small files are handed to the format in memory and never re-read.
    let next = 0;
    let sliceStart = performance.now();
    const worker = async (): Promise<void> => {
      while (next < files.length && failed === undefined) {
        const i = next++;
        try {
          record(i, await prepareOne(pool, format, files[i]!, opts));
        } catch (e) {
          failed ??= e;
        }
        // Synchronous staging: yield now and then so timers (the lock's refresh) keep running.
        if (performance.now() - sliceStart > 15) {
          await new Promise<void>((r) => setImmediate(r));
          sliceStart = performance.now();
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PLACE_CONCURRENCY, files.length) }, worker));
  }
  if (failed !== undefined) {
    await pool.discard(results.flatMap((r) => (r && typeof r !== 'string' ? [r.staged] : [])));
    throw failed;
  }
  const prepared: PreparedFile[] = [];
  const refused: string[] = [];
  for (const r of results) {
    if (typeof r === 'string') refused.push(r);
    else if (r) prepared.push(r);
  }
  // Two inputs for one tree path must be the same bytes.
  const seen = new Map<string, PreparedFile>();
  const unique: PreparedFile[] = [];
  for (const p of prepared) {
    const prev = seen.get(p.placement.treePath);
    if (!prev) {
      seen.set(p.placement.treePath, p);
      unique.push(p);
    } else {
      await pool.discard([p.staged]);
      if (prev.staged.sha256 !== p.staged.sha256) {
        refused.push(`${p.source.abs}: same repository path '${p.placement.treePath}' as ${prev.source.abs} with different content (sha256 ${p.staged.sha256} vs ${prev.staged.sha256})`);
      }
    }
  }
  return { prepared: unique, refused };
}

/**
 * Identical bytes staged twice by one import keep one inode: the later name becomes a hard link to the
 * first copy (66,000 identical files must not need 66,000 inodes in pool/tmp). Only an optimisation:
 * whatever fails here (EMLINK at the link limit, say) leaves that copy as it is, and later duplicates
 * link to it instead.
 */
function sharedCopies(layout: Layout): (s: StagedBlob) => void {
  const first = new Map<string, string>();
  return (s) => {
    if (s.tmpPath === undefined) return;
    const have = first.get(s.sha256);
    if (have === undefined) {
      first.set(s.sha256, s.tmpPath);
      return;
    }
    let link: string | undefined;
    try {
      const a = fs.statSync(have);
      const b = fs.statSync(s.tmpPath);
      if (a.ino === b.ino && a.dev === b.dev) return;
      link = tmpName(layout.poolTmpDir, 'same');
      fs.linkSync(have, link);
      fs.renameSync(link, s.tmpPath); // the copy's inode is freed; the name stays the caller's
      link = undefined;
    } catch {
      if (link) fs.rmSync(link, { force: true });
      first.set(s.sha256, s.tmpPath);
    }
  };
}

const BULK_COMPARE = 64;

export interface PlanImportResult {
  change: Change;
  /** Files already present with identical content. */
  unchanged: string[];
}

/** Compare prepared files with the parent: absent -> add, identical -> unchanged, different -> conflict or replace. */
export async function planImport(state: PlanState, prepared: readonly PreparedFile[], opts: { replace?: boolean }): Promise<PlanImportResult> {
  const adds: AddChange[] = [];
  const unchanged: string[] = [];
  const conflicts: Array<{ p: PreparedFile }> = [];
  // Few files: stat them against the pool (no manifest load, keeps no-op imports fast). Many files:
  // one manifest read beats thousands of stats.
  const byPath = prepared.length > BULK_COMPARE ? await state.entriesByPath() : undefined;
  for (const p of prepared) {
    const treePath = p.placement.treePath;
    const known = byPath?.get(treePath)?.sha256;
    const cmp = byPath ? (known === undefined ? 'absent' : known === p.staged.sha256 ? 'same' : 'different') : await state.compare(treePath, p.staged.sha256);
    if (cmp === 'same') {
      unchanged.push(treePath);
      continue;
    }
    if (cmp === 'different' && !opts.replace) {
      conflicts.push({ p });
      continue;
    }
    adds.push({ path: treePath, sha256: p.staged.sha256, size: p.staged.size, staged: p.staged, meta: p.placement.meta });
  }
  if (conflicts.length) {
    const byPath = await state.entriesByPath();
    const lines = conflicts.map(({ p }) => {
      const old = byPath.get(p.placement.treePath);
      return `${p.placement.treePath}: generation ${state.parent} has sha256 ${old?.sha256 ?? '(not a pool file)'}, ${p.source.abs} has sha256 ${p.staged.sha256}`;
    });
    throw new RcuError('CONFLICT', `${conflicts.length} file(s) already exist with different content; nothing was imported (use --replace to publish the new bytes)`, { details: lines });
  }
  return { change: { adds, removes: [], replaceBuilds: !!opts.replace }, unchanged };
}
