/** Snapshot trees: the hard-link clone, walks, and removal. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CLONE_WORKER_SOURCE } from './clone-worker.js';
import type { CloneReply, CloneRequest } from './clone-worker.js';
import { errnoCode, errorFromWire, fsError } from '../util/errors.js';


/** Threads making links: two link(2) streams in different folders run in parallel in the kernel. */
const CLONE_THREADS = Math.max(1, Number(process.env.RCUREPO_CLONE_THREADS) || Math.min(2, os.availableParallelism?.() ?? os.cpus().length));
/** A folder with more files than this is handed to a worker whole rather than split further here. */
const SPLIT_MAX_FILES = 256;

function runCloneWorker(req: CloneRequest, onProgress: (files: number) => void): Promise<CloneReply> {
  return new Promise<CloneReply>((resolve, reject) => {
    const w = new Worker(CLONE_WORKER_SOURCE, { eval: true, workerData: req });
    w.on('message', (m: CloneReply | { progress: number }) => {
      if ('progress' in m) onProgress(m.progress);
      else resolve(m);
    });
    w.once('error', reject);
    w.once('exit', (code) => {
      if (code !== 0) reject(new Error(`clone worker exited with code ${code}`));
    });
  });
}

/**
 * Clone `src` into the new directory `dst` (which must not exist) on the same filesystem: mkdir each
 * directory, link each file; never copies file data. The top of the tree is opened here until there
 * are enough subtrees to share, then worker threads clone the subtrees (the main thread stays free).
 * `onProgress` hears the number of files linked so far, every thousand or so (spare makers publish it).
 */
export async function cloneTree(src: string, dst: string, skipRoot: readonly string[] = [], onProgress?: (files: number) => void): Promise<CloneReply> {
  const skip = new Set(skipRoot);
  const reply: CloneReply = { files: [], dirs: [], emlink: [], foreign: [] };
  const roots: string[] = [];
  let frontier = [''];
  try {
    for (let depth = 0; depth < 3 && frontier.length > 0 && frontier.length + roots.length < 4 * CLONE_THREADS && CLONE_THREADS > 1; depth++) {
      const next: string[] = [];
      for (const rel of frontier) {
        const entries = fs.readdirSync(rel ? path.join(src, rel) : src, { withFileTypes: true });
        if (entries.length > SPLIT_MAX_FILES && rel !== '') {
          roots.push(rel);
          continue;
        }
        fs.mkdirSync(rel ? path.join(dst, rel) : dst, { mode: 0o755 });
        reply.dirs.push(rel);
        for (const e of entries) {
          const child = rel ? `${rel}/${e.name}` : e.name;
          if (!rel && skip.has(e.name)) continue;
          if (e.isDirectory()) next.push(child);
          else if (!e.isFile()) reply.foreign.push(child);
          else {
            try {
              fs.linkSync(path.join(src, child), path.join(dst, child));
              reply.files.push(child);
            } catch (err) {
              if (errnoCode(err) === 'EMLINK') reply.emlink.push(child);
              else throw fsError(err, path.join(dst, child), 'cloning the snapshot tree');
            }
          }
        }
      }
      frontier = next;
    }
  } catch (e) {
    throw fsError(e, dst, 'cloning the snapshot tree');
  }
  roots.push(...frontier);
  // Deal the subtrees out round-robin; a single worker with [''] when nothing was opened here.
  const shares: string[][] = Array.from({ length: Math.min(CLONE_THREADS, Math.max(1, roots.length)) }, () => []);
  roots.forEach((r, i) => shares[i % shares.length]!.push(r));
  const linkedHere = reply.files.length;
  const perWorker: number[] = [];
  const report = (i: number, files: number): void => {
    perWorker[i] = files;
    onProgress?.(perWorker.reduce((a, b) => a + (b ?? 0), linkedHere));
  };
  const replies = await Promise.all(shares.filter((s) => s.length > 0).map((share, i) => runCloneWorker({ src, dst, skipRoot: [...skipRoot], roots: share }, (files) => report(i, files))));
  for (const r of replies) {
    if (r.error) {
      const e = errorFromWire({ message: r.error.message, errno: r.error.code });
      throw fsError(e, r.error.path ? path.join(dst, r.error.path) : dst, 'cloning the snapshot tree');
    }
    // concat, not push(...): 100,000 spread arguments overflow the call stack.
    reply.files = reply.files.concat(r.files);
    reply.dirs = reply.dirs.concat(r.dirs);
    reply.emlink = reply.emlink.concat(r.emlink);
    reply.foreign = reply.foreign.concat(r.foreign);
  }
  return reply;
}

export interface WalkedFile {
  rel: string;
  abs: string;
}

/** Walk a tree (sorted, for deterministic output), yielding regular files and reporting anything else. */
export async function* walkTree(root: string, onOther?: (rel: string) => void, rel = '', skipRoot?: ReadonlySet<string>): AsyncGenerator<WalkedFile> {
  const dir = rel ? path.join(root, rel) : root;
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    // Index files and folders at the root (a format's indexFiles) hold no pool entries.
    if (!rel && skipRoot?.has(e.name)) continue;
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
