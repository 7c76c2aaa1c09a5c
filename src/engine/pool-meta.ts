/**
 * The pool's metadata cache: JSON per blob and kind (pool/meta/<xx>/<sha256>.<kind>), keyed by content so
 * that it is right whoever commits the blob, and rebuildable from the blob itself.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Layout } from './layout.js';
import { errnoCode } from '../util/errors.js';
import { tmpName } from '../util/fsx.js';

/** Pool meta kind holding a blob's BlobHashes. */
export const HASHES_META = 'hashes';

/** Synchronous read: metadata of thousands of blobs is read per index build (~10x cheaper than async). */
export function readMetaSync<T>(layout: Layout, sha256: string, kind: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(layout.blobMetaPath(sha256, kind), 'utf8')) as T;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || e instanceof SyntaxError) return undefined;
    throw e;
  }
}

/** Caches are not data: written atomically but without directory fsync (rebuildable). */
export function writeMetaSync(layout: Layout, sha256: string, kind: string, value: unknown): void {
  const p = layout.blobMetaPath(sha256, kind);
  const tmp = tmpName(layout.poolTmpDir, 'meta');
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

/** Remove every kind of metadata cached for a blob. */
export async function removeMeta(layout: Layout, sha256: string): Promise<void> {
  const dir = path.dirname(layout.blobMetaPath(sha256, 'x'));
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return;
    throw e;
  }
  await Promise.all(names.filter((n) => n.startsWith(sha256 + '.')).map((n) => fsp.rm(path.join(dir, n), { force: true })));
}

/** Remove the given meta/<xx> folders where they are empty (another writer may be filling one again). */
export function removeEmptyMetaDirs(dirs: Iterable<string>): void {
  for (const dir of dirs) {
    try {
      fs.rmdirSync(dir);
    } catch (e) {
      const c = errnoCode(e);
      if (c !== 'ENOTEMPTY' && c !== 'EEXIST' && c !== 'ENOENT') throw e;
    }
  }
}
