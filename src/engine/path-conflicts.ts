/**
 * Files and folders of one name: a change that adds `a/b` where the tree (after the change's removals)
 * has a file `a`, or adds a file `a` where the tree has a folder `a`, cannot be applied. It is found here,
 * from the plan alone, before any blob enters the pool and before a generation number is taken, so the
 * refusal changes nothing (rather than failing halfway through linking the staging tree).
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Change } from './transaction.js';
import type { TreeEntry } from '../formats/format.js';
import { errnoCode, RcuError } from '../util/errors.js';

type Kind = 'file' | 'dir' | 'none';

export interface TreeShape {
  /** What the parent snapshot has at `p`. */
  kindOf(p: string): Promise<Kind>;
  /** Paths of the parent's files under folder `p`. */
  filesUnder(p: string): Promise<string[]>;
}

/** The parent's shape read from its entries (when they are loaded anyway: bulk changes). */
export function shapeFromEntries(byPath: ReadonlyMap<string, TreeEntry>): TreeShape {
  let dirs: Map<string, string[]> | undefined;
  const dirIndex = () => {
    if (!dirs) {
      dirs = new Map();
      for (const p of byPath.keys()) {
        for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) {
          const d = p.slice(0, i);
          const list = dirs.get(d);
          if (list) list.push(p);
          else dirs.set(d, [p]);
        }
      }
    }
    return dirs;
  };
  return {
    kindOf: async (p) => (byPath.has(p) ? 'file' : dirIndex().has(p) ? 'dir' : 'none'),
    filesUnder: async (p) => dirIndex().get(p) ?? [],
  };
}

/** The parent's shape read from the snapshot folder (few changes: a handful of lstat calls). */
export function shapeFromDisk(parentDir: string, byPath: () => Promise<ReadonlyMap<string, TreeEntry>>): TreeShape {
  const cache = new Map<string, Promise<Kind>>();
  const kindOf = (p: string): Promise<Kind> => {
    let k = cache.get(p);
    if (!k) {
      k = fsp.lstat(path.join(parentDir, p)).then(
        (st) => (st.isDirectory() ? 'dir' : 'file'),
        (e: unknown) => {
          if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return 'none';
          throw e;
        },
      );
      cache.set(p, k);
    }
    return k;
  };
  return {
    kindOf,
    filesUnder: async (p) => [...(await byPath()).keys()].filter((f) => f.startsWith(p + '/')),
  };
}

/** Throws BAD_INPUT naming every add that collides with a file or folder of the resulting tree. */
export async function assertNoPathConflicts(change: Change, shape: TreeShape): Promise<void> {
  if (change.adds.length === 0) return;
  const removed = new Set(change.removes);
  const added = new Set(change.adds.map((a) => a.path));
  const addedDirs = new Set<string>();
  for (const p of added) for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) addedDirs.add(p.slice(0, i));
  const faults: string[] = [];
  const fileAfter = async (q: string) => added.has(q) || (!removed.has(q) && (await shape.kindOf(q)) === 'file');
  for (const a of change.adds) {
    for (let i = a.path.indexOf('/'); i >= 0; i = a.path.indexOf('/', i + 1)) {
      const q = a.path.slice(0, i);
      if (await fileAfter(q)) {
        faults.push(`${a.path}: its folder '${q}' is a file in the repository${added.has(q) ? ' (added by this change)' : ''}`);
        break;
      }
    }
    if (addedDirs.has(a.path)) faults.push(`${a.path}: this change also adds files inside a folder of that name`);
    else if ((await shape.kindOf(a.path)) === 'dir' && (await shape.filesUnder(a.path)).some((f) => !removed.has(f))) {
      faults.push(`${a.path}: a folder of that name exists in the repository`);
    }
  }
  if (faults.length) {
    throw new RcuError('BAD_INPUT', faults.length === 1 ? `${faults[0]}; nothing was imported` : `${faults.length} paths collide with files or folders of the repository; nothing was imported`, {
      details: faults.length === 1 ? [] : faults.slice(0, 50),
    });
  }
}
