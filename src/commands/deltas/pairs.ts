/**
 * Which deltas a repository's tips need: for each tip (highest release of a name), the newest N older
 * builds of the same name, distribution release and architecture, each giving the delta
 * `NAME-FROM-TO-DISTREL-ARCH.delta.eopkg` in the tip's folder. Pairs whose delta is already in the tree
 * (made here or imported) are "present".
 */
import path from 'node:path';
import type { TreeEntry } from '../../formats/format.js';
import { DELTA_SUFFIX } from '../../formats/eopkg/filename.js';
import { RcuError } from '../../util/errors.js';
import { eopkgBuilds, tips, type PackageBuild } from '../lifecycle/packages.js';

export interface DeltaPair {
  name: string;
  old: PackageBuild;
  tip: PackageBuild;
  /** Tree path of the delta (the tip's folder). */
  path: string;
  present: boolean;
}

export function deltaBasename(name: string, fromRelease: number, tip: Pick<PackageBuild, 'release' | 'distrel' | 'arch'>): string {
  return `${name}-${fromRelease}-${tip.release}-${tip.distrel}-${tip.arch}${DELTA_SUFFIX}`;
}

export function planPairs(entries: readonly TreeEntry[], opts: { names?: readonly string[]; from: number; repo: string }): DeltaPair[] {
  const builds = eopkgBuilds(entries);
  const tipOf = tips(builds);
  const byPath = new Set(entries.map((e) => e.path));
  const older = new Map<string, PackageBuild[]>();
  for (const b of builds) {
    if (b.delta) continue;
    const t = tipOf.get(b.name)!;
    if (b.release >= t.release || b.distrel !== t.distrel || b.arch !== t.arch) continue;
    (older.get(b.name) ?? older.set(b.name, []).get(b.name)!).push(b);
  }
  let names = [...tipOf.keys()].sort();
  if (opts.names?.length) {
    const unknown = opts.names.filter((n) => !tipOf.has(n));
    if (unknown.length) throw new RcuError('NOT_FOUND', `no package named ${unknown.map((n) => `'${n}'`).join(', ')} in '${opts.repo}'`);
    names = [...new Set(opts.names)];
  }
  const out: DeltaPair[] = [];
  for (const name of names) {
    const tip = tipOf.get(name)!;
    const olds = (older.get(name) ?? []).sort((a, b) => b.release - a.release).slice(0, opts.from);
    for (const old of olds) {
      const p = path.posix.join(path.posix.dirname(tip.entry.path), deltaBasename(name, old.release, tip));
      out.push({ name, old, tip, path: p, present: byPath.has(p) });
    }
  }
  return out;
}
