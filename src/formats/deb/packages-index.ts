/**
 * Packages indexes from cached stanzas. Which packages an index lists (component, architecture or
 * `all`) and how they are grouped is decided from tree paths alone; a group's cache key is the (path,
 * sha256, size) of its packages, so a one-package change recompresses one group per variant (.xz block,
 * .gz member). Packages are listed in path order (bytewise): deterministic, and equal to a from-scratch
 * build.
 */
import { createHash } from 'node:crypto';
import type { TreeEntry } from '../format.js';
import { fnv1a, type Chunk, type ChunkPart } from '../shared/chunks.js';
import { xzArgs } from '../shared/xz-blocks.js';
import { oncePerEntries } from '../shared/once-per-entries.js';
import { RcuError } from '../../util/errors.js';
import { compareBytewise } from '../../util/paths.js';
import { isDebMeta, META_VERSION, parseDebPath, type DebMeta, type DebPath } from './package.js';

/** A group ends after a package whose path hash has these low bits all zero: ~64 packages a group. */
export const DEFAULT_GROUP_MASK = 63;
/** Bump when a stanza's rendering changes: cached groups of older versions are never used. */
const CHUNK_VERSION = `deb-packages-v1/meta-v${META_VERSION}`;

export interface DebPart extends ChunkPart {
  entry: TreeEntry;
}

export interface PackageRef {
  entry: TreeEntry;
  p: DebPath;
}

/** Package files of the tree by component, each list in path order. Refuses one package file name in two places. */
export const packagesByComponent = oncePerEntries(groupByComponent);

function groupByComponent(entries: readonly TreeEntry[]): Map<string, PackageRef[]> {
  const out = new Map<string, PackageRef[]>();
  const byName = new Map<string, TreeEntry>();
  for (const e of entries) {
    const p = parseDebPath(e.path);
    if (!p) continue;
    const name = e.path.slice(e.path.lastIndexOf('/') + 1);
    const other = byName.get(name);
    if (other) {
      throw new RcuError('CONFLICT', `${p.package} ${p.fileVersion} ${p.architecture} would be published twice: ${other.path} (sha256 ${other.sha256}) and ${e.path} (sha256 ${e.sha256}); remove one`);
    }
    byName.set(name, e);
    let l = out.get(p.component);
    if (!l) out.set(p.component, (l = []));
    l.push({ entry: e, p });
  }
  // Tree entries usually arrive in path order already (manifests are written sorted): check before sorting.
  for (const l of out.values()) if (!isSorted(l)) l.sort((a, b) => compareBytewise(a.entry.path, b.entry.path));
  return out;
}

function isSorted(refs: readonly PackageRef[]): boolean {
  for (let i = 1; i < refs.length; i++) if (compareBytewise(refs[i - 1]!.entry.path, refs[i]!.entry.path) > 0) return false;
  return true;
}

/** The packages of one binary index: its architecture's and `all`. */
export function selectArch(refs: readonly PackageRef[] | undefined, arch: string): PackageRef[] {
  return (refs ?? []).filter((r) => r.p.architecture === arch || r.p.architecture === 'all');
}

export interface PlanOptions {
  preset: number;
  gz: boolean;
  groupMask?: number;
}

/** What every group key of an index starts with: its serialisation version and compression settings. */
export function keyPrefix(version: string, preset: number, gz: boolean): string {
  return `${version}\0${xzArgs(preset).join(' ')}\0${gz ? 'gz9' : 'nogz'}\0`;
}

/** What a group's key is made from besides its packages: a plan made with other options shares no key. */
export function planIdOf(opts: PlanOptions): string {
  return `${keyPrefix(CHUNK_VERSION, opts.preset, opts.gz)}${opts.groupMask ?? DEFAULT_GROUP_MASK}`;
}

/** Cut an index's packages into content-defined groups keyed by what they are made of. */
export function planPackages(refs: readonly PackageRef[], opts: PlanOptions): { chunks: Chunk<DebPart>[]; groups: number } {
  const { chunks } = cutGroups(refs, keyPrefix(CHUNK_VERSION, opts.preset, opts.gz), opts.groupMask);
  return { chunks, groups: chunks.length };
}

/**
 * Groups of consecutive index entries (Packages' or Sources'), each keyed by `prefix` and its entries'
 * ids, and whether the last one is open (does not end on a boundary).
 */
export function cutGroups(refs: readonly { entry: TreeEntry }[], prefix: string, groupMask = DEFAULT_GROUP_MASK): { chunks: Chunk<DebPart>[]; open: boolean } {
  const mask = groupMask;
  const chunks: Chunk<DebPart>[] = [];
  let parts: DebPart[] = [];
  let keyText = prefix;
  for (const r of refs) {
    const id = `${r.entry.path}\0${r.entry.sha256}\0${r.entry.size}`;
    parts.push({ id, sortKey: r.entry.path, entry: r.entry });
    keyText += id + '\n';
    if ((fnv1a(r.entry.path) & mask) === 0) {
      chunks.push({ kind: 'packages', key: createHash('sha1').update(keyText).digest('hex'), parts });
      parts = [];
      keyText = prefix;
    }
  }
  const open = parts.length > 0;
  if (open) chunks.push({ kind: 'packages', key: createHash('sha1').update(keyText).digest('hex'), parts });
  return { chunks, open };
}

/** The previous build of an index, as its block cache records it (BuildRecord with every field). */
export interface PreviousGroups {
  keys: readonly string[];
  firsts: readonly string[];
  lasts: readonly string[];
  counts: readonly number[];
}

/**
 * The plan planPackages would make, from the previous build's groups and the paths changed since (added,
 * replaced or removed), instead of from every package: the caller has proved that the previous build is
 * the parent generation's index, made with the same options. Groups are runs of packages cut after each
 * boundary package, so a group without a changed path is the same group with the same key: it is taken
 * over as it was (KnownGroup). The packages between the groups before and after a run of changed groups
 * are cut again; a run whose last group comes out open (its boundary package was removed) takes in the
 * next group too. At 10,000 packages a one-package publish thus parses a few dozen paths, not 10,000.
 *
 * `entries` is the new tree, sorted by path (IndexContext's contract); `belongs` says whether a parsed
 * path is listed in this index. Undefined when the entries of a range are found out of order: plan from
 * scratch.
 */
export function planPackagesFrom(prev: PreviousGroups, entries: readonly TreeEntry[], changed: readonly string[], belongs: (p: DebPath) => boolean, opts: PlanOptions): { chunks: Chunk<DebPart>[]; groups: number } | undefined {
  const k = prev.keys.length;
  if (k === 0) return undefined;
  const hit = new Set<number>();
  for (const c of changed) {
    const p = parseDebPath(c);
    if (p && belongs(p)) hit.add(groupAt(prev.lasts, c));
  }
  const runs = [...hit].sort((a, b) => a - b);
  const chunks: Chunk<DebPart>[] = [];
  let g = 0;
  let next = 0;
  while (g < k) {
    if (runs[next] !== g) {
      chunks.push({ kind: 'packages', key: prev.keys[g]!, parts: [], known: { first: prev.firsts[g]!, last: prev.lasts[g]!, count: prev.counts[g]! } });
      g++;
      continue;
    }
    let b = g;
    for (;;) {
      while (next < runs.length && runs[next]! <= b + 1 && runs[next]! >= g) b = Math.max(b, runs[next++]!);
      const refs = refsBetween(entries, g > 0 ? prev.lasts[g - 1] : undefined, b + 1 < k ? prev.firsts[b + 1] : undefined, belongs);
      if (!refs) return undefined;
      const cut = cutGroups(refs, keyPrefix(CHUNK_VERSION, opts.preset, opts.gz), opts.groupMask);
      if (cut.open && b + 1 < k) {
        b++; // its boundary package is gone: the rest of the run continues into the next group
        continue;
      }
      chunks.push(...cut.chunks);
      break;
    }
    g = b + 1;
  }
  return { chunks, groups: chunks.length };
}

/** The group a path falls in: the first whose last package is not before it, else the last group. */
function groupAt(lasts: readonly string[], p: string): number {
  let lo = 0;
  let hi = lasts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareBytewise(lasts[mid]!, p) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** This index's packages strictly between two paths (either end open), in order; undefined if out of order. */
function refsBetween(entries: readonly TreeEntry[], after: string | undefined, before: string | undefined, belongs: (p: DebPath) => boolean): PackageRef[] | undefined {
  let lo = 0;
  let hi = entries.length;
  if (after !== undefined) {
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareBytewise(entries[mid]!.path, after) <= 0) lo = mid + 1;
      else hi = mid;
    }
  }
  const out: PackageRef[] = [];
  for (let i = lo; i < entries.length; i++) {
    const e = entries[i]!;
    if (before !== undefined && compareBytewise(e.path, before) >= 0) break;
    if (i > lo && compareBytewise(entries[i - 1]!.path, e.path) >= 0) return undefined;
    const p = parseDebPath(e.path);
    if (p && belongs(p)) out.push({ entry: e, p });
  }
  return out;
}

/** One Packages stanza (with the empty line that ends it). */
export function renderStanza(meta: DebMeta, entry: TreeEntry): string {
  return `${meta.head}Filename: ${entry.path}\nSize: ${entry.size}\nMD5sum: ${meta.md5}\nSHA1: ${meta.sha1}\nSHA256: ${meta.sha256}\n\n`;
}

export async function stanzaOf(entry: TreeEntry, loadMeta: (e: TreeEntry) => Promise<unknown>): Promise<string> {
  const meta = await loadMeta(entry);
  if (!isDebMeta(meta)) throw new RcuError('FAILURE', `${entry.path}: cached deb metadata is missing or from another version (rebuild it with 'verify --repair')`);
  if (meta.sha256 !== entry.sha256) throw new RcuError('FAILURE', `${entry.path}: cached deb metadata belongs to other bytes`);
  return renderStanza(meta, entry);
}

/** The whole Packages text without any cache (what full verification compares with). */
export async function renderPackages(refs: readonly PackageRef[], loadMeta: (e: TreeEntry) => Promise<unknown>): Promise<Buffer> {
  const out: string[] = [];
  for (const r of refs) out.push(await stanzaOf(r.entry, loadMeta));
  return Buffer.from(out.join(''), 'utf8');
}
