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

/** One chunk of the index: a cache key derived from its inputs, and how to render its text. */
export interface Chunk {
  key: string;
  render: () => string;
}

export interface IndexChunks {
  chunks: Chunk[];
  /** Tree paths of the packages listed, in index order. */
  listed: string[];
  groups: number;
}

/** Bump when the serialisation of chunks changes: cached blocks of older versions are then never used. */
const CHUNK_VERSION = 'eopkg-chunk-v1';
const KEY_PREFIX = `${CHUNK_VERSION}\0${XZ_ARGS.join(' ')}\0`;

function textChunk(kind: string, text: string): Chunk {
  return { key: createHash('sha1').update(`${KEY_PREFIX}${kind}\0`).update(text).digest('hex'), render: () => text };
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
  const chunks: Chunk[] = [textChunk('head', XML_DECL + '<PISI>\n' + assets.distribution)];
  type Part = { t: IndexItem; ds: DeltaRef[] };
  let parts: Part[] = [];
  let hash = createHash('sha1').update(`${KEY_PREFIX}packages\0`);
  const close = (): void => {
    const group = parts;
    chunks.push({ key: hash.digest('hex'), render: () => group.map(({ t, ds }) => t.meta.head + computedChildren(t.size, t.meta.sha1, t.path, ds) + t.meta.tail).join('') });
    parts = [];
    hash = createHash('sha1').update(`${KEY_PREFIX}packages\0`);
  };
  for (const t of listed) {
    const m = t.meta;
    const ds = deltas.get(`${m.name}\0${m.release}\0${m.distrel}\0${m.arch}`) ?? [];
    if (ds.length > 1) ds.sort((a, b) => a.releaseFrom - b.releaseFrom || compareBytewise(a.base, b.base));
    let id = `${m.fragHash}\0${t.path}\0${t.size}\0${m.sha1}`;
    for (const d of ds) id += `\0${d.releaseFrom}\0${d.uri}\0${d.size}\0${d.sha1}`;
    hash.update(id + '\n');
    parts.push({ t, ds });
    if ((fnv1a(t.base) & groupMask) === 0) close();
  }
  if (parts.length > 0) close();
  chunks.push(textChunk('tail', assets.components + assets.groups + '</PISI>\n'));
  return { chunks, listed: listed.map((t) => t.path), groups: chunks.length - 2 };
}

/** The whole index text (no cache): what verification compares against. */
export function renderIndex(items: readonly IndexItem[], assets: ParsedAssets, groupMask = DEFAULT_GROUP_MASK): Buffer {
  return Buffer.from(buildChunks(items, assets, groupMask).chunks.map((c) => c.render()).join(''), 'utf8');
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
  /** The index, as the chunks in order (concatenate them for the file). */
  xml: Buffer[];
  xz: Buffer;
  listed: string[];
  stats: BuildStats;
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

/** Build the index (as buffers in order) and its xz, reusing cached chunks from `cacheDir` (no cache: compress everything). */
export async function buildIndex(items: readonly IndexItem[], assets: ParsedAssets, opts: { cacheDir?: string; groupMask?: number } = {}): Promise<BuiltIndex> {
  const { chunks, listed, groups } = buildChunks(items, assets, opts.groupMask);
  const cache = opts.cacheDir ? new BlockCache(opts.cacheDir) : undefined;
  let compressed = 0;
  let reused = 0;
  const fresh = new Map<string, Promise<{ xml: Buffer; block: XzBlock }>>();
  const done = await mapLimit(chunks, Math.max(1, Math.min(4, os.availableParallelism?.() ?? os.cpus().length)), async (chunk) => {
    const hit = cache ? await cache.get(chunk.key) : undefined;
    if (hit) {
      reused++;
      return hit;
    }
    let p = fresh.get(chunk.key);
    if (!p) {
      compressed++;
      const xml = Buffer.from(chunk.render(), 'utf8');
      p = compressBlock(xml).then(async (block) => {
        if (cache) await cache.put(chunk.key, xml, block);
        return { xml, block };
      });
      fresh.set(chunk.key, p);
    }
    return p;
  });
  const pruned = cache ? await cache.prune(chunks.map((c) => c.key)) : 0;
  return {
    xml: done.map((d) => d.xml),
    xz: assembleXz(done.map((d) => d.block)),
    listed,
    stats: { chunks: chunks.length, groups, packages: listed.length, compressed, reused, pruned },
  };
}
