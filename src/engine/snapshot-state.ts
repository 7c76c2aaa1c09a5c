/** Reading a snapshot's entries and cached blob metadata, rebuilding the caches when they are missing. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { createHash } from 'node:crypto';
import type { Layout, RepoLayout } from './layout.js';
import type { BlobHashes, Format, TreeEntry } from '../formats/format.js';
import { readManifest, writeManifest } from './generations.js';
import { HASHES_META, Pool } from './pool.js';
import { walkTree } from './tree.js';
import { RcuError } from '../util/errors.js';
import { compareBytewise } from '../util/paths.js';

/** Entries of a published generation: the manifest cache, rebuilt from the tree and the pool if missing. */
export async function loadEntries(layout: Layout, repo: RepoLayout, gen: number, format: Format): Promise<TreeEntry[]> {
  const cached = await readManifest(repo, gen);
  if (cached) return cached;
  const rebuilt = await rebuildEntries(layout, repo.snapshotDir(gen), format, await poolInodeMap(layout));
  await writeManifest(repo, gen, rebuilt);
  return rebuilt;
}

export type InodeMap = Map<string, { sha256: string; size: number }>;

const inodeKey = (dev: number, ino: number) => `${dev}:${ino}`;

/** (dev, ino) -> blob, over the whole pool: how a tree file is identified without re-hashing it. */
export async function poolInodeMap(layout: Layout): Promise<InodeMap> {
  const map: InodeMap = new Map();
  for await (const { sha256, st } of new Pool(layout).walk()) {
    map.set(inodeKey(st.dev, st.ino), { sha256, size: st.size });
  }
  return map;
}

/** Rebuild a snapshot's entries from its tree: every non-index file must be a pool blob. */
export async function rebuildEntries(layout: Layout, snapshotDir: string, format: Format, inodes: InodeMap): Promise<TreeEntry[]> {
  const index = new Set(format.indexFiles);
  const out: TreeEntry[] = [];
  const foreign: string[] = [];
  for await (const f of walkTree(snapshotDir, (rel) => foreign.push(rel), '', index)) {
    const st = await fsp.lstat(f.abs);
    const blob = inodeMap(inodes, st.dev, st.ino);
    if (!blob) foreign.push(f.rel);
    else out.push({ path: f.rel, sha256: blob.sha256, size: blob.size });
  }
  if (foreign.length) {
    throw new RcuError('INTEGRITY', `${snapshotDir}: ${foreign.length} file(s) are not pool blobs (e.g. ${foreign.slice(0, 3).join(', ')})`);
  }
  return out.sort((a, b) => compareBytewise(a.path, b.path));
}

function inodeMap(m: InodeMap, dev: number, ino: number) {
  return m.get(inodeKey(dev, ino));
}

export async function hashFile(file: string): Promise<BlobHashes> {
  const h256 = createHash('sha256');
  const h1 = createHash('sha1');
  let size = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    h256.update(chunk as Buffer);
    h1.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: h256.digest('hex'), sha1: h1.digest('hex'), size };
}

/** Hashes of a pooled blob: the cache, else computed from the bytes (and cached). */
export async function blobHashes(pool: Pool, sha256: string): Promise<BlobHashes> {
  const cached = await pool.readMeta<BlobHashes>(sha256, HASHES_META);
  if (cached && cached.sha256 === sha256 && typeof cached.sha1 === 'string') return cached;
  const h = await hashFile(pool.blobPath(sha256));
  await pool.writeMeta(sha256, HASHES_META, h);
  return h;
}

/** The format metadata of an entry: cached with the blob, recomputed by the format when missing. */
export function makeMetaLoader(pool: Pool, format: Format): (entry: TreeEntry) => Promise<unknown> {
  return async (entry) => {
    const cached = pool.readMetaSync<unknown>(entry.sha256, format.name);
    if (cached !== undefined) return cached;
    const meta = await format.describe(pool.blobPath(entry.sha256), entry, await blobHashes(pool, entry.sha256));
    await pool.writeMeta(entry.sha256, format.name, meta);
    return meta;
  };
}
