/**
 * The spare's twin: a second clone of the current generation, made in the background after the spare.
 * The transaction that takes the spare of its parent also takes the twin (after its index step, so the
 * maker has had the most time), applies the same change to it and verifies it the same way; once the new
 * generation is current, the twin becomes that generation's spare. The next transaction then finds its
 * spare at once, and the maker only has to clone the new twin while that transaction runs: back-to-back
 * publishes cost what a publish costs while a clone fits in one, instead of a publish plus a clone.
 *
 * A twin is only ever a clone of the transaction's own parent (the generation that is current under
 * the writer lock), exactly like the spare; nothing of another generation is used. Carrying it is never
 * a reason to fail a publish: any problem drops the twin with a warning, and the maker makes a new one.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { RepoLayout } from './layout.js';
import type { TreeEntry } from '../formats/format.js';
import type { CloneReply } from './clone-worker.js';
import type { Change } from './transaction.js';
import type { Pool } from './pool.js';
import { applyChange, treeFaults } from './apply.js';
import { lastCloneMs, spareRoot, spareTree, takeSpare, writeRecord } from './spare.js';
import { errnoCode } from '../util/errors.js';
import { mkdirp, removePath } from '../util/fsx.js';
import { trace } from '../util/trace.js';

export interface CarriedTwin {
  /** Where the twin is while the transaction runs (beside its staging tree). */
  dir: string;
  /** The twin as a clone of the new generation: what its spare record will say. */
  reply: CloneReply;
  /** Folders the change touched in the twin (for a filesystem without syncfs). */
  touchedDirs: string[];
}

export interface CarryInput {
  repo: RepoLayout;
  pool: Pool;
  parent: number;
  gen: number;
  settings: Record<string, unknown>;
  parentByPath: ReadonlyMap<string, TreeEntry>;
  entries: readonly TreeEntry[];
  change: Change;
  warnings: string[];
}

export function twinsEnabled(settings: Record<string, unknown>): boolean {
  return settings.spareClone !== false && settings.spareTwin !== false;
}

/** Under the writer lock: take the parent's twin (waiting for its maker at most as long as a clone takes) and apply the change to it. */
export async function carryTwin(c: CarryInput): Promise<CarriedTwin | undefined> {
  if (!twinsEnabled(c.settings)) return undefined;
  // Carrying costs what the change costs, cloning what the tree costs: a change of more than a quarter
  // of the tree (a bulk import) is left to the maker, off the publisher's wait.
  if ((c.change.adds.length + c.change.removes.length) * 4 > c.parentByPath.size) return undefined;
  const dir = path.join(c.repo.stagingDir, `${c.gen}.twin`);
  try {
    const taken = await takeSpare(c.repo, c.parent, dir, { kind: 'twin', waitMs: (await lastCloneMs(c.repo)) ?? 0 });
    if (!taken) return undefined;
    // Its own warnings would repeat the staging tree's (the same links, counted once there).
    await applyChange({ pool: c.pool, staging: dir, parentByPath: c.parentByPath, change: c.change, cloned: taken.reply, warnings: [] });
    const faults = await treeFaults(c.pool, dir, c.entries, taken.reply, c.change);
    if (faults.length) throw new Error(faults.slice(0, 3).join('; '));
    trace(`twin-carried${taken.waitedMs ? `-after-${taken.waitedMs}ms` : ''}`);
    const { dirs, touched } = dirsAfter(taken.reply.dirs, c.change, dir);
    return { dir, reply: { files: c.entries.map((e) => e.path), dirs, emlink: [], foreign: [] }, touchedDirs: touched };
  } catch (e) {
    c.warnings.push(`spare twin not carried forward: ${(e as Error).message}`);
    await removePath(dir).catch(() => undefined);
    return undefined;
  }
}

/**
 * After the swap: the twin becomes the spare of the new generation (tree first, record last). A spare of
 * that generation made meanwhile by hand (`rcurepo spare`) wins; ours is then dropped.
 */
export async function storeTwin(repo: RepoLayout, gen: number, twin: CarriedTwin): Promise<void> {
  await mkdirp(spareRoot(repo));
  try {
    await fsp.rename(twin.dir, spareTree(repo, gen));
  } catch (e) {
    const code = errnoCode(e);
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
    await removePath(twin.dir);
    return;
  }
  await writeRecord(repo, gen, 'spare', twin.reply, 0, true);
}

/** The clone's folder list after the change: parents of new paths added, folders the removals emptied gone. */
function dirsAfter(before: readonly string[], change: Change, root: string): { dirs: string[]; touched: string[] } {
  const dirs = new Set(before);
  const touched = new Set<string>();
  for (const a of change.adds) {
    for (let d = path.posix.dirname(a.path); d !== '.'; d = path.posix.dirname(d)) {
      touched.add(d);
      if (dirs.has(d)) break;
      dirs.add(d);
    }
  }
  for (const r of change.removes) {
    for (let d = path.posix.dirname(r); d !== '.'; d = path.posix.dirname(d)) {
      if (fs.existsSync(path.join(root, d))) {
        touched.add(d);
        break;
      }
      dirs.delete(d);
    }
  }
  touched.add('');
  return { dirs: [...dirs], touched: [...touched].filter((d) => dirs.has(d) || d === '').map((d) => path.join(root, d)) };
}
