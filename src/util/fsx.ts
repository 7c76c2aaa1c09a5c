/**
 * Small, careful filesystem primitives. Nothing here ever opens an existing path for writing:
 * every write goes to a fresh temporary name in the same directory and is renamed into place.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { errnoCode } from './errors.js';

/** Prefix of every temporary name rcurepo creates; cleanup removes stale ones. */
export const TMP_PREFIX = '.rcurepo-tmp-';

// Unique per process and thread without a random draw per name (a bulk import makes tens of thousands):
// one random prefix per thread, then a counter. The pid stays first: cleanup reads it to spare live owners.
let tmpPrefix: string | undefined;
let tmpCounter = 0;

export function tmpName(dir: string, hint = ''): string {
  tmpPrefix ??= `${TMP_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`;
  return path.join(dir, `${tmpPrefix}${(tmpCounter++).toString(36)}${hint ? '-' + hint : ''}`);
}

/** fsync a file or directory by path. */
export async function fsyncPath(p: string): Promise<void> {
  const fh = await fsp.open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export interface AtomicWriteOptions {
  mode?: number;
  /** fsync the parent directory after the rename (default true). */
  syncDir?: boolean;
  /**
   * fsync the data before the rename (default true). Caches that a later `verify --repair` rebuilds
   * pass false: a crash may lose them, never corrupt them (rename still makes them all-or-nothing).
   */
  syncData?: boolean;
}

/** Write `data` to `target` by temp file + fsync + rename (+ fsync of the directory). */
export async function writeFileAtomic(target: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const dir = path.dirname(target);
  const tmp = tmpName(dir, path.basename(target));
  const fh = await fsp.open(tmp, 'wx', opts.mode ?? 0o644);
  try {
    await fh.writeFile(data);
    if (opts.syncData !== false) await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await fsp.rename(tmp, target);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  if (opts.syncDir !== false) await fsyncPath(dir);
}

/** Read a JSON file; undefined when it does not exist. */
export async function readJsonIfExists<T>(p: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(p, 'utf8')) as T;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/** Exists test that only treats ENOENT as "no". */
/**
 * `mkdir -p`. Node 20's promise-based recursive mkdir reports ENOENT when the real failure is ENOSPC
 * (no inode left); the synchronous one reports the true code, so a failure is asked again that way
 * (which also succeeds if the missing parent was made meanwhile).
 */
export async function mkdirp(dir: string, mode?: number): Promise<void> {
  const opts = mode === undefined ? { recursive: true } : { recursive: true, mode };
  try {
    await fsp.mkdir(dir, opts);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
    fs.mkdirSync(dir, opts);
  }
}

export async function pathExists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return false;
    throw e;
  }
}

let syncfsAvailable: boolean | undefined;

/**
 * Make everything written under `p` durable. Uses syncfs(2) through coreutils `sync -f` (one call for the
 * whole filesystem, instead of one fsync per new directory of a large tree); falls back to fsyncing the
 * directories given when `sync -f` is not available. The probe result is remembered.
 */
export async function syncFilesystem(p: string, fallbackDirs: () => Iterable<string>): Promise<void> {
  if (syncfsAvailable !== false) {
    const ok = await new Promise<boolean>((resolve) => {
      execFile('sync', ['-f', p], (err) => resolve(!err));
    });
    if (ok) {
      syncfsAvailable = true;
      return;
    }
    syncfsAvailable = false;
  }
  for (const d of fallbackDirs()) await fsyncPath(d);
}

/** A directory's names; empty when it does not exist (most rcurepo folders are created on first use). */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw e;
  }
}

export function listDirSync(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw e;
  }
}

/** Remove a path if it exists (files or trees). */
export async function removePath(p: string): Promise<void> {
  await fsp.rm(p, { recursive: true, force: true, maxRetries: 2 });
}
