/**
 * Pool blobs by name: pool/blobs/<ab>/<sha256> and, past the filesystem's hard-link limit (EMLINK, 65,000
 * on ext4), identical overflow copies <sha256>.1, .2, ... that new links go to. Linking into snapshot
 * trees, the identities of every copy, and a walk over them all.
 */
import fs from 'node:fs';
import type { Stats } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Layout } from './layout.js';
import { errnoCode, fsError, RcuError } from '../util/errors.js';
import { tmpName } from '../util/fsx.js';

/** ext4's limit; warn well before it. */
export const LINK_WARN_THRESHOLD = 60_000;

export function isSha256(s: string): boolean {
  return /^[0-9a-f]{64}$/.test(s);
}

export interface BlobIdentity {
  dev: number;
  ino: number;
  nlink: number;
  size: number;
}

/** The path of a blob's copy number `copy` (0: the blob itself). */
export function blobCopyPath(layout: Layout, sha256: string, copy = 0): string {
  const p = layout.blobPath(sha256);
  return copy === 0 ? p : `${p}.${copy}`;
}

/**
 * Hard-link a pool blob to `dest` (a new name in a staging tree). Handles EMLINK by moving to the
 * next copy of the blob, creating it from the first when needed. Returns the link count after linking.
 */
export function linkIntoSync(layout: Layout, sha256: string, dest: string): number {
  for (let copy = 0; copy < 1000; copy++) {
    const src = blobCopyPath(layout, sha256, copy);
    try {
      fs.linkSync(src, dest);
      return fs.statSync(dest).nlink;
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'EMLINK') continue;
      if (code === 'ENOENT' && copy > 0 && fs.existsSync(path.dirname(dest))) {
        makeCopySync(layout, sha256, copy);
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
function makeCopySync(layout: Layout, sha256: string, copy: number): void {
  const src = blobCopyPath(layout, sha256, 0);
  const tmp = tmpName(layout.poolTmpDir);
  try {
    fs.copyFileSync(src, tmp, fs.constants.COPYFILE_EXCL);
    fs.chmodSync(tmp, 0o444);
    const fd = fs.openSync(tmp, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.linkSync(tmp, blobCopyPath(layout, sha256, copy));
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw fsError(e, blobCopyPath(layout, sha256, copy), 'making an overflow copy');
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** (dev, ino) identities of all copies of a blob that exist. */
export function identitiesSync(layout: Layout, sha256: string): BlobIdentity[] {
  const out: BlobIdentity[] = [];
  for (let copy = 0; ; copy++) {
    const st = fs.statSync(blobCopyPath(layout, sha256, copy), { throwIfNoEntry: false });
    if (!st) return out;
    out.push({ dev: st.dev, ino: st.ino, nlink: st.nlink, size: st.size });
  }
}

/** Walk every blob file (including overflow copies) in the pool. */
/**
 * Every blob file (overflow copies too) with its stat. A blob that vanishes between listing and stat was
 * swept (a background gc removes blobs nothing links): it is skipped, since it had no references.
 */
export async function* walkBlobs(layout: Layout): AsyncGenerator<PoolBlobFile> {
  let prefixes: string[];
  try {
    prefixes = (await fsp.readdir(layout.blobsDir)).sort();
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return;
    throw e;
  }
  for (const pre of prefixes) {
    const dir = path.join(layout.blobsDir, pre);
    for (const name of (await fsp.readdir(dir).catch(orEmptyIfGone)).sort()) {
      const [sha, copyText] = name.split('.');
      if (!sha || !isSha256(sha)) continue;
      const file = path.join(dir, name);
      const st = await fsp.stat(file).catch(orUndefinedIfGone);
      if (!st) continue;
      yield { name, sha256: sha, copy: copyText ? Number(copyText) : 0, path: file, st };
    }
  }
}

export interface PoolBlobFile {
  name: string;
  sha256: string;
  copy: number;
  path: string;
  st: Stats;
}

function orUndefinedIfGone(e: unknown): undefined {
  if (errnoCode(e) === 'ENOENT') return undefined;
  throw e;
}

function orEmptyIfGone(e: unknown): string[] {
  if (errnoCode(e) === 'ENOENT') return [];
  throw e;
}
