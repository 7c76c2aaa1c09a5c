/** Snapshot trees: the hard-link clone, walks, and removal. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CLONE_WORKER_SOURCE } from './clone-worker.js';
import type { CloneReply, CloneRequest } from './clone-worker.js';
import { errnoCode, fsError } from '../util/errors.js';


/**
 * Clone `src` into the new directory `dst` (which must not exist) on the same filesystem: mkdir each
 * directory, link each file; never copies file data. Runs in a worker thread.
 */
export async function cloneTree(src: string, dst: string, skipRoot: readonly string[] = []): Promise<CloneReply> {
  const req: CloneRequest = { src, dst, skipRoot: [...skipRoot] };
  const reply = await new Promise<CloneReply>((resolve, reject) => {
    const w = new Worker(CLONE_WORKER_SOURCE, { eval: true, workerData: req });
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


export function pruneEmptyParentsSync(root: string, rel: string): void {
  let dir = path.posix.dirname(rel);
  while (dir !== '.' && dir !== '') {
    try {
      fs.rmdirSync(path.join(root, dir));
    } catch (e) {
      const c = errnoCode(e);
      if (c === 'ENOTEMPTY' || c === 'EEXIST' || c === 'ENOENT') return;
      throw e;
    }
    dir = path.posix.dirname(dir);
  }
}
