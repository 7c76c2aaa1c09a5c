/**
 * Fragments of the previous build, for groups that missed the cache. Group boundaries are content
 * defined, so a rebuilt group covers the same sort-key range as one (or, where a boundary package came or
 * went, a few) of the previous build's groups: those are found by binary search over their first
 * sort keys, read from the cache once, and a package whose id hash appears in their fragment tables gets
 * those bytes back instead of being rendered from its metadata again. Ids cover everything a fragment is
 * made from, so the result is byte-identical to rendering (the tests compare with from-scratch builds).
 */
import type { BlockCache, BuildRecord, CachedChunk } from './block-cache.js';
import type { ChunkPart } from './chunks.js';
import { compareBytewise } from '../../util/paths.js';

/** Groups kept in memory: the build walks groups in order, so recent donors are the useful ones. */
const KEEP = 32;

type Table = Map<string, Buffer>;

export class Donors {
  private readonly loaded = new Map<number, Promise<Table | undefined>>();

  constructor(
    private readonly cache: BlockCache,
    private readonly previous: BuildRecord,
  ) {}

  /** For each part, its fragment from the previous build, or undefined when it must be rendered. */
  async find(parts: readonly ChunkPart[], hashes: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    if (parts.length === 0) return [];
    const range = this.range(parts[0]!.sortKey, parts[parts.length - 1]!.sortKey);
    if (!range) return [];
    const tables: Table[] = [];
    for (let j = range[0]; j <= range[1]; j++) {
      const t = await this.table(j);
      if (t) tables.push(t);
    }
    return hashes.map((h) => {
      const k = h.toString('latin1');
      for (const t of tables) {
        const f = t.get(k);
        if (f) return f;
      }
      return undefined;
    });
  }

  /** Indices of the previous build's package groups whose sort-key range meets [first, last]. */
  private range(first: string, last: string): [number, number] | undefined {
    const { firsts } = this.previous;
    // Package groups are firsts[1 .. n-2] (head and tail have ''), ascending.
    const lo = 1;
    const hi = firsts.length - 2;
    if (hi < lo) return undefined;
    const lastAtOrBefore = (base: string): number => {
      let a = lo;
      let b = hi;
      let found = lo;
      while (a <= b) {
        const m = (a + b) >> 1;
        if (compareBytewise(firsts[m]!, base) <= 0) {
          found = m;
          a = m + 1;
        } else b = m - 1;
      }
      return found;
    };
    return [lastAtOrBefore(first), lastAtOrBefore(last)];
  }

  private table(j: number): Promise<Table | undefined> {
    let p = this.loaded.get(j);
    if (!p) {
      p = this.cache.get(this.previous.keys[j]!).then((c) => c && tableOf(c));
      this.loaded.set(j, p);
      if (this.loaded.size > KEEP) this.loaded.delete(this.loaded.keys().next().value!);
    }
    return p;
  }
}

function tableOf(c: CachedChunk): Table {
  const t: Table = new Map();
  for (const f of c.fragments) t.set(f.idHash.toString('latin1'), c.xml.subarray(f.offset, f.offset + f.length));
  return t;
}
