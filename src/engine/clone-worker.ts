/**
 * Worker thread body for the hard-link clone: a tight synchronous loop (the fastest way to make
 * 100,000 links from Node) that runs off the main thread, so lock refreshes and servers keep running.
 */
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

export interface CloneRequest {
  src: string;
  dst: string;
  /** Names at the tree root not to clone (index files the format regenerates). */
  skipRoot: string[];
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

function clone(req: CloneRequest): CloneReply {
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
          reply.files.push(childRel);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EMLINK') reply.emlink.push(childRel);
          else throw Object.assign(err as Error, { relPath: childRel });
        }
      } else reply.foreign.push(childRel);
    }
  };
  try {
    walk('');
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { relPath?: string };
    reply.error = { code: e.code, message: e.message, path: e.relPath };
  }
  return reply;
}

if (parentPort) parentPort.postMessage(clone(workerData as CloneRequest));
