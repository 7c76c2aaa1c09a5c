/**
 * `copy-source SRC DST SOURCE [RELEASE]` and `remove-source REPO SOURCE [RELEASE]`: every build (and
 * delta) of one source package, optionally only one release, as one transaction of the target.
 */
import { readRepoConfig } from '../../engine/repo.js';
import { RcuError } from '../../util/errors.js';
import { baseOf, linkAdds, publishInto, readSource, requireEopkg, sameFormat } from './common.js';
import type { LifecycleResult, WriteOptions } from './common.js';
import { eopkgBuilds } from './packages.js';
import type { PackageBuild } from './packages.js';

function ofSource(builds: readonly PackageBuild[], source: string, release?: number): PackageBuild[] {
  const s = source.toLowerCase();
  return builds.filter((b) => b.source === s && (release === undefined || b.release === release));
}

export async function copySource(opts: WriteOptions & { source: string; target: string; sourceName: string; release?: number }): Promise<LifecycleResult> {
  const layout = await baseOf(opts);
  const src = await readSource(layout, opts.source);
  requireEopkg(src, 'copy-source');
  sameFormat(src, await readRepoConfig(layout.repo(opts.target)), opts.target);
  const picked = ofSource(eopkgBuilds(src.entries), opts.sourceName, opts.release);
  if (picked.length === 0) throw new RcuError('NOT_FOUND', `no builds of source '${opts.sourceName}'${opts.release !== undefined ? ` release ${opts.release}` : ''} in '${opts.source}'`);
  const args = [opts.source, opts.target, opts.sourceName, ...(opts.release !== undefined ? [String(opts.release)] : [])];
  const r = await publishInto(layout, opts.target, 'copy-source', args, opts, async () => ({ adds: linkAdds(picked.map((b) => b.entry)), removes: [] }));
  return { ...r, source: { repo: src.name, generation: src.generation }, notes: [] };
}

export async function removeSource(opts: WriteOptions & { repo: string; sourceName: string; release?: number }): Promise<LifecycleResult> {
  const layout = await baseOf(opts);
  requireEopkg({ name: opts.repo, config: await readRepoConfig(layout.repo(opts.repo)) }, 'remove-source');
  const args = [opts.repo, opts.sourceName, ...(opts.release !== undefined ? [String(opts.release)] : [])];
  const r = await publishInto(layout, opts.repo, 'remove-source', args, opts, async (state, parent) => {
    const picked = ofSource(eopkgBuilds(parent), opts.sourceName, opts.release);
    if (picked.length === 0) throw new RcuError('NOT_FOUND', `no builds of source '${opts.sourceName}'${opts.release !== undefined ? ` release ${opts.release}` : ''} in generation ${state.parent} of '${opts.repo}'`);
    return { adds: [], removes: picked.map((b) => b.entry.path) };
  });
  return { ...r, notes: [] };
}
