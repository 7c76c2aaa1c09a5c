/**
 * The Depends/Pre-Depends closure of deb packages, resolved the way apt reads a repository:
 * - each dependency is a list of alternatives; one already satisfied by the target (or by what this
 *   promotion brings) ends the search, else the first alternative the source can satisfy is taken;
 * - version constraints by dpkg's order; a virtual package is satisfied through Provides, a versioned
 *   dependency only through a versioned Provides;
 * - architectures: a package's dependencies are resolved as a client of its architecture sees them (an
 *   `all` package's, for every architecture the target publishes it for): by that architecture or `all`,
 *   which apt counts as native; `:any` only by such a package that is `Multi-Arch: allowed` (apt gives
 *   no other package the implicit `pkg:any`); `:native` like no qualifier; `:ARCH` by that architecture.
 *   Another architecture's packages reach only multiarch clients that enabled it, so they never count.
 * A dependency nobody satisfies is reported with the chain that needs it.
 */
import { compareVersions, formatDependency, multiArchOf, parseDependencies, parseProvides, versionSatisfies, type Dependency, type Relation } from '../../formats/deb/index.js';
import { RcuError } from '../../util/errors.js';
import type { DebBuild } from './deb-builds.js';

interface Provider {
  build: DebBuild;
  version?: string;
}

/** Packages by name and virtual names by provider: what a set of builds can satisfy. */
export class DebUniverse {
  private readonly byName = new Map<string, DebBuild[]>();
  private readonly providers = new Map<string, Provider[]>();

  constructor(builds: Iterable<DebBuild> = []) {
    for (const b of builds) this.add(b);
  }

  add(b: DebBuild): void {
    push(this.byName, b.name, b);
    const provides = parseProvides(b.meta?.provides);
    if (typeof provides === 'string') throw badField(b, 'Provides', provides);
    for (const p of provides) push(this.providers, p.name, p.version === undefined ? { build: b } : { build: b, version: p.version });
  }

  /** Builds satisfying `rel` for a package of architecture `arch`: real packages first, newest first. */
  candidates(rel: Relation, arch: string): DebBuild[] {
    const real = (this.byName.get(rel.name) ?? []).filter((b) => archMatches(b, rel, arch) && (rel.op === undefined || versionSatisfies(b.version, rel.op, rel.version!)));
    const virtual = (this.providers.get(rel.name) ?? [])
      .filter((p) => archMatches(p.build, rel, arch) && (rel.op === undefined || (p.version !== undefined && versionSatisfies(p.version, rel.op, rel.version!))))
      .map((p) => p.build);
    const order = (x: DebBuild, y: DebBuild) => archRank(x, arch) - archRank(y, arch) || x.name.localeCompare(y.name) || compareVersions(y.version, x.version);
    return [...real.sort(order), ...virtual.sort(order)];
  }
}

function push<T>(m: Map<string, T[]>, k: string, v: T): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

/** Prefer the package's own architecture, then `all`. */
function archRank(b: DebBuild, arch: string): number {
  return b.arch === arch ? 0 : 1;
}

function archMatches(b: DebBuild, rel: Relation, arch: string): boolean {
  if (rel.arch !== undefined && rel.arch !== 'any' && rel.arch !== 'native') return b.arch === rel.arch;
  if (b.arch !== arch && b.arch !== 'all') return false;
  return rel.arch !== 'any' || (b.meta !== undefined && multiArchOf(b.meta.head) === 'allowed');
}

function badField(b: DebBuild, field: string, reason: string): RcuError {
  return new RcuError('BAD_INPUT', `${b.entry.path}: ${b.name} ${b.version} ${b.arch}: ${field} is malformed: ${reason}`);
}

function dependenciesOf(b: DebBuild): Dependency[] {
  const out: Dependency[] = [];
  for (const [field, value] of [['Pre-Depends', b.meta?.preDepends], ['Depends', b.meta?.depends]] as const) {
    const deps = parseDependencies(value);
    if (typeof deps === 'string') throw badField(b, field, deps);
    out.push(...deps);
  }
  return out;
}

export interface ClosureInput {
  roots: readonly DebBuild[];
  /** What the source offers (every version: a constraint may need an older one). */
  source: DebUniverse;
  /** What the target already publishes. */
  target: DebUniverse;
  /** Architectures a build's dependencies are resolved on. */
  archesOf: (b: DebBuild) => string[];
}

export interface Closure {
  /** The roots and every build brought in for a dependency, in the order found. */
  builds: DebBuild[];
  /** One line per unsatisfiable dependency: `a -> b -> missing c (>= 2)`. */
  missing: string[];
}

export function dependencyClosure(inp: ClosureInput): Closure {
  const chosen = new Map<string, DebBuild>();
  const bringing = new DebUniverse();
  const missing = new Set<string>();
  const work: { b: DebBuild; chain: string[] }[] = [];
  const take = (b: DebBuild, chain: string[]) => {
    if (chosen.has(b.entry.path)) return;
    chosen.set(b.entry.path, b);
    bringing.add(b);
    work.push({ b, chain: [...chain, b.name] });
  };
  for (const r of inp.roots) take(r, []);
  const manyArches = new Set(inp.roots.flatMap(inp.archesOf)).size > 1;
  // Breadth first: the chain reported for a missing dependency is a shortest one.
  for (let i = 0; i < work.length; i++) {
    const { b, chain } = work[i]!;
    const deps = dependenciesOf(b);
    for (const arch of inp.archesOf(b)) {
      for (const dep of deps) {
        if (dep.some((rel) => inp.target.candidates(rel, arch).length > 0)) continue;
        if (dep.some((rel) => bringing.candidates(rel, arch).length > 0)) continue;
        const pick = dep.map((rel) => inp.source.candidates(rel, arch)[0]).find((c) => c !== undefined);
        if (pick) take(pick, chain);
        else missing.add(`${chain.join(' -> ')} -> missing ${formatDependency(dep)}${manyArches ? ` (on ${arch})` : ''}`);
      }
    }
  }
  return { builds: [...chosen.values()], missing: [...missing] };
}
