/**
 * The content-addressed pool. A blob lives at pool/blobs/<ab>/<sha256> (0444); its reference count is
 * its link count minus one. When a blob reaches the filesystem's hard-link limit (EMLINK, 65,000 on
 * ext4) a second identical copy is made at <sha256>.1 (then .2, ...) and new links go there.
 *
 * Adding is two-phase so that refused input never touches the pool: stage() copies bytes into
 * pool/tmp (hashing while copying; the uploader's file is never linked), commit() makes the staged
 * copies durable with one filesystem sync and links each to its content-addressed name (EEXIST =
 * already there, deduplicated). Imports de-duplicate earlier, as they read (stageForImport): bytes a
 * snapshot already references in the pool get no temporary copy at all.
 *
 * Pool ties the parts together: staging (pool-staging.ts), blob names, links and overflow copies
 * (pool-blobs.ts) and the metadata cache (pool-meta.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Layout } from './layout.js';
import type { BlobHashes } from '../formats/format.js';
import { errnoCode, fsError, RcuError } from '../util/errors.js';
import { fsyncPath, syncFilesystem } from '../util/fsx.js';
import { chunked } from '../util/chunked.js';
import { crashPoint } from '../util/crash.js';
import { blobCopyPath, identitiesSync, linkIntoSync, walkBlobs } from './pool-blobs.js';
import type { BlobIdentity, PoolBlobFile } from './pool-blobs.js';
import { HASHES_META, readMetaSync, removeEmptyMetaDirs, removeMeta, writeMetaSync } from './pool-meta.js';
import { readSmallSync, stageCopy } from './pool-staging.js';
import type { StagedBlob, StagedCopy } from './pool-staging.js';

// What callers of the pool name, wherever it is defined.
export { isSha256, LINK_WARN_THRESHOLD } from './pool-blobs.js';
export type { BlobIdentity } from './pool-blobs.js';
export { HASHES_META } from './pool-meta.js';
export type { StagedBlob, StagedCopy } from './pool-staging.js';

/** Up to this many new blobs a commit fsyncs them one by one; more, one syncfs of the filesystem. */
const FEW_BLOBS = 16;

export class Pool {
  constructor(readonly layout: Layout) {}

  blobPath(sha256: string, copy = 0): string {
    return blobCopyPath(this.layout, sha256, copy);
  }

  /**
   * Synchronous copy for files up to SMALL_FILE bytes (callers slice their loops with `chunked`);
   * larger files go through the streaming `stage`. Same checks, same result.
   */
  stageSync(source: string): (StagedCopy & { bytes: Buffer }) | undefined {
    // (Always copied: the copy-less branch is never taken.)
    return readSmallSync(this.layout.poolTmpDir, source, () => true) as (StagedCopy & { bytes: Buffer }) | undefined;
  }

  /**
   * An import's staging: like stageSync/stage, but bytes a snapshot already references in the pool get
   * no private copy (tmpPath absent; the format reads the pool blob). Large files are streamed into a
   * copy while hashing, which is dropped at once when the pool turns out to hold them.
   */
  async stageForImport(source: string): Promise<StagedBlob & { bytes?: Buffer }> {
    const small = readSmallSync(this.layout.poolTmpDir, source, (sha) => !this.isReferenced(sha));
    if (small) return small;
    const copy = await this.stage(source);
    if (!this.isReferenced(copy.sha256)) return copy;
    fs.rmSync(copy.tmpPath, { force: true });
    return { sha256: copy.sha256, sha1: copy.sha1, size: copy.size, source };
  }

  /**
   * Whether the pool holds this blob and a snapshot links it (nlink > 1). An unreferenced blob is left
   * alone: the next sweep removes it, and an import should not lean on it.
   */
  private isReferenced(sha256: string): boolean {
    const st = fs.statSync(this.blobPath(sha256), { throwIfNoEntry: false });
    return !!st && st.nlink > 1;
  }

  /** Copy `source` into a private temporary file, computing sha256, sha1 and size in one pass. */
  stage(source: string): Promise<StagedCopy> {
    return stageCopy(this.layout.poolTmpDir, source);
  }

  /**
   * Drop staged copies, and the metadata cached for them at import when their blob is not in the pool
   * (a concurrent import of the same bytes that commits later simply describes the blob again).
   */
  async discard(staged: readonly StagedBlob[]): Promise<void> {
    const left = staged.filter((s) => !s.committed);
    const metaDirs = new Set<string>();
    await chunked(left, (s) => {
      if (s.tmpPath !== undefined) fs.rmSync(s.tmpPath, { force: true });
      if (s.metaKinds?.length && !fs.existsSync(this.blobPath(s.sha256))) {
        for (const kind of s.metaKinds) fs.rmSync(this.layout.blobMetaPath(s.sha256, kind), { force: true });
        metaDirs.add(path.dirname(this.layout.blobMetaPath(s.sha256, HASHES_META)));
      }
    });
    // "Nothing changes" includes the meta/<xx> folders caching made: an empty one goes again (a
    // concurrent writer into it makes it anew, see writeMetaSync).
    removeEmptyMetaDirs(metaDirs);
  }

  hasMetaSync(sha256: string, kind: string): boolean {
    return fs.existsSync(this.layout.blobMetaPath(sha256, kind));
  }

  /**
   * Cache metadata for a staged blob before it is committed (keyed by content, so it is right whoever
   * commits the blob). Written only when absent; what this call wrote is recorded on the blob so that
   * discard() can take it back if the blob never reaches the pool.
   */
  cacheStagedMetaSync(blob: StagedBlob, kind: string, value: unknown): void {
    if (this.hasMetaSync(blob.sha256, kind)) return;
    try {
      this.writeMetaSync(blob.sha256, kind, value);
    } catch (e) {
      throw fsError(e, this.layout.blobMetaPath(blob.sha256, kind), 'caching metadata');
    }
    (blob.metaKinds ??= []).push(kind);
  }

  /**
   * Make staged copies durable (one syncfs) and give each its content-addressed name. Identical content
   * already in the pool is deduplicated (the staged copy is dropped). Returns nothing: blobs are then
   * addressed by hash.
   */
  async commit(staged: readonly StagedBlob[]): Promise<void> {
    if (staged.length === 0) return;
    await this.recopySwept(staged);
    // A few blobs (the usual build-bot upload) are made durable file by file: fsync(2) of each new
    // file and of the folders its link lands in. Past FEW_BLOBS one syncfs(2) of the filesystem is
    // cheaper than that many fsyncs. (syncfs also flushes what every other writer on the filesystem has
    // pending, and costs starting `sync`: ~25 ms of a one-package publish when measured.)
    const few = staged.length <= FEW_BLOBS;
    if (few) {
      for (const s of staged) if (s.tmpPath !== undefined) await fsyncPath(s.tmpPath);
    } else {
      await syncFilesystem(this.layout.poolTmpDir, () => [this.layout.poolTmpDir]);
    }
    const dirs = new Set<string>();
    const newDirs = new Set<string>();
    await chunked(staged, (s) => {
      if (s.tmpPath === undefined) {
        s.committed = true; // in the pool already (recopySwept checked, and the caller excludes sweeps)
        return;
      }
      const final = this.blobPath(s.sha256);
      const dir = path.dirname(final);
      if (!dirs.has(dir)) {
        const made = fs.mkdirSync(dir, { recursive: true });
        dirs.add(dir);
        // Folders made now must themselves be durable in their parents (the pool's two-level fan-out).
        if (made !== undefined) for (let d = dir; d.length >= made.length; d = path.dirname(d)) newDirs.add(path.dirname(d));
      }
      try {
        fs.linkSync(s.tmpPath, final);
      } catch (e) {
        if (errnoCode(e) !== 'EEXIST') throw fsError(e, final, 'adding to the pool');
        const st = fs.statSync(final);
        if (st.size !== s.size) {
          throw new RcuError('INTEGRITY', `pool blob ${final} has size ${st.size}, expected ${s.size}: run 'rcurepo verify --deep'`);
        }
      }
      crashPoint('in-pool-commit');
      fs.unlinkSync(s.tmpPath);
      s.committed = true;
      // Usually cached already at import (cacheStagedMetaSync), outside the lock.
      if (!s.metaKinds?.includes(HASHES_META)) {
        const hashes: BlobHashes = { sha256: s.sha256, sha1: s.sha1, size: s.size };
        this.writeMetaSync(s.sha256, HASHES_META, hashes);
      }
    });
    if (few) {
      for (const d of new Set([...dirs, ...newDirs])) await fsyncPath(d);
    } else {
      await syncFilesystem(this.layout.blobsDir, () => dirs);
    }
  }

  /**
   * Blobs staged without a copy because the pool held them: a sweep may have removed one since (its last
   * snapshot reaped). Such a blob is copied from its source again, and must still hash the same. Callers
   * hold the pool guard (enterPool), so what is there now stays until they leave.
   */
  private async recopySwept(staged: readonly StagedBlob[]): Promise<void> {
    for (const s of staged) {
      if (s.tmpPath !== undefined || s.committed || fs.existsSync(this.blobPath(s.sha256))) continue;
      const again = await this.stage(s.source!);
      if (again.sha256 !== s.sha256) {
        fs.rmSync(again.tmpPath, { force: true });
        throw new RcuError('BAD_INPUT', `${s.source}: changed while it was being imported (sha256 ${s.sha256}, now ${again.sha256}); nothing was imported`);
      }
      s.tmpPath = again.tmpPath;
    }
  }

  /**
   * Hard-link a pool blob to `dest` (a new name in a staging tree). Handles EMLINK by moving to the
   * next copy of the blob, creating it from the first when needed. Returns the link count after linking.
   */
  linkIntoSync(sha256: string, dest: string): number {
    return linkIntoSync(this.layout, sha256, dest);
  }


  /** (dev, ino) identities of all copies of a blob that exist. */
  identitiesSync(sha256: string): BlobIdentity[] {
    return identitiesSync(this.layout, sha256);
  }

  /** Is `file` (in a snapshot tree) a link to blob `sha256`? Compared by (dev, ino); nothing is read. */
  async compareFile(file: string, sha256: string): Promise<'absent' | 'same' | 'different'> {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(file);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return 'absent';
      throw e;
    }
    // A folder is no file: the add goes on to the path-collision check, which names it as a folder.
    if (st.isDirectory()) return 'absent';
    return this.identitiesSync(sha256).some((i) => i.ino === st.ino && i.dev === st.dev) ? 'same' : 'different';
  }

  async identities(sha256: string): Promise<BlobIdentity[]> {
    return this.identitiesSync(sha256);
  }

  async readMeta<T>(sha256: string, kind: string): Promise<T | undefined> {
    return this.readMetaSync<T>(sha256, kind);
  }

  /** Synchronous read: metadata of thousands of blobs is read per index build (~10x cheaper than async). */
  readMetaSync<T>(sha256: string, kind: string): T | undefined {
    return readMetaSync<T>(this.layout, sha256, kind);
  }

  /** Caches are not data: written atomically but without directory fsync (rebuildable). */
  async writeMeta(sha256: string, kind: string, value: unknown): Promise<void> {
    this.writeMetaSync(sha256, kind, value);
  }

  writeMetaSync(sha256: string, kind: string, value: unknown): void {
    writeMetaSync(this.layout, sha256, kind, value);
  }

  removeMeta(sha256: string): Promise<void> {
    return removeMeta(this.layout, sha256);
  }

  /** Walk every blob file (including overflow copies) in the pool. */
  walk(): AsyncGenerator<PoolBlobFile> {
    return walkBlobs(this.layout);
  }
}
