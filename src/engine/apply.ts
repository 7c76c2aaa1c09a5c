/** Applying a change to a staging clone, and verifying the staging tree before it is published. */
import fs from 'node:fs';
import path from 'node:path';
import type { Layout, RepoLayout } from './layout.js';
import type { Format, TreeEntry } from '../formats/format.js';
import type { CloneReply } from './clone-worker.js';
import type { Change } from './transaction.js';
import { LINK_WARN_THRESHOLD, Pool } from './pool.js';
import { makeMetaLoader } from './snapshot-state.js';
import { pruneEmptyParentsSync } from './tree.js';
import { chunked } from '../util/chunked.js';
import { errnoCode, RcuError } from '../util/errors.js';
import { tmpName } from '../util/fsx.js';
import { compareBytewise } from '../util/paths.js';

export interface ApplyInput {
  pool: Pool;
  staging: string;
  /** The parent's entries by path (built once per transaction, shared by its steps). */
  parentByPath: ReadonlyMap<string, TreeEntry>;
  change: Change;
  cloned: CloneReply;
  warnings: string[];
}

/**
 * The new snapshot's entries, sorted: the parent's with the change applied. Pure; applyChange makes the
 * tree agree with it. Builds nothing the size of the parent: one walk over its sorted entries, then the
 * paths new to the tree sorted and merged in.
 */
export function nextEntries(parentEntries: readonly TreeEntry[], parentByPath: ReadonlyMap<string, TreeEntry>, change: Change): TreeEntry[] {
  const added = new Map<string, TreeEntry>();
  for (const a of change.adds) added.set(a.path, { path: a.path, sha256: a.sha256, size: a.size });
  const removed = new Set(change.removes);
  const kept: TreeEntry[] = [];
  for (const e of parentEntries) {
    const now = added.get(e.path);
    if (now) kept.push(now.sha256 === e.sha256 ? e : now);
    else if (!removed.has(e.path)) kept.push(e);
  }
  const fresh = [...added.values()].filter((e) => !parentByPath.has(e.path)).sort((x, y) => compareBytewise(x.path, y.path));
  if (fresh.length === 0) return kept;
  const out: TreeEntry[] = new Array(kept.length + fresh.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < kept.length && j < fresh.length) out[k++] = compareBytewise(kept[i]!.path, fresh[j]!.path) <= 0 ? kept[i++]! : fresh[j++]!;
  while (i < kept.length) out[k++] = kept[i++]!;
  while (j < fresh.length) out[k++] = fresh[j++]!;
  return out;
}

/** Link, replace and unlink in the staging clone, as nextEntries() describes. */
export async function applyChange(inp: ApplyInput): Promise<void> {
  const { pool, staging, change, cloned, warnings, parentByPath } = inp;
  // What the staging tree holds at a path as the change is applied: what this change removed or linked
  // so far, else the parent's entry.
  const removedNow = new Set<string>();
  const linkedNow = new Map<string, string>();
  const shaNow = (p: string): string | undefined => linkedNow.get(p) ?? (removedNow.has(p) ? undefined : parentByPath.get(p)?.sha256);
  if (cloned.foreign.length) {
    throw new RcuError('INTEGRITY', `current snapshot holds ${cloned.foreign.length} special file(s) (e.g. ${cloned.foreign[0]}); run 'rcurepo verify'`);
  }
  // Files whose inode reached the link limit: link them from an overflow copy of their pool blob.
  for (const rel of cloned.emlink) {
    const e = parentByPath.get(rel);
    if (!e) throw new RcuError('INTEGRITY', `${rel}: at the hard-link limit and not in the manifest; run 'rcurepo verify --repair'`);
    pool.linkIntoSync(e.sha256, path.join(staging, rel));
  }
  await chunked(change.removes, (rel) => {
    if (shaNow(rel) === undefined) return;
    fs.unlinkSync(path.join(staging, rel));
    pruneEmptyParentsSync(staging, rel);
    removedNow.add(rel);
  });
  // Blobs (not links) near the limit, with the highest link count seen: one blob linked 5,000 times is one.
  const highLinks = new Map<string, number>();
  const noteLinks = (sha256: string, n: number) => {
    if (n > LINK_WARN_THRESHOLD) highLinks.set(sha256, Math.max(n, highLinks.get(sha256) ?? 0));
  };
  const madeDirs = new Set<string>();
  await chunked(change.adds, (a) => {
    const old = shaNow(a.path);
    if (old === a.sha256) return;
    const dest = path.join(staging, a.path);
    if (old) {
      // Replace: a new link under a temporary name, renamed over the staging name. The old inode (and
      // every snapshot sharing it) is never opened for writing.
      const tmp = tmpName(path.dirname(dest));
      const n = pool.linkIntoSync(a.sha256, tmp);
      fs.renameSync(tmp, dest);
      noteLinks(a.sha256, n);
    } else {
      const dir = path.dirname(dest);
      if (!madeDirs.has(dir)) {
        try {
          fs.mkdirSync(dir, { recursive: true });
        } catch (e) {
          if (errnoCode(e) === 'EEXIST' || errnoCode(e) === 'ENOTDIR') throw new RcuError('BAD_INPUT', `${a.path}: a parent folder is a file in the repository`);
          throw e;
        }
        madeDirs.add(dir);
      }
      try {
        const n = pool.linkIntoSync(a.sha256, dest);
        noteLinks(a.sha256, n);
      } catch (e) {
        const cause = errnoCode((e as { cause?: unknown }).cause);
        if (cause === 'EEXIST') throw new RcuError('BAD_INPUT', `${a.path}: a folder of that name exists in the repository`);
        if (cause === 'ENOTDIR') throw new RcuError('BAD_INPUT', `${a.path}: a parent folder is a file in the repository`);
        throw e;
      }
    }
    linkedNow.set(a.path, a.sha256);
  });
  if (highLinks.size) {
    const most = Math.max(...highLinks.values());
    warnings.push(`${highLinks.size} blob(s) have more than ${LINK_WARN_THRESHOLD} links (up to ${most}); further links go to overflow copies (EMLINK at 65,000 on ext4)`);
  }
}

export interface VerifyStagingInput {
  layout: Layout;
  repo: RepoLayout;
  pool: Pool;
  format: Format;
  staging: string;
  entries: readonly TreeEntry[];
  cloned: CloneReply;
  change: Change;
  settings: Record<string, unknown>;
}

/**
 * Verify staging before publishing: the tree cloned from the parent was exactly the parent's manifest
 * (a stale manifest would otherwise silently drop or keep files), each file the change linked is its
 * pool blob with the stated size, removed files are gone, and the indexes agree with the entries.
 * Unchanged files are links to the inodes of a verified snapshot and cannot differ from it.
 */
export async function verifyStaging(v: VerifyStagingInput): Promise<void> {
  const faults = await treeFaults(v.pool, v.staging, v.entries, v.cloned, v.change);
  faults.push(
    ...(await v.format.verifyIndexes({
      quick: true,
      layout: v.layout,
      repo: v.repo,
      settings: v.settings,
      snapshotDir: v.staging,
      entries: v.entries,
      loadMeta: makeMetaLoader(v.pool, v.format),
    })),
  );
  if (faults.length) throw new RcuError('INTEGRITY', `staging failed verification; nothing was published`, { details: faults.slice(0, 20) });
}

/** The tree half of verifyStaging (a spare's twin has no indexes): what the clone held, changed as asked. */
export async function treeFaults(pool: Pool, staging: string, entries: readonly TreeEntry[], cloned: CloneReply, change: Change): Promise<string[]> {
  const faults: string[] = [];
  const removed = new Set(change.removes);
  const added = new Set(change.adds.map((a) => a.path));
  // One set of what the tree holds (cloned + added - removed), and the manifest's paths checked against
  // it: every manifest path present, as many paths as files, and no path twice (a manifest sorted
  // strictly by path has none; otherwise a set tells). Two sets of 50,000 paths cost twice as much.
  const expectedFromParent = new Set<string>(cloned.files);
  for (const rel of cloned.emlink) expectedFromParent.add(rel);
  for (const a of added) expectedFromParent.add(a);
  for (const rel of removed) expectedFromParent.delete(rel);
  let unique = true;
  for (let i = 1; i < entries.length && unique; i++) if (!(entries[i - 1]!.path < entries[i]!.path)) unique = false;
  const manifestPaths = unique ? entries.length : new Set(entries.map((e) => e.path)).size;
  if (expectedFromParent.size !== manifestPaths) faults.push(`staging has ${expectedFromParent.size} files, the new manifest ${manifestPaths}`);
  for (const e of entries) if (!expectedFromParent.has(e.path)) faults.push(`${e.path}: in the manifest but not in the tree`);
  await chunked(change.adds, (a) => {
    const st = fs.lstatSync(path.join(staging, a.path), { throwIfNoEntry: false });
    const ids = pool.identitiesSync(a.sha256);
    if (!st || !ids.some((i) => i.dev === st.dev && i.ino === st.ino)) faults.push(`${a.path}: not linked to pool blob ${a.sha256}`);
    else if (st.size !== a.size) faults.push(`${a.path}: size ${st.size}, expected ${a.size}`);
  });
  await chunked(removed, (r) => {
    if (added.has(r)) return;
    if (fs.lstatSync(path.join(staging, r), { throwIfNoEntry: false })) faults.push(`${r}: still present after removal`);
  });
  return faults;
}
