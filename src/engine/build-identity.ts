/**
 * One build per identity (formats that have one: eopkg's name and release). A change that would leave
 * two files of one identity in the tree (e.g. `flolota-2.5.9-17` beside `flolota-2.5.2-17`, or one build
 * under two source folders) is refused before anything is committed, naming both files and hashes,
 * unless the change replaces builds: then the other files of that identity are removed with it.
 */
import type { TreeEntry } from '../formats/format.js';
import type { Change } from './transaction.js';
import { RcuError } from '../util/errors.js';
import { compareBytewise } from '../util/paths.js';

export interface BuildClash {
  identity: string;
  path: string;
  sha256: string;
  /** The other file of that identity, in the parent (`inParent`) or in the change itself. */
  other: { path: string; sha256: string; inParent: boolean };
}

/**
 * Per parent map: how often it was searched by a pass over it, and, from the third search on, an index of
 * every parent file by identity kept with the map (a parent map belongs to one repository, hence one
 * format and one identity function). A round of uploads judges each of its requests against the same
 * parent: the index then serves them all, where a pass per request made 50 passes over 10,000 files.
 * Making it works out every parent file's identity, which costs more than a pass with the name
 * prefilter: a lone upload (one search to judge it, one by its transaction) goes without.
 */
const searched = new WeakMap<ReadonlyMap<string, TreeEntry>, { scans: number; index?: Map<string, string[]> }>();
const SEARCHES_BEFORE_INDEX = 2;

function indexByIdentity(parentByPath: ReadonlyMap<string, TreeEntry>, identityOf: (p: string) => string | undefined): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const p of parentByPath.keys()) {
    const id = identityOf(p);
    if (id === undefined) continue;
    const paths = index.get(id);
    if (paths) paths.push(p);
    else index.set(id, [p]);
  }
  return index;
}

/**
 * `focus`: only the clashes of these added paths are wanted (a batch judging one request at a time):
 * the parent is then searched for their identities alone, not for every add of the batch so far.
 */
export function findBuildClashes(change: Change, parentByPath: ReadonlyMap<string, TreeEntry>, identityOf: (p: string) => string | undefined, focus?: ReadonlySet<string>): BuildClash[] {
  const removed = new Set(change.removes);
  const mine = new Map<string, { path: string; sha256: string }>();
  /** The identities searched for in the parent: every add's, or only the focused adds'. */
  const wanted = new Set<string>();
  const clashes: BuildClash[] = [];
  for (const a of change.adds) {
    const id = identityOf(a.path);
    if (id === undefined) continue;
    if (!focus || focus.has(a.path)) wanted.add(id);
    const prev = mine.get(id);
    if (prev && prev.path !== a.path) clashes.push({ identity: id, path: a.path, sha256: a.sha256, other: { ...prev, inParent: false } });
    else mine.set(id, { path: a.path, sha256: a.sha256 });
  }
  if (wanted.size === 0) return clashes;
  const inParent = (id: string, p: string): void => {
    const add = mine.get(id);
    if (add && add.path !== p && !removed.has(p)) clashes.push({ identity: id, path: add.path, sha256: add.sha256, other: { path: p, sha256: parentByPath.get(p)!.sha256, inParent: true } });
  };
  let seen = searched.get(parentByPath);
  if (!seen) searched.set(parentByPath, (seen = { scans: 0 }));
  if (!seen.index && seen.scans < SEARCHES_BEFORE_INDEX) {
    // A lone search (one CLI publish, a pull): one pass, and no index kept alive beside the transaction
    // (50,000 entries of it would weigh on a bulk import's peak memory). With few adds, only files whose
    // names could carry one of their package names are looked at.
    seen.scans++;
    const names = [...new Set([...wanted].map((id) => id.slice(0, id.lastIndexOf('@'))))];
    const couldMatch = names.length <= 64 ? (base: string) => names.some((n) => base.startsWith(n + '-')) : () => true;
    for (const p of parentByPath.keys()) {
      if (!couldMatch(p.slice(p.lastIndexOf('/') + 1))) continue;
      const id = identityOf(p);
      if (id !== undefined && wanted.has(id)) inParent(id, p);
    }
    return clashes;
  }
  const index = (seen.index ??= indexByIdentity(parentByPath, identityOf));
  const found: [string, string][] = [];
  for (const id of wanted) for (const p of index.get(id) ?? []) found.push([id, p]);
  // In path order, as a scan of the parent (kept sorted) reports them.
  found.sort((a, b) => compareBytewise(a[1], b[1]));
  for (const [id, p] of found) inParent(id, p);
  return clashes;
}

/** Refuse the clashes, or (replacing) remove the parent's other files of each identity. */
export function settleBuildClashes(change: Change, clashes: BuildClash[], repo: string, parent: number): void {
  if (clashes.length === 0) return;
  const replaceable = change.replaceBuilds ? clashes.filter((c) => c.other.inParent) : [];
  const refused = clashes.filter((c) => !replaceable.includes(c));
  if (refused.length) {
    const lines = refused.map(
      (c) => `${c.identity.replace('@', ' release ')}: ${c.other.inParent ? `generation ${parent} of '${repo}' has` : 'this change also brings'} ${c.other.path} (sha256 ${c.other.sha256}), this change brings ${c.path} (sha256 ${c.sha256})`,
    );
    throw new RcuError('CONFLICT', `${refused.length} build(s) have the name and release of another build; one release is one build, nothing was imported${change.replaceBuilds ? '' : ' (use --replace to publish the new build in place of the old)'}`, {
      details: lines,
    });
  }
  for (const c of replaceable) if (!change.removes.includes(c.other.path)) change.removes.push(c.other.path);
}
