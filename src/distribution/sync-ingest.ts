/**
 * Bringing a received tree into the pool. rsync with --link-dest into an empty folder leaves two kinds of
 * files: hard links of the current snapshot's files (pool blobs already: their hash is the manifest's),
 * and files that arrived (link count 1, or links from a kept earlier attempt). Only those are read and
 * hashed; each becomes a pool blob by linking the received inode itself (no copy), or, when the pool
 * already holds those bytes, by replacing the received file with a link to the blob. Afterwards every
 * file of the tree is a pool blob, so reference count = link count holds once it is published.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Layout } from '../engine/layout.js';
import { HASHES_META, Pool } from '../engine/pool.js';
import type { BlobHashes, TreeEntry } from '../formats/format.js';
import { chunked } from '../util/chunked.js';
import { errnoCode, fsError, RcuError } from '../util/errors.js';
import { syncFilesystem, tmpName } from '../util/fsx.js';
import { compareBytewise } from '../util/paths.js';
import { trace } from '../util/trace.js';

export interface IngestResult {
  /** Every file of the tree, sorted bytewise by path. */
  entries: TreeEntry[];
  /** Files that came over the wire in this sync (link count 1 after rsync), and their bytes. */
  arrived: number;
  arrivedBytes: number;
  /** Files new to the tree that rsync linked from a kept earlier attempt instead of transferring them. */
  resumed: number;
  /** Anything that is not a regular file or folder (refused by the caller). */
  foreign: string[];
}

interface Walked {
  rel: string;
  st: fs.Stats;
}

/** Walk every file (the caller sorts: per-folder order is not whole-path order). */
function walkSync(root: string, out: Walked[], foreign: string[], rel = ''): void {
  const names = fs.readdirSync(rel ? path.join(root, rel) : root);
  for (const n of names) {
    const r = rel ? `${rel}/${n}` : n;
    const st = fs.lstatSync(path.join(root, r));
    if (st.isDirectory()) walkSync(root, out, foreign, r);
    else if (st.isFile()) out.push({ rel: r, st });
    else foreign.push(r);
  }
}

function hashFileSync(file: string): BlobHashes {
  const h256 = createHash('sha256');
  const h1 = createHash('sha1');
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  let size = 0;
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h256.update(buf.subarray(0, n));
      h1.update(buf.subarray(0, n));
      size += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { sha256: h256.digest('hex'), sha1: h1.digest('hex'), size };
}

/**
 * Turn the received tree `work` into pool links. `parentDir` and `parentByPath` describe the snapshot
 * rsync linked from. `onFile` is told about each file read (progress).
 */
export async function ingestTree(layout: Layout, work: string, parentDir: string, parentByPath: ReadonlyMap<string, TreeEntry>, linkedOnlyFromParent: boolean): Promise<IngestResult> {
  const pool = new Pool(layout);
  const walked: Walked[] = [];
  const foreign: string[] = [];
  walkSync(work, walked, foreign);
  trace('sync: walked');
  const entries: TreeEntry[] = new Array(walked.length);
  const fresh: Array<{ i: number; h: BlobHashes }> = [];
  let arrivedBytes = 0;
  let arrived = 0;
  await chunked(walked, (w, i) => {
    const known = w.st.nlink > 1 ? parentByPath.get(w.rel) : undefined;
    if (known) {
      // --link-dest links a file only from the same path in the folders it names: with the parent as
      // the only one, a link IS the parent's file (50,000 stats saved); with a kept attempt too, look.
      if (linkedOnlyFromParent && known.size === w.st.size) {
        entries[i] = known;
        return;
      }
      const pst = fs.lstatSync(path.join(parentDir, w.rel), { throwIfNoEntry: false });
      if (pst && pst.ino === w.st.ino && pst.dev === w.st.dev) {
        entries[i] = known;
        return;
      }
    }
    const h = hashFileSync(path.join(work, w.rel));
    entries[i] = { path: w.rel, sha256: h.sha256, size: h.size };
    fresh.push({ i, h });
    if (w.st.nlink === 1) {
      arrived++;
      arrivedBytes += h.size;
    }
  });
  if (fresh.length) {
    trace('sync: hashed');
    // The received data must be on disk before a pool name points at it.
    await syncFilesystem(work, () => [work]);
    trace('sync: received data durable');
    const dirs = new Set<string>();
    await chunked(fresh, ({ i, h }) => {
      const rel = walked[i]!.rel;
      const file = path.join(work, rel);
      const blob = pool.blobPath(h.sha256);
      const ids = pool.identitiesSync(h.sha256);
      if (ids.some((b) => b.ino === walked[i]!.st.ino && b.dev === walked[i]!.st.dev)) return; // linked from a kept attempt
      if (ids.length === 0) {
        fs.chmodSync(file, 0o444); // our own new inode (link count 1): pool blobs are read-only
        const dir = path.dirname(blob);
        if (!dirs.has(dir)) {
          fs.mkdirSync(dir, { recursive: true });
          dirs.add(dir);
        }
        try {
          fs.linkSync(file, blob);
          pool.writeMetaSync(h.sha256, HASHES_META, h);
          return;
        } catch (e) {
          if (errnoCode(e) !== 'EEXIST') throw fsError(e, blob, 'adding a received file to the pool');
        }
      }
      // The pool already holds these bytes: the tree links the blob, the received copy goes.
      const tmp = tmpName(path.dirname(file));
      pool.linkIntoSync(h.sha256, tmp);
      fs.renameSync(tmp, file);
      if (!pool.hasMetaSync(h.sha256, HASHES_META)) pool.writeMetaSync(h.sha256, HASHES_META, h);
    });
    await syncFilesystem(layout.blobsDir, () => [...dirs, work]);
  }
  for (const e of entries) if (!e) throw new RcuError('FAILURE', 'internal: a received file was not accounted for');
  // Manifests are sorted by whole path bytewise ('a-c' before 'a/b'); the walk sorts per folder.
  entries.sort((x, y) => compareBytewise(x.path, y.path));
  return { entries, arrived, arrivedBytes, resumed: fresh.length - arrived, foreign };
}
