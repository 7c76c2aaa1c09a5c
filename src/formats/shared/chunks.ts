/**
 * The shape of an index made of chunks, shared by every format whose index is a list of per-package
 * fragments (eopkg-index.xml, Debian Packages): optional fixed head and tail texts around groups of
 * consecutive package fragments. Group boundaries are content defined by the format, so a one-package
 * change alters one group; each chunk's compressed forms are cached under its key (block-cache.ts) and
 * the published files are spliced from them (chunk-writer.ts).
 */

/** One package's place in a group. */
export interface ChunkPart {
  /**
   * Everything the package's fragment is made from. Equal ids give byte-identical fragments, which is
   * what lets a rebuilt group reuse the fragments of the cached group it replaces (donors.ts).
   */
  id: string;
  /** The key the index is sorted by (unique per part): locates donor groups of the previous build. */
  sortKey: string;
}

/**
 * A group taken over unchanged from the previous build by an incremental plan: its parts are not listed
 * (`parts` is empty), only what the build record needs. Its key must be in the cache: a miss on such a
 * group fails the build with StalePlanError, and the caller plans from scratch.
 */
export interface KnownGroup {
  first: string;
  last: string;
  count: number;
}

export type Chunk<P extends ChunkPart = ChunkPart> = { key: string; kind: 'head' | 'tail'; text: string } | { key: string; kind: 'packages'; parts: P[]; known?: KnownGroup };

/** A group of an incremental plan (KnownGroup) missed the cache: plan again from every package. */
export class StalePlanError extends Error {
  constructor(key: string) {
    super(`cached group ${key} of the previous build is gone`);
    this.name = 'StalePlanError';
  }
}

export interface BuildStats {
  chunks: number;
  groups: number;
  packages: number;
  /** Chunks compressed in this build. */
  compressed: number;
  /** Chunks whose compressed forms came from the cache. */
  reused: number;
  /** Cache entries removed. */
  pruned: number;
  /** Packages rendered from their metadata (only in groups that missed the cache). */
  metaLoaded: number;
  /** Packages of missed groups whose fragment was reused from the group they replace. */
  fragmentsReused: number;
  /** Bytes of the uncompressed index and of its xz. */
  xmlBytes: number;
  xzBytes: number;
}

/** FNV-1a of a string: the cheap, stable hash group boundaries are cut by. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
