/**
 * Source packages in the commands that change a deb tree: a .dsc and the files it lists come and go
 * together. Removing a .dsc removes the files it lists that no remaining .dsc lists (an orig tarball is
 * shared by the revisions of one upstream version); removing a listed file while its .dsc stays is refused.
 */
import path from 'node:path';
import type { Layout } from '../engine/layout.js';
import { Pool } from '../engine/pool.js';
import { makeMetaLoader } from '../engine/snapshot-state.js';
import type { TreeEntry } from '../formats/format.js';
import { getFormat } from '../formats/registry.js';
import { isDscMeta, parseDscPath } from '../formats/deb/index.js';
import { RcuError } from '../util/errors.js';

/** Tree paths of the files each .dsc of `entries` lists (beside it), by .dsc path. */
export async function listedBySources(layout: Layout, entries: readonly TreeEntry[]): Promise<Map<string, string[]>> {
  const loadMeta = makeMetaLoader(new Pool(layout), await getFormat('deb'));
  const out = new Map<string, string[]>();
  for (const e of entries) {
    if (!parseDscPath(e.path)) continue;
    const meta = await loadMeta(e);
    if (!isDscMeta(meta)) continue;
    out.set(e.path, meta.files.map((f) => path.posix.join(path.posix.dirname(e.path), f.name)));
  }
  return out;
}

/** `removes` completed with the files only removed .dsc files list; throws CONFLICT for a listed file whose .dsc stays. */
export async function withSourceFiles(layout: Layout, entries: readonly TreeEntry[], removes: ReadonlySet<string>): Promise<string[]> {
  const listed = await listedBySources(layout, entries);
  if (listed.size === 0) return [...removes];
  const out = new Set(removes);
  const keptListers = new Map<string, string>();
  for (const [dsc, files] of listed) if (!removes.has(dsc)) for (const f of files) keptListers.set(f, dsc);
  const refused: string[] = [];
  for (const r of removes) {
    const by = keptListers.get(r);
    if (by) refused.push(`${r} is part of source package ${by}, which stays: remove the .dsc (its files go with it)`);
  }
  if (refused.length) throw new RcuError('CONFLICT', `${refused.length === 1 ? refused[0] : `${refused.length} files belong to source packages that stay`}; nothing was removed`, { details: refused.length === 1 ? [] : refused });
  const present = new Set(entries.map((e) => e.path));
  for (const [dsc, files] of listed) if (removes.has(dsc)) for (const f of files) if (!keptListers.has(f) && present.has(f)) out.add(f);
  return [...out];
}
