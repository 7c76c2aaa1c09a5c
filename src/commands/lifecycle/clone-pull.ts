/**
 * `clone SRC NEW [--full]` and `pull SRC DST`. Both only link pool blobs: no package data is copied.
 * - clone: a new repository with SRC's tip builds (eopkg; `--full`: every build and delta) or all files.
 * - pull, eopkg: for every name of SRC that DST lacks, or whose SRC tip has a higher release, DST gets
 *   SRC's tip (and the deltas into it); nothing is removed; a DST tip newer than SRC's is reported.
 * - clone, deb: the source's distributions, and the newest version of each (package, arch) (`--full`: all).
 * - pull, deb: each (package, arch) whose newest version in SRC is newer, by dpkg's order, than DST's
 *   newest (or absent there) gets SRC's newest; nothing is removed; a newer DST version is reported.
 * - pull, files: files DST lacks are added; a path whose bytes differ is taken from SRC when SRC's blob
 *   entered the pool later than DST's (blobs are immutable, so their mtime is when the content arrived).
 */
import fs from 'node:fs';
import type { TreeEntry } from '../../formats/format.js';
import { createRepo, deleteRepo } from '../repos.js';
import { readRepoConfig } from '../../engine/repo.js';
import { Pool } from '../../engine/pool.js';
import { ASSET_FILE } from '../../formats/eopkg/index.js';
import { baseOf, linkAdds, publishInto, readSource, sameFormat } from './common.js';
import type { LifecycleResult, WriteOptions } from './common.js';
import { deltaIndex, eopkgBuilds, tips } from './packages.js';
import { debBuilds, newestDebs } from './deb-builds.js';
import { compareVersions } from '../../formats/deb/index.js';

const ASSET_PATHS = new Set(Object.values(ASSET_FILE));

export async function cloneRepo(opts: WriteOptions & { source: string; target: string; full?: boolean }): Promise<LifecycleResult> {
  const layout = await baseOf(opts);
  const src = await readSource(layout, opts.source);
  let chosen: TreeEntry[];
  if (src.config.format === 'eopkg' && !opts.full) {
    const builds = eopkgBuilds(src.entries);
    const keep = new Set<string>();
    for (const t of tips(builds).values()) keep.add(t.entry.path);
    chosen = src.entries.filter((e) => keep.has(e.path) || ASSET_PATHS.has(e.path));
  } else if (src.config.format === 'deb' && !opts.full) {
    const keep = new Set([...newestDebs(await debBuilds(layout, src.entries)).values()].map((b) => b.entry.path));
    chosen = src.entries.filter((e) => keep.has(e.path));
  } else chosen = src.entries;
  // A deb clone takes the source's distributions (components, architectures, Release fields).
  const settings = src.config.format === 'deb' ? { deb: src.config.settings.deb } : undefined;
  const created = await createRepo({ base: opts.base, name: opts.target, format: src.config.format, settings, dryRun: opts.dryRun });
  if (opts.dryRun) {
    return { repo: opts.target, published: false, dryRun: true, parent: 0, generation: 0, added: chosen.map((e) => e.path), removed: [], replaced: [], warnings: [], source: { repo: src.name, generation: src.generation }, notes: [`would create '${created.repo}' (${created.format})`] };
  }
  try {
    const r = await publishInto(layout, opts.target, 'clone', [opts.source, opts.target, ...(opts.full ? ['--full'] : [])], opts, async () => ({ adds: linkAdds(chosen), removes: [] }));
    return { ...r, source: { repo: src.name, generation: src.generation }, notes: [] };
  } catch (e) {
    // The new repository exists only for this clone: do not leave it half made.
    await deleteRepo({ base: opts.base, name: opts.target, force: true }).catch(() => undefined);
    throw e;
  }
}

export async function pullRepo(opts: WriteOptions & { source: string; target: string }): Promise<LifecycleResult> {
  const layout = await baseOf(opts);
  const src = await readSource(layout, opts.source);
  sameFormat(src, await readRepoConfig(layout.repo(opts.target)), opts.target);
  const notes: string[] = [];
  const r = await publishInto(layout, opts.target, 'pull', [opts.source, opts.target], opts, async (_state, parent) => {
    notes.length = 0;
    if (src.config.format === 'deb') return { adds: linkAdds(await pullDebs(layout, src.entries, parent, notes, opts)), removes: [] };
    if (src.config.format !== 'eopkg') return { adds: pullFiles(layout, src.entries, parent), removes: [] };
    const srcBuilds = eopkgBuilds(src.entries);
    const deltasOf = deltaIndex(srcBuilds);
    const dstTips = tips(eopkgBuilds(parent));
    const adds: TreeEntry[] = [];
    for (const [name, tip] of tips(srcBuilds)) {
      const have = dstTips.get(name);
      if (have && have.release > tip.release) {
        notes.push(`${name}: ${opts.target} has release ${have.release}, newer than ${opts.source}'s ${tip.release}; left alone`);
        continue;
      }
      if (have && have.release === tip.release) continue;
      adds.push(tip.entry, ...deltasOf(tip).map((d) => d.entry));
    }
    return { adds: linkAdds(adds), removes: [] };
  });
  return { ...r, source: { repo: src.name, generation: src.generation }, notes };
}

/** deb: each (package, arch) whose newest version in SRC is newer (dpkg order) than DST's newest, or absent there. */
async function pullDebs(layout: import('../../engine/layout.js').Layout, source: readonly TreeEntry[], parent: readonly TreeEntry[], notes: string[], opts: { source: string; target: string }): Promise<TreeEntry[]> {
  const dst = newestDebs(await debBuilds(layout, parent));
  const have = new Set(parent.map((e) => e.path));
  const adds: TreeEntry[] = [];
  for (const [k, tip] of newestDebs(await debBuilds(layout, source))) {
    const d = dst.get(k);
    const cmp = d ? compareVersions(tip.version, d.version) : 1;
    if (cmp < 0) notes.push(`${tip.name} ${tip.arch}: ${opts.target} has ${d!.version}, newer than ${opts.source}'s ${tip.version}; left alone`);
    if (cmp > 0 && !have.has(tip.entry.path)) adds.push(tip.entry);
  }
  return adds;
}

function pullFiles(layout: import('../../engine/layout.js').Layout, source: readonly TreeEntry[], parent: readonly TreeEntry[]): ReturnType<typeof linkAdds> {
  const pool = new Pool(layout);
  const dst = new Map(parent.map((e) => [e.path, e]));
  const arrived = (sha: string) => fs.statSync(pool.blobPath(sha)).mtimeMs;
  const adds: TreeEntry[] = [];
  for (const e of source) {
    const d = dst.get(e.path);
    if (!d) adds.push(e);
    else if (d.sha256 !== e.sha256 && arrived(e.sha256) > arrived(d.sha256)) adds.push(e);
  }
  return linkAdds(adds);
}
