/**
 * A grouping of a tree's entries computed once per entries array: the index build and the verification
 * of one publish are handed the same array, and each would otherwise group its 10,000+ paths again.
 * Keyed weakly by the array, so nothing outlives the publish that made it.
 */
import type { TreeEntry } from '../format.js';

export function oncePerEntries<T>(compute: (entries: readonly TreeEntry[]) => T): (entries: readonly TreeEntry[]) => T {
  const cache = new WeakMap<readonly TreeEntry[], T>();
  return (entries) => {
    let v = cache.get(entries);
    if (v === undefined) cache.set(entries, (v = compute(entries)));
    return v;
  };
}
