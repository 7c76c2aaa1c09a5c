/**
 * Body of the hard-link clone worker: a tight synchronous loop (the fastest way to make 100,000 links
 * from Node) that runs in a worker thread, so lock refreshes and servers keep running meanwhile.
 *
 * The function is shipped to the worker as source text (`eval` worker), which works the same from the
 * built JavaScript and from TypeScript sources under tsx (whose loader does not reach worker threads).
 * It must therefore be self-contained: no reference to anything outside its own body.
 */
import type fsModule from 'node:fs';

export interface CloneRequest {
  src: string;
  dst: string;
  /** Names at the tree root not to clone (index files the format regenerates). */
  skipRoot: string[];
  /** Relative folders to clone, each with everything below it ('' = the whole tree). */
  roots: string[];
}

export interface CloneReply {
  /** Relative paths of the files linked, in walk order. */
  files: string[];
  /** Relative paths of directories created ('' = the root). */
  dirs: string[];
  /** Files that could not be linked because their inode is at the link limit. */
  emlink: string[];
  /** Anything that is neither a regular file nor a directory (a snapshot never holds one). */
  foreign: string[];
  error?: { code?: string; message: string; path?: string };
}

/** How often (in files linked) a clone reports its progress. */
export const PROGRESS_EVERY = 1024;

export function cloneSync(fs: typeof fsModule, req: CloneRequest, onProgress?: (files: number) => void): CloneReply {
  const reply: CloneReply = { files: [], dirs: [], emlink: [], foreign: [] };
  const skip = new Set(req.skipRoot);
  const walk = (rel: string): void => {
    const s = rel ? `${req.src}/${rel}` : req.src;
    const d = rel ? `${req.dst}/${rel}` : req.dst;
    fs.mkdirSync(d, { mode: 0o755 });
    reply.dirs.push(rel);
    for (const e of fs.readdirSync(s, { withFileTypes: true })) {
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      if (!rel && skip.has(e.name)) continue;
      if (e.isDirectory()) walk(childRel);
      else if (e.isFile()) {
        try {
          fs.linkSync(`${s}/${e.name}`, `${d}/${e.name}`);
          // The literal, not PROGRESS_EVERY: this body runs as source text in the worker (see above).
          if (reply.files.push(childRel) % 1024 === 0) onProgress?.(reply.files.length);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EMLINK') reply.emlink.push(childRel);
          else throw Object.assign(err as Error, { relPath: childRel });
        }
      } else reply.foreign.push(childRel);
    }
  };
  try {
    for (const r of req.roots) walk(r);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { relPath?: string };
    reply.error = { code: e.code, message: e.message, path: e.relPath };
  }
  return reply;
}

/** Source of the eval worker: runs cloneSync on workerData and posts the reply. */
export const CLONE_WORKER_SOURCE = `
const __name = (f) => f; // esbuild (tsx) may wrap named functions with __name when keeping names
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
parentPort.postMessage((${cloneSync.toString()})(fs, workerData, (files) => parentPort.postMessage({ progress: files })));
`;
