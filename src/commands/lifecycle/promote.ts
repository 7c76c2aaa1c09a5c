/**
 * `promote SRC DST NAME... [--with-deps]`: copy the tip builds of NAMEs from SRC to DST in one
 * transaction of DST (deb repositories: deb-promote.ts). With --with-deps, the runtime-dependency
 * closure resolved in SRC comes along, skipping what DST already has at the same or a higher release.
 * A dependency that cannot be resolved stops the whole promotion and names the chain that needs it.
 */
import type { TreeEntry } from '../../formats/format.js';
import { Pool } from '../../engine/pool.js';
import { makeMetaLoader } from '../../engine/snapshot-state.js';
import { readRepoConfig } from '../../engine/repo.js';
import { RcuError } from '../../util/errors.js';
import { baseOf, linkAdds, publishInto, readSource, requirePackages, sameFormat } from './common.js';
import type { LifecycleResult, PromoteOptions } from './common.js';
import { deltaIndex, eopkgBuilds, runtimeDependencies, tips } from './packages.js';
import type { PackageBuild } from './packages.js';
import { promoteDeb } from './deb-promote.js';

export async function promote(opts: PromoteOptions): Promise<LifecycleResult> {
  if (opts.names.length === 0) throw new RcuError('USAGE', 'promote needs at least one package NAME');
  const layout = await baseOf(opts);
  const src = await readSource(layout, opts.source);
  const dstConfig = await readRepoConfig(layout.repo(opts.target));
  sameFormat(src, dstConfig, opts.target);
  requirePackages(src, 'promote');
  if (src.config.format === 'deb') return promoteDeb(layout, src, dstConfig, opts);
  if (opts.dist !== undefined) throw new RcuError('USAGE', '--dist applies to deb repositories');
  const srcBuilds = eopkgBuilds(src.entries);
  const deltasOf = deltaIndex(srcBuilds);
  const srcTips = tips(srcBuilds);
  const loadMeta = makeMetaLoader(new Pool(layout), src.format);
  const notes: string[] = [];
  const r = await publishInto(layout, opts.target, 'promote', [opts.source, opts.target, ...opts.names, ...(opts.withDeps ? ['--with-deps'] : [])], opts, async (_state, parent) => {
    notes.length = 0;
    const dstTips = tips(eopkgBuilds(parent));
    const satisfiedInDst = (name: string, minRelease?: number) => {
      const d = dstTips.get(name);
      return d !== undefined && (minRelease === undefined || d.release >= minRelease);
    };
    const chosen = new Map<string, PackageBuild>();
    const missing: string[] = [];
    // Depth-first over names; `chain` is how we got here, for the error message.
    const visit = async (name: string, chain: string[]): Promise<void> => {
      if (chosen.has(name)) return;
      const tip = srcTips.get(name);
      if (!tip) {
        if (chain.length === 0) missing.push(`${name}: no such package in ${opts.source}`);
        else if (!satisfiedInDst(name)) missing.push(`${[...chain, name].join(' -> ')}: '${name}' is in neither ${opts.source} nor ${opts.target}`);
        return;
      }
      if (chain.length > 0 && satisfiedInDst(name, tip.release)) return; // a dependency DST already has
      chosen.set(name, tip);
      if (!opts.withDeps) return;
      const meta = (await loadMeta(tip.entry)) as { head?: string };
      for (const alternatives of runtimeDependencies(meta.head ?? '')) {
        const pick = alternatives.find((a) => srcTips.has(a) || satisfiedInDst(a)) ?? alternatives[0]!;
        await visit(pick, [...chain, name]);
      }
    };
    for (const n of opts.names) await visit(n, []);
    if (missing.length) throw new RcuError('NOT_FOUND', `cannot promote: ${missing.length} unresolved package(s); nothing was promoted`, { details: missing });
    const adds: TreeEntry[] = [];
    for (const tip of chosen.values()) {
      const have = dstTips.get(tip.name);
      if (have && have.release > tip.release) {
        notes.push(`${tip.name}: ${opts.target} already has release ${have.release}, newer than ${tip.release}; left alone`);
        continue;
      }
      adds.push(tip.entry, ...deltasOf(tip).map((d) => d.entry));
    }
    return { adds: linkAdds(adds), removes: [] };
  });
  return { ...r, source: { repo: src.name, generation: src.generation }, notes };
}
