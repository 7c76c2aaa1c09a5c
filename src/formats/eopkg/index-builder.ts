/**
 * Build eopkg-index.xml as a list of chunks: a head (XML declaration, <PISI>, <Distribution>), groups of
 * consecutive <Package> fragments, and a tail (Components, Groups, </PISI>). Group boundaries are content
 * defined (a hash of each package's file basename), so adding or removing one package changes only its own
 * group. Concatenating the chunks gives the index; the xz of the index is assembled from one cached block
 * per chunk (see xz-blocks.ts, cache.ts).
 *
 * Scaling: WHICH packages are listed and how they are grouped is decided from the tree paths alone (the
 * file name carries NAME, VERSION, RELEASE, DISTREL, ARCH, and FROM/TO for deltas; place() guarantees it
 * agrees with metadata.xml) and the assets (obsoletes). A group's cache key is made of cheap per-entry
 * facts: (path, sha256, size) of each listed package and of its deltas; the content behind a sha256 never
 * changes. Package metadata is loaded only to render groups whose key misses the cache.
 */
import { newerBuild } from './tips.js';
import { createHash } from 'node:crypto';
import type { TreeEntry } from '../format.js';
import { RcuError } from '../../util/errors.js';
import type { ParsedAssets } from './assets.js';
import { compareBytewise } from './compare.js';
import { computedChildren, type DeltaRef } from './fragment.js';
import { parseFileName } from './filename.js';
import { META_VERSION, isEopkgMeta, type EopkgMeta } from './package.js';
import { DEFAULT_XZ_PRESET, xzArgs } from '../shared/xz-blocks.js';
import { fnv1a, type BuildStats, type Chunk as SharedChunk, type ChunkPart } from '../shared/chunks.js';

export { fnv1a, type BuildStats };

export const XML_DECL = '<?xml version="1.0" encoding="utf-8"?>\n';
/** A group ends after a package whose basename hash has these low bits all zero: ~128 packages a group. */
export const DEFAULT_GROUP_MASK = 127;

/**
 * Bump when the serialisation of chunks (fragment.ts, the metadata cache's head/tail, this file) changes:
 * cached blocks of older versions are then never used.
 */
const CHUNK_VERSION = `eopkg-chunk-v3/meta-v${META_VERSION}`;

export type MetaLoader = (entry: TreeEntry) => Promise<unknown>;

/** A package file of the tree, as its path tells it. */
export interface PkgRef {
  entry: TreeEntry;
  base: string;
  name: string;
  release: number;
  distrel: string;
  arch: string;
}

export interface DeltaEntry {
  entry: TreeEntry;
  base: string;
  releaseFrom: number;
}

export interface GroupPart extends ChunkPart {
  t: PkgRef;
  ds: DeltaEntry[];
  /**
   * Everything the package's fragment is made from: (path, sha256, size) of the package and of each delta
   * (the content behind a sha256 never changes). Equal ids give byte-identical fragments, which is what
   * lets a rebuilt group reuse the fragments of the cached group it replaces (see writer.ts).
   */
  readonly id: string;
}

function partId(t: PkgRef, ds: readonly DeltaEntry[]): string {
  let id = `${t.entry.path}\0${t.entry.sha256}\0${t.entry.size}`;
  for (const d of ds) id += `\0${d.releaseFrom}\0${d.entry.path}\0${d.entry.sha256}\0${d.entry.size}`;
  return id;
}

/**
 * A part whose id is rebuilt when asked (only the parts of groups that missed the cache are asked), not
 * kept: at 50,000 packages the kept ids were ~8 MB of the index step's heap for every publish.
 */
class Part implements GroupPart {
  constructor(
    readonly t: PkgRef,
    readonly ds: DeltaEntry[],
    readonly sortKey: string,
  ) {}
  get id(): string {
    return partId(this.t, this.ds);
  }
}

/** One chunk of the index: a cache key derived from its inputs, and what it is made of. */
export type Chunk = SharedChunk<GroupPart>;

export interface IndexChunks {
  chunks: Chunk[];
  /** Tree paths of the packages listed, in index order. */
  listed: string[];
  groups: number;
}

/** What every cached block depends on besides its text: serialisation version and the xz settings. */
function keyPrefix(preset: number): string {
  return `${CHUNK_VERSION}\0${xzArgs(preset).join(' ')}\0`;
}

function textChunk(prefix: string, kind: 'head' | 'tail', text: string): Chunk {
  return { kind, text, key: createHash('sha1').update(`${prefix}${kind}\0`).update(text).digest('hex') };
}

function isObsolete(name: string, obsolete: ReadonlySet<string>): boolean {
  if (obsolete.has(name)) return true;
  return name.endsWith('-dbginfo') && obsolete.has(name.slice(0, -'-dbginfo'.length));
}

export function isPackagePath(p: string): boolean {
  return p.endsWith('.eopkg');
}

const RELEASE_RE = /^[1-9][0-9]{0,8}$/;

function badPath(p: string, why: string): RcuError {
  return new RcuError('FAILURE', `${p}: ${why} (every package path comes from place(); run 'rcurepo verify')`);
}

/**
 * Pick the listed packages (tip per name, minus obsoletes) and their deltas from the entries' paths, and
 * cut them into chunks. No metadata is read.
 */
export function planChunks(entries: readonly TreeEntry[], assets: ParsedAssets, opts: { groupMask?: number; preset?: number } = {}): IndexChunks {
  const groupMask = opts.groupMask ?? DEFAULT_GROUP_MASK;
  const prefix = keyPrefix(opts.preset ?? DEFAULT_XZ_PRESET);
  const obsolete = new Set(assets.obsoletes);
  const tips = new Map<string, PkgRef>();
  const deltas = new Map<string, DeltaEntry[]>();
  for (const e of entries) {
    if (!isPackagePath(e.path)) continue;
    // A slice, not path.posix.basename: this runs for every package of every publish.
    const base = e.path.slice(e.path.lastIndexOf('/') + 1);
    const fn = parseFileName(base);
    if (!fn) throw badPath(e.path, 'not an eopkg package file name');
    if (isObsolete(fn.name, obsolete)) continue;
    if (fn.kind === 'delta') {
      if (!RELEASE_RE.test(fn.fromRelease) || !RELEASE_RE.test(fn.toRelease)) throw badPath(e.path, 'delta releases are not numbers');
      const key = `${fn.name}\0${Number(fn.toRelease)}\0${fn.distrel}\0${fn.arch}`;
      let l = deltas.get(key);
      if (!l) deltas.set(key, (l = []));
      l.push({ entry: e, base, releaseFrom: Number(fn.fromRelease) });
      continue;
    }
    if (!RELEASE_RE.test(fn.release)) throw badPath(e.path, 'release is not a number');
    const release = Number(fn.release);
    const cur = tips.get(fn.name);
    if (!cur || newerBuild({ release, path: e.path }, { release: cur.release, path: cur.entry.path })) {
      tips.set(fn.name, { entry: e, base, name: fn.name, release, distrel: fn.distrel, arch: fn.arch });
    }
  }
  const listed = [...tips.values()].sort((a, b) => compareBytewise(a.base, b.base));
  const chunks: Chunk[] = [textChunk(prefix, 'head', XML_DECL + '<PISI>\n' + assets.distribution)];
  let parts: GroupPart[] = [];
  // One hash update per group, not per package: 50,000 small updates cost more than the hashing.
  let keyText = `${prefix}packages\0`;
  const close = (): void => {
    chunks.push({ kind: 'packages', key: createHash('sha1').update(keyText).digest('hex'), parts });
    parts = [];
    keyText = `${prefix}packages\0`;
  };
  for (const t of listed) {
    const ds = deltas.get(`${t.name}\0${t.release}\0${t.distrel}\0${t.arch}`) ?? [];
    if (ds.length > 1) ds.sort((a, b) => a.releaseFrom - b.releaseFrom || compareBytewise(a.base, b.base));
    keyText += partId(t, ds) + '\n';
    parts.push(new Part(t, ds, t.base));
    if ((fnv1a(t.base) & groupMask) === 0) close();
  }
  if (parts.length > 0) close();
  chunks.push(textChunk(prefix, 'tail', assets.components + assets.groups + '</PISI>\n'));
  return { chunks, listed: listed.map((t) => t.entry.path), groups: chunks.length - 2 };
}

async function metaOf(entry: TreeEntry, loadMeta: MetaLoader): Promise<EopkgMeta> {
  const meta = await loadMeta(entry);
  if (!isEopkgMeta(meta)) throw new RcuError('FAILURE', `${entry.path}: cached eopkg metadata is missing or from another version (rebuild the metadata cache)`);
  return meta;
}

/** The fragment of one listed package (with its deltas), from cached metadata. */
export async function renderPart({ t, ds }: GroupPart, loadMeta: MetaLoader): Promise<string> {
  const [m, ...dm] = await Promise.all([metaOf(t.entry, loadMeta), ...ds.map((d) => metaOf(d.entry, loadMeta))]);
  const refs: DeltaRef[] = ds.map((d, i) => ({ releaseFrom: d.releaseFrom, uri: d.entry.path, size: d.entry.size, sha1: dm[i]!.sha1 }));
  return m!.head + computedChildren(t.entry.size, m!.sha1, t.entry.path, refs) + m!.tail;
}

/** Render one chunk's text; for a package group this loads the metadata of its packages and deltas. */
export async function renderChunk(chunk: Chunk, loadMeta: MetaLoader): Promise<string> {
  if (chunk.kind !== 'packages') return chunk.text;
  return (await Promise.all(chunk.parts.map((p) => renderPart(p, loadMeta)))).join('');
}

/** The whole index text without any cache: what full verification compares against. */
export async function renderIndex(entries: readonly TreeEntry[], assets: ParsedAssets, loadMeta: MetaLoader, groupMask = DEFAULT_GROUP_MASK): Promise<Buffer> {
  const { chunks } = planChunks(entries, assets, { groupMask });
  const out: Buffer[] = [];
  for (const c of chunks) out.push(Buffer.from(await renderChunk(c, loadMeta), 'utf8'));
  return Buffer.concat(out);
}
