/**
 * A package view of a deb repository for the lifecycle commands: every binary package with its full
 * version, source and relationship fields (from the cached metadata: the file name drops the epoch),
 * which distributions publish it, and the newest version of each (package, architecture) by dpkg's order.
 */
import type { Layout } from '../../engine/layout.js';
import { Pool } from '../../engine/pool.js';
import type { RepoConfig } from '../../engine/repo.js';
import { makeMetaLoader } from '../../engine/snapshot-state.js';
import type { TreeEntry } from '../../formats/format.js';
import { getFormat } from '../../formats/registry.js';
import { compareVersions, debSettings, isDebMeta, parseDebPath, pickDist, type DebMeta, type DistConfig } from '../../formats/deb/index.js';
import { RcuError } from '../../util/errors.js';

export interface DebBuild {
  entry: TreeEntry;
  name: string;
  arch: string;
  version: string;
  component: string;
  /** The Source field's name, or the package name. */
  source: string;
  /** The Source field's version, or the package version (a binNMU `1.2-1+b1` comes from source `1.2-1`). */
  sourceVersion: string;
  /** Cached metadata (relationship fields, stanza head); absent only for a blob the format cannot read. */
  meta?: DebMeta;
}

/** Every package of the entries with its full version. */
export async function debBuilds(layout: Layout, entries: readonly TreeEntry[]): Promise<DebBuild[]> {
  const loadMeta = makeMetaLoader(new Pool(layout), await getFormat('deb'));
  const out: DebBuild[] = [];
  for (const e of entries) {
    const p = parseDebPath(e.path);
    if (!p) continue;
    const meta = await loadMeta(e);
    if (isDebMeta(meta)) {
      out.push({ entry: e, name: p.package, arch: p.architecture, component: p.component, version: meta.version, source: meta.source, sourceVersion: meta.sourceVersion ?? meta.version, meta });
    } else {
      out.push({ entry: e, name: p.package, arch: p.architecture, component: p.component, version: p.fileVersion, source: p.source, sourceVersion: p.fileVersion });
    }
  }
  return out;
}

const key = (b: DebBuild) => `${b.name}\0${b.arch}`;

/** The newest build of each (package, architecture). */
export function newestDebs(builds: readonly DebBuild[]): Map<string, DebBuild> {
  const m = new Map<string, DebBuild>();
  for (const b of builds) {
    const k = key(b);
    const cur = m.get(k);
    if (!cur || compareVersions(b.version, cur.version) > 0) m.set(k, b);
  }
  return m;
}

/** The builds of each (package, architecture), newest first by dpkg's order. */
export function buildsByPackageArch(builds: readonly DebBuild[]): Map<string, DebBuild[]> {
  const m = new Map<string, DebBuild[]>();
  for (const b of builds) {
    const l = m.get(key(b));
    if (l) l.push(b);
    else m.set(key(b), [b]);
  }
  for (const l of m.values()) l.sort((a, b) => compareVersions(b.version, a.version));
  return m;
}

/** Whether a distribution's indexes list the build (its component, and its architecture or `all`). */
export function publishedBy(dist: DistConfig, b: Pick<DebBuild, 'component' | 'arch'>): boolean {
  return dist.components.includes(b.component) && (b.arch === 'all' || dist.architectures.includes(b.arch));
}

/** The distributions of a repository an operation is about: `--dist D` (codename or suite), else all. */
export function distsOf(config: RepoConfig, dist: string | undefined): DistConfig[] {
  const s = debSettings(config.settings);
  return dist === undefined ? s.dists : [pickDist(s, dist)];
}

/**
 * The distributions of the target that receive packages: with `--dist D`, the target's D when it has one
 * (source and target often name their distributions alike), else every distribution of the target.
 */
export function targetDists(config: RepoConfig, dist: string | undefined): DistConfig[] {
  const s = debSettings(config.settings);
  const named = dist === undefined ? undefined : s.dists.find((d) => d.codename === dist || d.suite === dist);
  return named ? [named] : s.dists;
}

/** Architectures an `all` package of `component` is installed on in these distributions. */
export function archesFor(dists: readonly DistConfig[], component: string): string[] {
  return [...new Set(dists.filter((d) => d.components.includes(component)).flatMap((d) => d.architectures))].sort();
}

/**
 * Builds that go into the target: those its distributions publish. A build they do not list would sit in
 * the pool unseen by apt, so it stays behind with a note saying why.
 */
export function splitPublishable(builds: readonly DebBuild[], dists: readonly DistConfig[], target: string, notes: string[]): DebBuild[] {
  const ok: DebBuild[] = [];
  for (const b of builds) {
    if (dists.some((d) => publishedBy(d, b))) ok.push(b);
    else notes.push(`${b.name} ${b.version} ${b.arch} (${b.component}): ${target} publishes no ${b.arch === 'all' ? '' : `${b.arch} in `}component ${b.component}; left out`);
  }
  return ok;
}

/**
 * Adds for builds the target's parent does not hold yet. The same package file with other bytes is
 * refused with both hashes (as import does without --replace), before anything changes.
 */
export function debAdds(builds: readonly DebBuild[], parentByPath: ReadonlyMap<string, TreeEntry>, target: string): TreeEntry[] {
  const adds = new Map<string, TreeEntry>();
  for (const b of builds) {
    const have = parentByPath.get(b.entry.path);
    if (have && have.sha256 !== b.entry.sha256) {
      throw new RcuError('CONFLICT', `${b.entry.path}: ${target} already has ${b.name} ${b.version} ${b.arch} with other content (sha256 ${have.sha256}, incoming ${b.entry.sha256}); remove it from ${target} first`);
    }
    if (!have) adds.set(b.entry.path, b.entry);
  }
  return [...adds.values()];
}
