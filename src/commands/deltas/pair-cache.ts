/**
 * The pool-level cache of delta decisions, keyed by the (old blob, new blob) pair: which delta blob the
 * pair gave, or that it was judged not worth a delta (every file changed). Any repository and any later
 * generation needing the same pair reads it instead of computing again. It is pool metadata of the NEW
 * blob (`pool/meta/<aa>/<new sha256>.delta-from-<old sha256>.json`), so the sweep drops it with that
 * blob; a record naming a delta blob that has since been swept is a miss.
 */
import type { Pool } from '../../engine/pool.js';

export const PAIR_CACHE_VERSION = 1;

export type PairRecord =
  | { v: typeof PAIR_CACHE_VERSION; outcome: 'delta'; basename: string; sha256: string; sha1: string; size: number; carried: number; total: number }
  | { v: typeof PAIR_CACHE_VERSION; outcome: 'pointless'; total: number };

export function pairKind(oldSha256: string): string {
  return `delta-from-${oldSha256}`;
}

export function readPair(pool: Pool, oldSha256: string, newSha256: string): PairRecord | undefined {
  const r = pool.readMetaSync<PairRecord>(newSha256, pairKind(oldSha256));
  return r && r.v === PAIR_CACHE_VERSION && (r.outcome === 'delta' || r.outcome === 'pointless') ? r : undefined;
}

export async function writePair(pool: Pool, oldSha256: string, newSha256: string, rec: PairRecord): Promise<void> {
  await pool.writeMeta(newSha256, pairKind(oldSha256), rec);
}
