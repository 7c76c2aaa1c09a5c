/**
 * Debian relationship fields as dpkg reads them (Policy 7.1): `Depends`/`Pre-Depends` are
 * comma-separated dependencies, each a `|`-separated list of alternatives `name[:arch] [(op version)]`;
 * `Provides` lists `name[:arch] [(= version)]`. Binary packages carry no architecture restrictions or
 * build profiles (`[...]`, `<...>`), but they are skipped when present, as dpkg's parser does for
 * build relationships.
 */
import { compareVersions, parseVersion } from './version.js';

export type RelationOp = '<<' | '<=' | '=' | '>=' | '>>';

export interface Relation {
  name: string;
  /** Architecture qualifier: `any`, `native` or an architecture name. */
  arch?: string;
  op?: RelationOp;
  version?: string;
}

/** One dependency: satisfied by any of its alternatives. */
export type Dependency = Relation[];

export interface Provided {
  name: string;
  /** Versioned Provides (`foo (= 1.2)`): only these satisfy a versioned dependency. */
  version?: string;
}

const ALTERNATIVE = /^([a-z0-9][a-z0-9+.-]*)(?::([a-z0-9-]+))?\s*(?:\(\s*(<<|<=|>=|>>|=|<|>)\s*([^\s()]+)\s*\))?\s*(?:\[[^\]]*\]\s*)?(?:<[^>]*>\s*)*$/;
/** dpkg still reads the obsolete `<` and `>` as `<=` and `>=`. */
const OBSOLETE_OPS: Record<string, RelationOp> = { '<': '<=', '>': '>=' };

function parseAlternative(text: string): Relation | string {
  const m = ALTERNATIVE.exec(text);
  if (!m) return `'${text}' is not 'name[:arch] [(op version)]'`;
  const r: Relation = { name: m[1]! };
  if (m[2] !== undefined) r.arch = m[2];
  if (m[3] !== undefined) {
    const v = parseVersion(m[4]!);
    if (typeof v === 'string') return `'${text}': version '${m[4]}' is not Debian version syntax: ${v}`;
    r.op = OBSOLETE_OPS[m[3]] ?? (m[3] as RelationOp);
    r.version = m[4]!;
  }
  return r;
}

/** Parse a Depends-like field; returns the reason it is malformed as a string. */
export function parseDependencies(value: string | undefined): Dependency[] | string {
  if (value === undefined) return [];
  const out: Dependency[] = [];
  for (const item of value.replace(/\s+/g, ' ').split(',')) {
    if (item.trim() === '') continue; // a trailing comma is tolerated by apt
    const alts: Relation[] = [];
    for (const alt of item.split('|')) {
      const r = parseAlternative(alt.trim());
      if (typeof r === 'string') return r;
      alts.push(r);
    }
    out.push(alts);
  }
  return out;
}

/** Parse a Provides field; only `=` is allowed in a versioned Provides. */
export function parseProvides(value: string | undefined): Provided[] | string {
  const deps = parseDependencies(value);
  if (typeof deps === 'string') return deps;
  const out: Provided[] = [];
  for (const d of deps) {
    if (d.length !== 1) return `Provides cannot list alternatives ('${d.map(formatRelation).join(' | ')}')`;
    const r = d[0]!;
    if (r.op !== undefined && r.op !== '=') return `Provides '${formatRelation(r)}': only '=' is allowed in a versioned Provides`;
    out.push(r.version === undefined ? { name: r.name } : { name: r.name, version: r.version });
  }
  return out;
}

/** Whether version `have` satisfies `(op want)`, by dpkg's order. */
export function versionSatisfies(have: string, op: RelationOp, want: string): boolean {
  const c = compareVersions(have, want);
  switch (op) {
    case '<<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '=':
      return c === 0;
    case '>=':
      return c >= 0;
    case '>>':
      return c > 0;
  }
}

/** `name[:arch] (op version)`, as written in a control file. */
export function formatRelation(r: Relation): string {
  return `${r.name}${r.arch ? `:${r.arch}` : ''}${r.op ? ` (${r.op} ${r.version})` : ''}`;
}

export function formatDependency(d: Dependency): string {
  return d.map(formatRelation).join(' | ');
}

/** The Multi-Arch field of a stanza's control part (`same`, `foreign`, `allowed`), lowercased. */
export function multiArchOf(head: string): string | undefined {
  return /^multi-arch:[ \t]*(\S+)/im.exec(head)?.[1]?.toLowerCase();
}
