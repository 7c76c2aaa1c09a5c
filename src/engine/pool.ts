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
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { Layout } from './layout.js';
import type { BlobHashes } from '../formats/format.js';
import { errnoCode, fsError, RcuError } from '../util/errors.js';
import { fsyncPath, syncFilesystem, tmpName } from '../util/fsx.js';
import { chunked } from '../util/chunked.js';
import { crashPoint } from '../util/crash.js';

/** ext4's limit; warn well before it. */
export const LINK_WARN_THRESHOLD = 60_000;
/** Pool meta kind holding a blob's BlobHashes. */
export const HASHES_META = 'hashes';
const SMALL_FILE = 4 * 1024 * 1024;

export interface StagedBlob extends BlobHashes {
  /**
   * Private copy in pool/tmp; removed by commit() or discard(). Absent when the pool already held these
   * bytes when they were read (stageForImport): commit() then only checks the blob is still there, and
   * copies `source` again (checking its hash) should a sweep have removed it meanwhile.
   */
  tmpPath?: string;
  /** The file the bytes were read from (set when there is no tmpPath). */
  source?: string;
  /** Kinds of metadata this import cached for it (removed by discard() unless the blob is in the pool). */
  metaKinds?: string[];
  /** Set by commit(): the copy is now the pool blob, discard() leaves it alone. */
  committed?: boolean;
}

function stageError(e: unknown, source: string): unknown {
  if (e instanceof RcuError) return e;
  if (errnoCode(e) === 'EACCES') return new RcuError('BAD_INPUT', `${source}: cannot read (permission denied)`, { cause: e });
  if (errnoCode(e) === 'ELOOP') return new RcuError('BAD_INPUT', `${source}: is a symbolic link`, { cause: e });
  if (errnoCode(e) === 'ENOENT') return new RcuError('BAD_INPUT', `${source}: no such file`, { cause: e });
  if (errnoCode(e) === 'EISDIR') return new RcuError('BAD_INPUT', `${source}: is a directory`, { cause: e });
  return fsError(e, source, 'copying into the pool');
}

/** A staged blob that certainly has its private copy (what stage() and stageSync() return). */
export type StagedCopy = StagedBlob & { tmpPath: string };
/**
 * Reading the user's file failed: whatever the errno (EIO from /proc/self/mem, EINVAL or ENXIO from
 * special files posing as regular ones), that input cannot be imported, so it is refused as bad input.
 */
async function readInput<T>(source: string, read: () => T | Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    throw inputError(e, source);
  }
}

function inputError(e: unknown, source: string): unknown {
  const c = errnoCode(e);
  if (c === undefined) return e;
  return new RcuError('BAD_INPUT', `${source}: cannot be read (${c}: ${(e as Error).message.replace(/^[A-Z]+: /, '')})`, { cause: e });
}

export function isSha256(s: string): boolean {
  return /^[0-9a-f]{64}$/.test(s);
}

/** Up to this many new blobs a commit fsyncs them one by one; more, one syncfs of the filesystem. */
const FEW_BLOBS = 16;

export class Pool {
  constructor(readonly layout: Layout) {}

  blobPath(sha256: string, copy = 0): string {
    const p = this.layout.blobPath(sha256);
    return copy === 0 ? p : `${p}.${copy}`;
  }

  /**
   * Synchronous copy for files up to SMALL_FILE bytes (callers slice their loops with `chunked`);
   * larger files go through the streaming `stage`. Same checks, same result.
   */
  stageSync(source: string): (StagedCopy & { bytes: Buffer }) | undefined {
    // (Always copied: the copy-less branch is never taken.)
    return this.readSmallSync(source, () => true) as (StagedCopy & { bytes: Buffer }) | undefined;
  }

  /**
   * Read a small file whole and hash it; write the private copy only if `wantCopy(sha256)` says so.
   * Undefined for files above SMALL_FILE (stream them).
   */
  private readSmallSync(source: string, wantCopy: (sha256: string) => boolean): (StagedCopy & { bytes: Buffer }) | (StagedBlob & { bytes: Buffer; tmpPath: undefined }) | undefined {
    let fd: number;
    try {
      fd = fs.openSync(source, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    } catch (e) {
      throw stageError(e, source);
    }
    let tmp: string | undefined;
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new RcuError('BAD_INPUT', `${source}: not a regular file`);
      if (st.size > SMALL_FILE) return undefined;
      let buf: Buffer;
      try {
        buf = fs.readFileSync(fd);
      } catch (e) {
        throw inputError(e, source);
      }
      const hashes = { sha256: createHash('sha256').update(buf).digest('hex'), sha1: createHash('sha1').update(buf).digest('hex'), size: buf.length };
      if (!wantCopy(hashes.sha256)) return { bytes: buf, tmpPath: undefined, source, ...hashes };
      tmp = tmpName(this.layout.poolTmpDir);
      fs.writeFileSync(tmp, buf, { flag: 'wx', mode: 0o444 });
      return { bytes: buf, tmpPath: tmp, ...hashes };
    } catch (e) {
      if (tmp) fs.rmSync(tmp, { force: true });
      throw stageError(e, source);
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * An import's staging: like stageSync/stage, but bytes a snapshot already references in the pool get
   * no private copy (tmpPath absent; the format reads the pool blob). Large files are streamed into a
   * copy while hashing, which is dropped at once when the pool turns out to hold them.
   */
  async stageForImport(source: string): Promise<StagedBlob & { bytes?: Buffer }> {
    const small = this.readSmallSync(source, (sha) => !this.isReferenced(sha));
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
  async stage(source: string): Promise<StagedCopy> {
    const tmp = tmpName(this.layout.poolTmpDir);
    const h256 = createHash('sha256');
    const h1 = createHash('sha1');
    let size = 0;
    let out: fsp.FileHandle | undefined;
    const src = await fsp.open(source, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const st = await src.stat();
      if (!st.isFile()) throw new RcuError('BAD_INPUT', `${source}: not a regular file`);
      out = await fsp.open(tmp, 'wx', 0o444);
      if (st.size <= SMALL_FILE) {
        const buf = await readInput(source, () => src.readFile());
        h256.update(buf);
        h1.update(buf);
        size = buf.length;
        await out.writeFile(buf);
      } else {
        const buf = Buffer.allocUnsafe(1 << 20);
        for (;;) {
          const { bytesRead } = await readInput(source, () => src.read(buf, 0, buf.length, null));
          if (bytesRead === 0) break;
          const chunk = buf.subarray(0, bytesRead);
          h256.update(chunk);
          h1.update(chunk);
          size += bytesRead;
          await out.write(chunk);
        }
      }
    } catch (e) {
      await out?.close().catch(() => undefined);
      await src.close().catch(() => undefined);
      await fsp.rm(tmp, { force: true });
      throw stageError(e, source);
    }
    await out.close();
    await src.close();
    return { tmpPath: tmp, sha256: h256.digest('hex'), sha1: h1.digest('hex'), size };
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
    for (const dir of metaDirs) {
      try {
        fs.rmdirSync(dir);
      } catch (e) {
        const c = errnoCode(e);
        if (c !== 'ENOTEMPTY' && c !== 'EEXIST' && c !== 'ENOENT') throw e;
      }
    }
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
    for (let copy = 0; copy < 1000; copy++) {
      const src = this.blobPath(sha256, copy);
      try {
        fs.linkSync(src, dest);
        return fs.statSync(dest).nlink;
      } catch (e) {
        const code = errnoCode(e);
        if (code === 'EMLINK') continue;
        if (code === 'ENOENT' && copy > 0 && fs.existsSync(path.dirname(dest))) {
          this.makeCopySync(sha256, copy);
          copy--; // retry this copy number
          continue;
        }
        if (code === 'ENOENT' && !fs.existsSync(src)) throw new RcuError('INTEGRITY', `pool blob ${src} is missing: run 'rcurepo verify --repair'`, { cause: e });
        throw fsError(e, dest, 'linking a pool blob');
      }
    }
    throw new RcuError('FS_LIMIT', `blob ${sha256}: too many copies needed (EMLINK)`);
  }

  /** Create overflow copy number `copy` of a blob (temp + fsync + link; EEXIST = another process made it). */
  private makeCopySync(sha256: string, copy: number): void {
    const src = this.blobPath(sha256, 0);
    const tmp = tmpName(this.layout.poolTmpDir);
    try {
      fs.copyFileSync(src, tmp, fs.constants.COPYFILE_EXCL);
      fs.chmodSync(tmp, 0o444);
      const fd = fs.openSync(tmp, 'r');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fs.linkSync(tmp, this.blobPath(sha256, copy));
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw fsError(e, this.blobPath(sha256, copy), 'making an overflow copy');
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  /** (dev, ino) identities of all copies of a blob that exist. */
  identitiesSync(sha256: string): Array<{ dev: number; ino: number; nlink: number; size: number }> {
    const out: Array<{ dev: number; ino: number; nlink: number; size: number }> = [];
    for (let copy = 0; ; copy++) {
      const st = fs.statSync(this.blobPath(sha256, copy), { throwIfNoEntry: false });
      if (!st) return out;
      out.push({ dev: st.dev, ino: st.ino, nlink: st.nlink, size: st.size });
    }
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

  async identities(sha256: string): Promise<Array<{ dev: number; ino: number; nlink: number; size: number }>> {
    return this.identitiesSync(sha256);
  }

  async readMeta<T>(sha256: string, kind: string): Promise<T | undefined> {
    return this.readMetaSync<T>(sha256, kind);
  }

  /** Synchronous read: metadata of thousands of blobs is read per index build (~10x cheaper than async). */
  readMetaSync<T>(sha256: string, kind: string): T | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.layout.blobMetaPath(sha256, kind), 'utf8')) as T;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || e instanceof SyntaxError) return undefined;
      throw e;
    }
  }

  /** Caches are not data: written atomically but without directory fsync (rebuildable). */
  async writeMeta(sha256: string, kind: string, value: unknown): Promise<void> {
    this.writeMetaSync(sha256, kind, value);
  }

  writeMetaSync(sha256: string, kind: string, value: unknown): void {
    const p = this.layout.blobMetaPath(sha256, kind);
    const tmp = tmpName(this.layout.poolTmpDir, 'meta');
    try {
      fs.writeFileSync(tmp, JSON.stringify(value), { flag: 'wx' });
      // The folder may be missing, or removed again by a discard that found it empty: make it and retry.
      for (let attempt = 0; ; attempt++) {
        try {
          fs.renameSync(tmp, p);
          break;
        } catch (e) {
          if (errnoCode(e) !== 'ENOENT' || attempt === 5) throw e;
          fs.mkdirSync(path.dirname(p), { recursive: true });
        }
      }
    } catch (e) {
      fs.rmSync(tmp, { force: true }); // a full disk can fail the write after the create
      throw e;
    }
  }

  async removeMeta(sha256: string): Promise<void> {
    const dir = path.dirname(this.layout.blobMetaPath(sha256, 'x'));
    let names: string[];
    try {
      names = await fsp.readdir(dir);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return;
      throw e;
    }
    await Promise.all(names.filter((n) => n.startsWith(sha256 + '.')).map((n) => fsp.rm(path.join(dir, n), { force: true })));
  }

  /** Walk every blob file (including overflow copies) in the pool. */
  async *walk(): AsyncGenerator<{ name: string; sha256: string; copy: number; path: string }> {
    let prefixes: string[];
    try {
      prefixes = (await fsp.readdir(this.layout.blobsDir)).sort();
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return;
      throw e;
    }
    for (const pre of prefixes) {
      const dir = path.join(this.layout.blobsDir, pre);
      for (const name of (await fsp.readdir(dir)).sort()) {
        const [sha, copyText] = name.split('.');
        if (!sha || !isSha256(sha)) continue;
        yield { name, sha256: sha, copy: copyText ? Number(copyText) : 0, path: path.join(dir, name) };
      }
    }
  }
}
