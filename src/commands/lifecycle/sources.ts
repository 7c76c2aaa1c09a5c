/**
 * `copy-source SRC DST SOURCE [VERSION]` and `remove-source REPO SOURCE [VERSION]`: every build of one
 * source package, optionally only one version, as one transaction of the target.
 * - eopkg: builds (and deltas) in the source's folder; VERSION is a release number.
 * - deb: binary packages whose Source (the Source field, else the package name) is SOURCE; VERSION is
 *   the source version (`Source: foo (1.2-1)`, else the package's version), compared by dpkg's order, so
 *   a binNMU `1.2-1+b1` goes with source `1.2-1`.
 */
import { readRepoConfig } from '../../engine/repo.js';
import type { RepoConfig } from '../../engine/repo.js';
import type { Layout } from '../../engine/layout.js';
import type { TreeEntry } from '../../formats/format.js';
import { compareVersions, parseVersion } from '../../formats/deb/index.js';
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
  if (picked.length === 0) throw missing();
  const builds = splitPublishable(picked, targetDists(dstConfig, undefined), opts.target, notes);
  if (builds.length === 0) throw new RcuError('NOT_FOUND', `'${opts.target}' publishes none of the architectures and components of ${what(opts.sourceName, opts.version, deb)}`, { details: notes });
  const r = await publishInto(layout, opts.target, 'copy-source', args, opts, async (state) => ({ adds: linkAdds(debAdds(builds, await state.entriesByPath(), opts.target)), removes: [] }));
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
    if (picked.length === 0) throw new RcuError('NOT_FOUND', `no builds of ${what(opts.sourceName, opts.version, deb)} in generation ${state.parent} of '${opts.repo}'`);
    return { adds: [], removes: picked.map((b) => b.entry.path) };
  });
  return { ...r, notes: [] };
}
