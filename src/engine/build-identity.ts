/**
 * One build per identity (formats that have one: eopkg's name and release). A change that would leave
 * two files of one identity in the tree (e.g. `flolota-2.5.9-17` beside `flolota-2.5.2-17`, or one build
 * under two source folders) is refused before anything is committed, naming both files and hashes,
 * unless the change replaces builds: then the other files of that identity are removed with it.
 */
import type { TreeEntry } from '../formats/format.js';
import type { Change } from './transaction.js';
import { RcuError } from '../util/errors.js';

export interface BuildClash {
  identity: string;
  path: string;
  sha256: string;
  /** The other file of that identity, in the parent (`inParent`) or in the change itself. */
  other: { path: string; sha256: string; inParent: boolean };
}

/**
 * `focus`: only the clashes of these added paths are wanted (a batch judging one request at a time):
 * the parent is then searched for their identities alone, not for every add of the batch so far, which
 * made a round of 50 uploads search the parent 50 times for up to 150 names.
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
  // Few adds: look only at files whose names could carry one of their package names.
  const names = [...new Set([...wanted].map((id) => id.slice(0, id.lastIndexOf('@'))))];
  const couldMatch = names.length <= 64 ? (base: string) => names.some((n) => base.startsWith(n + '-')) : () => true;
  for (const [p, e] of parentByPath) {
    if (removed.has(p) || !couldMatch(p.slice(p.lastIndexOf('/') + 1))) continue;
    const id = identityOf(p);
    const add = id === undefined || !wanted.has(id) ? undefined : mine.get(id);
    if (add && add.path !== p) clashes.push({ identity: id!, path: add.path, sha256: add.sha256, other: { path: p, sha256: e.sha256, inParent: true } });
  }
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
