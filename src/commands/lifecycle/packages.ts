/**
 * A package view of a repository's entries, for the lifecycle commands. For eopkg everything needed to
 * choose builds (name, release, distribution release, arch, source folder, delta or not) is in the
 * tree path, which import checked against each package's metadata; dependencies come from the cached
 * metadata. For the files format every file is its own "package" named by its path.
 */
import path from 'node:path';
import type { TreeEntry } from '../../formats/format.js';
import { newerBuild, parseFileName } from '../../formats/eopkg/index.js';

export interface PackageBuild {
  entry: TreeEntry;
  name: string;
  release: number;
  distrel: string;
  arch: string;
  /** Lowercased source folder name (`n/nano/...` -> `nano`). */
  source: string;
  delta: boolean;
  /** Delta builds only. */
  fromRelease?: number;
}

export function eopkgBuilds(entries: readonly TreeEntry[]): PackageBuild[] {
  const out: PackageBuild[] = [];
  for (const e of entries) {
    const fn = parseFileName(path.posix.basename(e.path));
    if (!fn) continue; // assets and anything else that is not a package
    const source = e.path.split('/').slice(-2)[0] ?? '';
    if (fn.kind === 'delta') {
      out.push({ entry: e, name: fn.name, release: Number(fn.toRelease), fromRelease: Number(fn.fromRelease), distrel: fn.distrel, arch: fn.arch, source, delta: true });
    } else out.push({ entry: e, name: fn.name, release: Number(fn.release), distrel: fn.distrel, arch: fn.arch, source, delta: false });
  }
  return out;
}

/** The tip of each package name (non-delta; the format's one rule, see formats/eopkg/tips.ts). */
export function tips(builds: readonly PackageBuild[]): Map<string, PackageBuild> {
  const t = new Map<string, PackageBuild>();
  for (const b of builds) {
    if (b.delta) continue;
    const cur = t.get(b.name);
    if (!cur || newerBuild({ release: b.release, path: b.entry.path }, { release: cur.release, path: cur.entry.path })) t.set(b.name, b);
  }
  return t;
}

/** Deltas that lead to this build (same name, target release, distrel and arch). */
/**
 * The deltas leading to each build, looked up by (name, release, distrel, arch): built once, so a pull of
 * 1,000 tips out of 100,000 builds does not scan every build for every tip.
 */
export function deltaIndex(builds: readonly PackageBuild[]): (target: PackageBuild) => PackageBuild[] {
  const key = (b: PackageBuild) => `${b.name}\0${b.release}\0${b.distrel}\0${b.arch}`;
  const byTarget = new Map<string, PackageBuild[]>();
  for (const b of builds) {
    if (!b.delta) continue;
    const k = key(b);
    const l = byTarget.get(k);
    if (l) l.push(b);
    else byTarget.set(k, [b]);
  }
  return (target) => byTarget.get(key(target)) ?? [];
}

/**
 * Runtime dependencies of a package from its index fragment (the serialised <Package> of the cached
 * metadata): one list of alternatives per dependency (`AnyDependency` gives several).
 */
export function runtimeDependencies(fragmentHead: string): string[][] {
  const block = /<RuntimeDependencies>([\s\S]*?)<\/RuntimeDependencies>/.exec(fragmentHead)?.[1];
  if (!block) return [];
  const deps: string[][] = [];
  const re = /<AnyDependency>([\s\S]*?)<\/AnyDependency>|<Dependency\b[^>]*>([^<]*)<\/Dependency>/g;
  for (let m = re.exec(block); m; m = re.exec(block)) {
    if (m[1] !== undefined) {
      const alts = [...m[1].matchAll(/<Dependency\b[^>]*>([^<]*)<\/Dependency>/g)].map((x) => decodeXml(x[1]!.trim()));
      if (alts.length) deps.push(alts);
    } else deps.push([decodeXml(m[2]!.trim())]);
  }
  return deps;
}

function decodeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp|#x[0-9a-fA-F]+|#[0-9]+);/g, (_, e: string) =>
    e === 'lt' ? '<' : e === 'gt' ? '>' : e === 'quot' ? '"' : e === 'apos' ? "'" : e === 'amp' ? '&' : String.fromCodePoint(e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)),
  );
}
