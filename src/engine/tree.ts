/** Snapshot trees: the hard-link clone, walks, and removal. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CloneReply, CloneRequest } from './clone-worker.js';
import { errnoCode, fsError } from '../util/errors.js';

/** The worker's file next to this module: .ts under tsx (tests), .js when built. */
const workerUrl = new URL(import.meta.url.endsWith('.ts') ? './clone-worker.ts' : './clone-worker.js', import.meta.url);

/**
 * Clone `src` into the new directory `dst` (which must not exist) on the same filesystem: mkdir each
 * directory, link each file; never copies file data. Runs in a worker thread.
 */
export async function cloneTree(src: string, dst: string, skipRoot: readonly string[] = []): Promise<CloneReply> {
  const req: CloneRequest = { src, dst, skipRoot: [...skipRoot] };
  const reply = await new Promise<CloneReply>((resolve, reject) => {
    const w = new Worker(workerUrl, { workerData: req });
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => {
      if (code !== 0) reject(new Error(`clone worker exited with code ${code}`));
    });
  });
  if (reply.error) {
    const e = Object.assign(new Error(reply.error.message), { code: reply.error.code });
    throw fsError(e, reply.error.path ? path.join(dst, reply.error.path) : dst, 'cloning the snapshot tree');
  }
  return reply;
}

export interface WalkedFile {
  rel: string;
  abs: string;
}

/** Walk a tree (sorted, for deterministic output), yielding regular files and reporting anything else. */
export async function* walkTree(root: string, onOther?: (rel: string) => void, rel = ''): AsyncGenerator<WalkedFile> {
  const dir = rel ? path.join(root, rel) : root;
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) yield* walkTree(root, onOther, r);
    else if (e.isFile()) yield { rel: r, abs: path.join(root, r) };
    else onOther?.(r);
  }
}

/** Remove empty directories from `rel`'s parent up to (not including) the root. */
export async function pruneEmptyParents(root: string, rel: string): Promise<void> {
  let dir = path.posix.dirname(rel);
  while (dir !== '.' && dir !== '') {
    try {
      await fsp.rmdir(path.join(root, dir));
    } catch (e) {
      const c = errnoCode(e);
      if (c === 'ENOTEMPTY' || c === 'EEXIST' || c === 'ENOENT') return;
      throw e;
    }
    dir = path.posix.dirname(dir);
  }
}
