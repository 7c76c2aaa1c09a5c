/**
 * `trim-packages REPO KEEP`: keep the newest KEEP builds of each name (the tip always stays), with the
 * deltas between kept builds (a delta whose source or target build is gone goes too). deb: the newest
 * KEEP versions, by dpkg's order, of each (package, architecture).
 * `trim-obsoletes REPO`: drop every build of the names the repository's
 * distribution.xml marks obsolete, and of their `-dbginfo`.
 */
import fs from 'node:fs';
import { readRepoConfig } from '../../engine/repo.js';
import { Pool } from '../../engine/pool.js';
import { ASSET_FILE } from '../../formats/eopkg/index.js';
import { validateDistribution } from '../../formats/eopkg/assets.js';
import { RcuError } from '../../util/errors.js';
import { baseOf, publishInto, requireEopkg, requirePackages } from './common.js';
import { buildsByPackageArch, debBuilds } from './deb-builds.js';
import type { LifecycleResult, WriteOptions } from './common.js';
import { eopkgBuilds } from './packages.js';
import type { PackageBuild } from './packages.js';

export async function trimPackages(opts: WriteOptions & { repo: string; keep: number }): Promise<LifecycleResult> {
  if (!Number.isInteger(opts.keep) || opts.keep < 1) throw new RcuError('USAGE', `KEEP must be at least 1 (the tip is never trimmed), not ${opts.keep}`);
  const layout = await baseOf(opts);
  const config = await readRepoConfig(layout.repo(opts.repo));
  requirePackages({ name: opts.repo, config }, 'trim-packages');
  const r = await publishInto(layout, opts.repo, 'trim-packages', [opts.repo, String(opts.keep)], opts, async (_state, parent) => {
    if (config.format === 'deb') {
      const removes: string[] = [];
      for (const list of buildsByPackageArch(await debBuilds(layout, parent)).values()) removes.push(...list.slice(opts.keep).map((b) => b.entry.path));
      return { adds: [], removes };
    }
    const byName = new Map<string, PackageBuild[]>();
    const builds = eopkgBuilds(parent);
    for (const b of builds) if (!b.delta) (byName.get(b.name) ?? byName.set(b.name, []).get(b.name)!).push(b);
    const removes: string[] = [];
    const kept = new Set<string>();
    for (const list of byName.values()) {
      list.sort((a, b) => b.release - a.release);
      list.forEach((b, i) => (i < opts.keep ? kept.add(`${b.name}\0${b.release}`) : removes.push(b.entry.path)));
    }
    // A delta goes with its target, and with its source build: no kept build to make it from, nothing kept to vouch for it.
    for (const d of builds) if (d.delta && (!kept.has(`${d.name}\0${d.release}`) || !kept.has(`${d.name}\0${d.fromRelease}`))) removes.push(d.entry.path);
    return { adds: [], removes };
  });
  return { ...r, notes: [] };
}

export async function trimObsoletes(opts: WriteOptions & { repo: string }): Promise<LifecycleResult> {
  const layout = await baseOf(opts);
  requireEopkg({ name: opts.repo, config: await readRepoConfig(layout.repo(opts.repo)) }, 'trim-obsoletes');
  const pool = new Pool(layout);
  const notes: string[] = [];
  const r = await publishInto(layout, opts.repo, 'trim-obsoletes', [opts.repo], opts, async (state, parent) => {
    const dist = parent.find((e) => e.path === ASSET_FILE.distribution);
    if (!dist) throw new RcuError('NOT_FOUND', `generation ${state.parent} of '${opts.repo}' has no distribution.xml: nothing marks packages obsolete (see 'rcurepo set-assets')`);
    const obsolete = new Set(validateDistribution(fs.readFileSync(pool.blobPath(dist.sha256), 'utf8')).obsoletes);
    const isObsolete = (n: string) => obsolete.has(n) || (n.endsWith('-dbginfo') && obsolete.has(n.slice(0, -'-dbginfo'.length)));
    const removes = eopkgBuilds(parent).filter((b) => isObsolete(b.name)).map((b) => b.entry.path);
    notes.push(`${obsolete.size} obsolete name(s) in distribution.xml`);
    return { adds: [], removes };
  });
  return { ...r, notes };
}
