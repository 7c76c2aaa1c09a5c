/**
 * `copy-source SRC DST SOURCE [VERSION]` and `remove-source REPO SOURCE [VERSION]`: every build of one
 * source package, optionally only one version, as one transaction of the target.
 * - eopkg: builds (and deltas) in the source's folder; VERSION is a release number.
 * - deb: binary packages whose Source (the Source field, else the package name) is SOURCE; VERSION is
 *   the source version (`Source: foo (1.2-1)`, else the package's version), compared by dpkg's order, so
 *   a binNMU `1.2-1+b1` goes with source `1.2-1`. The source package itself goes too: each `.dsc` of
 *   SOURCE (and VERSION) with the files it lists; removing one keeps the files another `.dsc` still lists.
 */
import path from 'node:path';
import { readRepoConfig } from '../../engine/repo.js';
import type { RepoConfig } from '../../engine/repo.js';
import type { Layout } from '../../engine/layout.js';
import type { TreeEntry } from '../../formats/format.js';
import { compareVersions, isDscMeta, parseDscPath, parseVersion } from '../../formats/deb/index.js';
import { Pool } from '../../engine/pool.js';
import { makeMetaLoader } from '../../engine/snapshot-state.js';
import { getFormat } from '../../formats/registry.js';
import { withSourceFiles } from '../deb-sources.js';
import { RcuError } from '../../util/errors.js';
import { baseOf, linkAdds, publishInto, readSource, requirePackages, sameFormat } from './common.js';
import type { LifecycleResult, WriteOptions } from './common.js';
import { debAdds, debBuilds, splitPublishable, targetDists, type DebBuild } from './deb-builds.js';
import { eopkgBuilds, type PackageBuild } from './packages.js';

/** deb: binary packages of a source (and version) among a repository's entries. */
async function debOfSource(layout: Layout, entries: readonly TreeEntry[], source: string, version: string | undefined): Promise<DebBuild[]> {
  if (version !== undefined) {
    const v = parseVersion(version);
    if (typeof v === 'string') throw new RcuError('USAGE', `VERSION '${version}' is not Debian version syntax: ${v}`);
  }
  return (await debBuilds(layout, entries)).filter((b) => b.source === source && (version === undefined || compareVersions(b.sourceVersion, version) === 0));
}

/** deb: a source package of the entries: its .dsc, the files the .dsc lists, its component. */
interface DscPackage {
  dsc: TreeEntry;
  files: TreeEntry[];
  component: string;
  version: string;
}

/** deb: the source packages (.dsc and listed files) of a source (and version) among a repository's entries. */
async function dscsOfSource(layout: Layout, entries: readonly TreeEntry[], source: string, version: string | undefined): Promise<DscPackage[]> {
  const loadMeta = makeMetaLoader(new Pool(layout), await getFormat('deb'));
  let byPath: Map<string, TreeEntry> | undefined;
  const out: DscPackage[] = [];
  for (const e of entries) {
    const p = parseDscPath(e.path);
    if (!p || p.source !== source) continue;
    const meta = await loadMeta(e);
    if (!isDscMeta(meta) || (version !== undefined && compareVersions(meta.version, version) !== 0)) continue;
    byPath ??= new Map(entries.map((x) => [x.path, x]));
    const files = meta.files.map((f) => {
      const at = path.posix.join(path.posix.dirname(e.path), f.name);
      const listed = byPath!.get(at);
      if (!listed) throw new RcuError('INTEGRITY', `${e.path} lists ${f.name}, which is not in the tree (run rcurepo verify)`);
      return listed;
    });
    out.push({ dsc: e, files, component: p.component, version: meta.version });
  }
  return out;
}

/** The entries of source packages to add to a target's parent: new paths only; other bytes at a path are refused. */
function dscAdds(sources: readonly DscPackage[], parentByPath: ReadonlyMap<string, TreeEntry>, target: string): TreeEntry[] {
  const adds = new Map<string, TreeEntry>();
  for (const e of sources.flatMap((s) => [s.dsc, ...s.files])) {
    const have = parentByPath.get(e.path);
    if (have && have.sha256 !== e.sha256) {
      throw new RcuError('CONFLICT', `${e.path}: ${target} already has it with other content (sha256 ${have.sha256}, incoming ${e.sha256}); remove it from ${target} first`);
    }
    if (!have) adds.set(e.path, e);
  }
  return [...adds.values()];
}

/** eopkg: builds and deltas in a source's folder, optionally of one release. */
function eopkgOfSource(entries: readonly TreeEntry[], source: string, version: string | undefined): PackageBuild[] {
  let release: number | undefined;
  if (version !== undefined) {
    if (!/^[0-9]+$/.test(version) || !Number.isSafeInteger(Number(version))) throw new RcuError('USAGE', `RELEASE must be a whole number, not '${version}'`);
    release = Number(version);
  }
  const s = source.toLowerCase();
  return eopkgBuilds(entries).filter((b) => b.source === s && (release === undefined || b.release === release));
}

function ofSource(layout: Layout, config: RepoConfig, entries: readonly TreeEntry[], source: string, version: string | undefined): Promise<{ entry: TreeEntry }[]> | { entry: TreeEntry }[] {
  return config.format === 'deb' ? debOfSource(layout, entries, source, version) : eopkgOfSource(entries, source, version);
}

const what = (source: string, version: string | undefined, deb: boolean) => `source '${source}'${version !== undefined ? ` ${deb ? 'version' : 'release'} ${version}` : ''}`;

export async function copySource(opts: WriteOptions & { source: string; target: string; sourceName: string; version?: string }): Promise<LifecycleResult> {
  const layout = await baseOf(opts);
  const src = await readSource(layout, opts.source);
  const dstConfig = await readRepoConfig(layout.repo(opts.target));
  const deb = src.config.format === 'deb';
  requirePackages(src, 'copy-source');
  sameFormat(src, dstConfig, opts.target);
  const missing = () => new RcuError('NOT_FOUND', `no builds of ${what(opts.sourceName, opts.version, deb)} in '${opts.source}'`);
  const notes: string[] = [];
  const args = [opts.source, opts.target, opts.sourceName, ...(opts.version !== undefined ? [opts.version] : [])];
  if (!deb) {
    const picked = eopkgOfSource(src.entries, opts.sourceName, opts.version);
    if (picked.length === 0) throw missing();
    const r = await publishInto(layout, opts.target, 'copy-source', args, opts, async () => ({ adds: linkAdds(picked.map((b) => b.entry)), removes: [] }));
    return { ...r, source: { repo: src.name, generation: src.generation }, notes };
  }
  const picked = await debOfSource(layout, src.entries, opts.sourceName, opts.version);
  const pickedSources = await dscsOfSource(layout, src.entries, opts.sourceName, opts.version);
  if (picked.length === 0 && pickedSources.length === 0) throw missing();
  const dists = targetDists(dstConfig, undefined);
  const builds = splitPublishable(picked, dists, opts.target, notes);
  const sources = pickedSources.filter((s) => {
    if (dists.some((d) => d.components.includes(s.component))) return true;
    notes.push(`source ${opts.sourceName} ${s.version} (${s.component}): ${opts.target} publishes no component ${s.component}; left out`);
    return false;
  });
  if (builds.length === 0 && sources.length === 0) throw new RcuError('NOT_FOUND', `'${opts.target}' publishes none of the architectures and components of ${what(opts.sourceName, opts.version, deb)}`, { details: notes });
  const r = await publishInto(layout, opts.target, 'copy-source', args, opts, async (state) => {
    const parentByPath = await state.entriesByPath();
    return { adds: linkAdds([...debAdds(builds, parentByPath, opts.target), ...dscAdds(sources, parentByPath, opts.target)]), removes: [] };
  });
  return { ...r, source: { repo: src.name, generation: src.generation }, notes };
}

export async function removeSource(opts: WriteOptions & { repo: string; sourceName: string; version?: string }): Promise<LifecycleResult> {
  const layout = await baseOf(opts);
  const config = await readRepoConfig(layout.repo(opts.repo));
  const deb = config.format === 'deb';
  requirePackages({ name: opts.repo, config }, 'remove-source');
  const args = [opts.repo, opts.sourceName, ...(opts.version !== undefined ? [opts.version] : [])];
  const r = await publishInto(layout, opts.repo, 'remove-source', args, opts, async (state, parent) => {
    const picked = await ofSource(layout, config, parent, opts.sourceName, opts.version);
    const dscs = deb ? (await dscsOfSource(layout, parent, opts.sourceName, opts.version)).map((s) => s.dsc.path) : [];
    if (picked.length === 0 && dscs.length === 0) throw new RcuError('NOT_FOUND', `no builds of ${what(opts.sourceName, opts.version, deb)} in generation ${state.parent} of '${opts.repo}'`);
    const removes = picked.map((b) => b.entry.path);
    // A .dsc takes the files only it lists (withSourceFiles keeps an orig tarball another revision lists).
    return { adds: [], removes: dscs.length ? await withSourceFiles(layout, parent, new Set([...removes, ...dscs])) : removes };
  });
  return { ...r, notes: [] };
}
