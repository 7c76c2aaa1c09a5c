/**
 * How reading commands show a deb repository: packages as name, version, architecture, component and
 * the distributions that list them, instead of pool paths; a source package (its .dsc) has arch 'source'
 * (the files it lists are not rows of their own).
 */
import { Pool } from '../engine/pool.js';
import type { Layout } from '../engine/layout.js';
import { makeMetaLoader } from '../engine/snapshot-state.js';
import type { TreeEntry } from '../formats/format.js';
import { getFormat } from '../formats/registry.js';
import { debSettings, isDebMeta, isDscMeta, parseDebPath, parseDscPath } from '../formats/deb/index.js';

export interface DebPackageRow {
  name: string;
  version: string;
  arch: string;
  component: string;
  /** Codenames of the distributions whose indexes list the package. */
  dists: string[];
  size: number;
  path: string;
  sha256: string;
}

/** A short Debian label of a tree path: `name version arch (component)`, or the path itself. */
export function debLabel(p: string): string {
  const d = parseDebPath(p);
  const s = d ? undefined : parseDscPath(p);
  return d ? `${d.package} ${d.fileVersion} ${d.architecture} (${d.component})` : s ? `${s.source} ${s.fileVersion} source (${s.component})` : p;
}

/** Package rows of a generation's entries; versions (with epochs) come from the cached metadata. */
export async function debRows(layout: Layout, settings: Record<string, unknown>, entries: readonly TreeEntry[]): Promise<DebPackageRow[]> {
  const loadMeta = makeMetaLoader(new Pool(layout), await getFormat('deb'));
  let dists: { codename: string; components: string[]; architectures: string[] }[] = [];
  try {
    dists = debSettings(settings).dists;
  } catch {
    /* settings damaged: show packages without distributions */
  }
  const rows: DebPackageRow[] = [];
  for (const e of entries) {
    const s = parseDscPath(e.path);
    if (s) {
      // A source package: arch 'source', listed by every distribution with its component.
      const meta = await loadMeta(e);
      const version = isDscMeta(meta) ? meta.version : s.fileVersion;
      rows.push({ name: s.source, version, arch: 'source', component: s.component, dists: dists.filter((x) => x.components.includes(s.component)).map((x) => x.codename), size: e.size, path: e.path, sha256: e.sha256 });
      continue;
    }
    const d = parseDebPath(e.path);
    if (!d) continue;
    const meta = await loadMeta(e);
    const version = isDebMeta(meta) ? meta.version : d.fileVersion;
    const inDists = dists.filter((x) => x.components.includes(d.component) && (d.architecture === 'all' || x.architectures.includes(d.architecture))).map((x) => x.codename);
    rows.push({ name: d.package, version, arch: d.architecture, component: d.component, dists: inDists, size: e.size, path: e.path, sha256: e.sha256 });
  }
  return rows;
}
