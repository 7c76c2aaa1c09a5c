/**
 * `promote SRC DST NAME... [--with-deps] [--dist D]` for deb repositories: the newest version (dpkg's
 * order) of each NAME on every architecture SRC has it (and `all`), and with --with-deps the
 * Depends/Pre-Depends closure resolved in SRC (deb-deps.ts), into one transaction of DST.
 * `--dist D` takes the packages SRC's distribution D publishes, and judges what DST already satisfies by
 * DST's distribution D when it has one (else by all of DST).
 */
import type { Layout } from '../../engine/layout.js';
import { RcuError } from '../../util/errors.js';
import { linkAdds, publishInto } from './common.js';
import type { LifecycleResult, PromoteOptions, RepoSnapshot } from './common.js';
import { archesFor, debAdds, debBuilds, distsOf, newestDebs, publishedBy, splitPublishable, targetDists, type DebBuild } from './deb-builds.js';
import { DebUniverse, dependencyClosure } from './deb-deps.js';
import { compareVersions } from '../../formats/deb/index.js';
import type { RepoConfig } from '../../engine/repo.js';

export async function promoteDeb(layout: Layout, src: RepoSnapshot, dstConfig: RepoConfig, opts: PromoteOptions): Promise<LifecycleResult> {
  const srcDists = distsOf(src.config, opts.dist);
  const dstDists = targetDists(dstConfig, opts.dist);
  const inDist = opts.dist === undefined ? '' : ` (distribution ${srcDists[0]!.codename})`;
  const offered = (await debBuilds(layout, src.entries)).filter((b) => srcDists.some((d) => publishedBy(d, b)));
  const setupNotes: string[] = [];
  const problems: string[] = [];
  const roots: DebBuild[] = [];
  for (const name of new Set(opts.names)) {
    const all = [...newestDebs(offered.filter((b) => b.name === name)).values()];
    if (all.length === 0) {
      problems.push(`${name}: no such package in ${opts.source}${inDist}`);
      continue;
    }
    const ok = splitPublishable(all, dstDists, opts.target, setupNotes);
    if (ok.length === 0) problems.push(`${name}: ${opts.target} publishes none of its architectures (${all.map((b) => `${b.arch} in ${b.component}`).join(', ')})`);
    roots.push(...ok);
  }
  if (problems.length) throw new RcuError('NOT_FOUND', `cannot promote: ${problems.length} package(s) not found; nothing was promoted`, { details: problems });
  // Only what DST can publish may satisfy a dependency: anything else would be invisible to its clients.
  const source = new DebUniverse(offered.filter((b) => dstDists.some((d) => publishedBy(d, b))));
  const archesOf = (b: DebBuild) => (b.arch === 'all' ? archesFor(dstDists, b.component) : [b.arch]);
  const args = [opts.source, opts.target, ...opts.names, ...(opts.withDeps ? ['--with-deps'] : []), ...(opts.dist !== undefined ? ['--dist', opts.dist] : [])];
  const notes: string[] = [];
  const r = await publishInto(layout, opts.target, 'promote', args, opts, async (state, parent) => {
    notes.length = 0;
    notes.push(...setupNotes);
    const dstBuilds = (await debBuilds(layout, parent)).filter((b) => dstDists.some((d) => publishedBy(d, b)));
    const dstNewest = newestDebs(dstBuilds);
    // A root DST has newer is left alone (promote never downgrades what clients see), and so are its dependencies.
    const fresh = roots.filter((b) => {
      const have = dstNewest.get(`${b.name}\0${b.arch}`);
      if (have && compareVersions(have.version, b.version) > 0) {
        notes.push(`${b.name} ${b.arch}: ${opts.target} already has ${have.version}, newer than ${b.version}; left alone`);
        return false;
      }
      return true;
    });
    let chosen = fresh;
    if (opts.withDeps) {
      const closure = dependencyClosure({ roots: fresh, source, target: new DebUniverse(dstBuilds), archesOf });
      if (closure.missing.length) {
        throw new RcuError('NOT_FOUND', `cannot promote: ${closure.missing.length} dependency(ies) satisfied by neither ${opts.source}${inDist} nor ${opts.target}; nothing was promoted`, { details: closure.missing });
      }
      chosen = closure.builds;
      // An exact or upper-bound constraint can need an older version than the target's newest; apt's
      // candidate stays the newest, so say so rather than let it surprise at install time.
      for (const b of chosen) {
        const have = dstNewest.get(`${b.name}\0${b.arch}`);
        if (have && compareVersions(have.version, b.version) > 0) notes.push(`${b.name} ${b.arch}: added ${b.version} for a dependency; ${opts.target} also has the newer ${have.version}, which apt prefers unless pinned`);
      }
    }
    return { adds: linkAdds(debAdds(chosen, await state.entriesByPath(), opts.target)), removes: [] };
  });
  return { ...r, source: { repo: src.name, generation: src.generation }, notes };
}
