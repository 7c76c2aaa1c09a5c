/**
 * Build eopkg-index.xml as a list of chunks: a head (XML declaration, <PISI>, <Distribution>), groups of
 * consecutive <Package> fragments, and a tail (Components, Groups, </PISI>). Group boundaries are content
 * defined (a hash of each package's file basename), so adding or removing one package changes only its own
 * group. Concatenating the chunks gives the index; the xz of the index is assembled from one cached block
 * per chunk (see xz-blocks.ts, cache.ts).
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { ParsedAssets } from './assets.js';
import { BlockCache } from './cache.js';
import { compareBytewise } from './compare.js';
import { computedChildren, type DeltaRef } from './fragment.js';
import { parseFileName } from './filename.js';
import type { EopkgMeta } from './package.js';
import { XZ_ARGS, assembleXz, compressBlock, type XzBlock } from './xz-blocks.js';

export const XML_DECL = '<?xml version="1.0" encoding="utf-8"?>\n';
/** A group ends after a package whose basename hash has these low bits all zero: ~128 packages a group. */
export const DEFAULT_GROUP_MASK = 127;

export interface IndexItem {
  /** Tree path (PackageURI); its basename is the file name. */
  path: string;
  size: number;
  meta: EopkgMeta;
}

export interface IndexChunks {
  chunks: string[];
  /** Tree paths of the packages listed, in index order. */
  listed: string[];
  groups: number;
}

export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function isObsolete(name: string, obsolete: ReadonlySet<string>): boolean {
  if (obsolete.has(name)) return true;
  return name.endsWith('-dbginfo') && obsolete.has(name.slice(0, -'-dbginfo'.length));
}

/** Pick the listed packages (tip per name, minus obsoletes) and their deltas; build the chunks. */
export function buildChunks(items: readonly IndexItem[], assets: ParsedAssets, groupMask = DEFAULT_GROUP_MASK): IndexChunks {
  const obsolete = new Set(assets.obsoletes);
  const tips = new Map<string, IndexItem & { base: string }>();
  const deltas = new Map<string, (DeltaRef & { base: string })[]>();
  for (const it of items) {
    const m = it.meta;
    if (isObsolete(m.name, obsolete)) continue;
    const base = path.posix.basename(it.path);
    if (m.isDelta) {
      const fn = parseFileName(base);
      const from = fn?.kind === 'delta' ? Number(fn.fromRelease) : m.fromRelease;
      if (from === undefined || !Number.isFinite(from)) continue;
      const key = `${m.name}\0${m.release}\0${m.distrel}\0${m.arch}`;
      let l = deltas.get(key);
      if (!l) deltas.set(key, (l = []));
      l.push({ releaseFrom: from, uri: it.path, size: it.size, sha1: m.sha1, base });
      continue;
    }
    const cur = tips.get(m.name);
    if (!cur || m.release > cur.meta.release || (m.release === cur.meta.release && compareBytewise(base, cur.base) > 0)) {
      tips.set(m.name, { ...it, base });
    }
  }
  const listed = [...tips.values()].sort((a, b) => compareBytewise(a.base, b.base));
  const chunks: string[] = [XML_DECL + '<PISI>\n' + assets.distribution];
  let cur = '';
  let groups = 0;
  for (const t of listed) {
    const m = t.meta;
    const ds = deltas.get(`${m.name}\0${m.release}\0${m.distrel}\0${m.arch}`) ?? [];
    if (ds.length > 1) ds.sort((a, b) => a.releaseFrom - b.releaseFrom || compareBytewise(a.base, b.base));
    cur += m.head + computedChildren(t.size, m.sha1, t.path, ds) + m.tail;
    if ((fnv1a(t.base) & groupMask) === 0) {
      chunks.push(cur);
      cur = '';
      groups++;
    }
  }
  if (cur !== '') {
    chunks.push(cur);
    groups++;
  }
  chunks.push(assets.components + assets.groups + '</PISI>\n');
  return { chunks, listed: listed.map((t) => t.path), groups };
}

export interface BuildStats {
  chunks: number;
  groups: number;
  packages: number;
  /** Chunks compressed by xz in this build. */
  compressed: number;
  /** Chunks whose block came from the cache. */
  reused: number;
  /** Cache entries removed. */
  pruned: number;
}

export interface BuiltIndex {
  xml: Buffer;
  xz: Buffer;
  listed: string[];
  stats: BuildStats;
}

const KEY_PREFIX = `eopkg-xz-block-v1\0${XZ_ARGS.join(' ')}\0`;

export function chunkKey(chunk: Buffer): string {
  return createHash('sha1').update(KEY_PREFIX).update(chunk).digest('hex');
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Build the index bytes and its xz, reusing cached blocks from `cacheDir` (no cache: compress everything). */
export async function buildIndex(items: readonly IndexItem[], assets: ParsedAssets, opts: { cacheDir?: string; groupMask?: number } = {}): Promise<BuiltIndex> {
  const { chunks, listed, groups } = buildChunks(items, assets, opts.groupMask);
  const bufs = chunks.filter((c) => c !== '').map((c) => Buffer.from(c, 'utf8'));
  const cache = opts.cacheDir ? new BlockCache(opts.cacheDir) : undefined;
  const keys = bufs.map(chunkKey);
  let compressed = 0;
  let reused = 0;
  const fresh = new Map<string, Promise<XzBlock>>();
  const blocks = await mapLimit(bufs, Math.max(1, Math.min(4, os.availableParallelism?.() ?? os.cpus().length)), async (buf, i) => {
    const key = keys[i]!;
    const hit = cache ? await cache.get(key) : undefined;
    if (hit && hit.uncompressedSize === buf.length) {
      reused++;
      return hit;
    }
    let p = fresh.get(key);
    if (!p) {
      compressed++;
      p = compressBlock(buf).then(async (b) => {
        if (cache) await cache.put(key, b);
        return b;
      });
      fresh.set(key, p);
    }
    return p;
  });
  const pruned = cache ? await cache.prune(keys) : 0;
  return {
    xml: Buffer.concat(bufs),
    xz: assembleXz(blocks),
    listed,
    stats: { chunks: bufs.length, groups, packages: listed.length, compressed, reused, pruned },
  };
}
