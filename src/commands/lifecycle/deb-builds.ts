/**
 * A package view of a deb repository for the lifecycle commands: per (package, architecture), the
 * newest version by dpkg's order. Versions come from the cached metadata (the file name drops the epoch).
 */
import type { Layout } from '../../engine/layout.js';
import { Pool } from '../../engine/pool.js';
import { makeMetaLoader } from '../../engine/snapshot-state.js';
import type { TreeEntry } from '../../formats/format.js';
import { getFormat } from '../../formats/registry.js';
import { compareVersions, isDebMeta, parseDebPath } from '../../formats/deb/index.js';

export interface DebBuild {
  entry: TreeEntry;
  name: string;
  arch: string;
  version: string;
}

/** Every package of the entries with its full version. */
export async function debBuilds(layout: Layout, entries: readonly TreeEntry[]): Promise<DebBuild[]> {
  const loadMeta = makeMetaLoader(new Pool(layout), await getFormat('deb'));
  const out: DebBuild[] = [];
  for (const e of entries) {
    const p = parseDebPath(e.path);
    if (!p) continue;
    const meta = await loadMeta(e);
    out.push({ entry: e, name: p.package, arch: p.architecture, version: isDebMeta(meta) ? meta.version : p.fileVersion });
  }
  return out;
}

/** The newest build of each (package, architecture). */
export function newestDebs(builds: readonly DebBuild[]): Map<string, DebBuild> {
  const m = new Map<string, DebBuild>();
  for (const b of builds) {
    const k = `${b.name}\0${b.arch}`;
    const cur = m.get(k);
    if (!cur || compareVersions(b.version, cur.version) > 0) m.set(k, b);
  }
  return m;
}
