/**
 * The per-repository group-commit queue: a directory of small JSON records (repos/NAME/queue/).
 *
 *   <id>.req.json    a caller's request, written by the caller (temp + rename) before it competes for the lock
 *   <id>.claim.json  the same record once a leader has taken it into a transaction (renamed by the leader)
 *   <id>.res.json    the outcome, written by the leader before it releases the writer lock
 *
 * The records need no fsync: they only mean something while their caller is alive, and a caller does
 * not outlive a machine crash. Every record carries the caller's pid so a leader can drop requests of
 * callers that died (their staged copies are removed by the engine's pool/tmp cleanup).
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { RepoLayout } from '../engine/layout.js';
import type { ImportResult } from '../engine/importer.js';
import type { ErrorCode } from '../util/errors.js';
import { errnoCode } from '../util/errors.js';
import { listDir, mkdirp, TMP_PREFIX, tmpName } from '../util/fsx.js';
import { isProcessAlive } from '../util/process.js';

export interface QueuedFile {
  source: string;
  rel: string;
  /**
   * The caller's private staged copy in pool/tmp (the leader links its own name to it, never moves it);
   * absent when the pool already held the bytes (the leader then lets the commit check the blob).
   */
  tmpPath?: string;
  sha256: string;
  sha1: string;
  size: number;
  treePath: string;
  meta?: unknown;
}

export interface QueueRequest {
  id: string;
  pid: number;
  host: string;
  created: string;
  replace: boolean;
  actor?: string;
  args: string[];
  inputs: number;
  files: QueuedFile[];
  /** Set for an upload manifest: its identity, recorded as delivered once published. */
  manifest?: { key: string; name: string };
}

export type QueueOutcome =
  | { status: 'done'; result: ImportResult }
  | { status: 'refused'; code: ErrorCode; message: string; details: string[] };

export function queueDir(repo: RepoLayout): string {
  return repo.queueDir;
}

const reqPath = (dir: string, id: string) => path.join(dir, `${id}.req.json`);
const claimPath = (dir: string, id: string) => path.join(dir, `${id}.claim.json`);
const resPath = (dir: string, id: string) => path.join(dir, `${id}.res.json`);

export function newRequestId(): string {
  // Sortable by time, unique across processes.
  return `${Date.now().toString(36).padStart(9, '0')}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Write JSON by temporary name + rename, without fsync (see the module comment). */
async function writeJsonQuick(target: string, value: unknown): Promise<void> {
  const tmp = tmpName(path.dirname(target));
  await fsp.writeFile(tmp, JSON.stringify(value), { flag: 'wx' });
  await fsp.rename(tmp, target);
}

async function readJson<T>(p: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(p, 'utf8')) as T;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    if (e instanceof SyntaxError) return undefined; // renamed into place whole: only a foreign file is torn
    throw e;
  }
}

export async function writeRequest(repo: RepoLayout, req: QueueRequest): Promise<void> {
  const dir = queueDir(repo);
  await mkdirp(dir);
  await writeJsonQuick(reqPath(dir, req.id), req);
}

export async function readOutcome(repo: RepoLayout, id: string): Promise<QueueOutcome | undefined> {
  return readJson<QueueOutcome>(resPath(queueDir(repo), id));
}

export async function writeOutcome(repo: RepoLayout, id: string, outcome: QueueOutcome): Promise<void> {
  await writeJsonQuick(resPath(queueDir(repo), id), outcome);
}

/**
 * The caller's last step: remove its request (pending or claimed), then its outcome. In that order: a
 * leader that lists the queue between the two removals would otherwise see a claim without an outcome
 * from a live caller, take it for its dead leader's leftover and answer it again, an outcome nobody reads.
 */
export async function forgetRequest(repo: RepoLayout, id: string): Promise<void> {
  const dir = queueDir(repo);
  await Promise.all([reqPath(dir, id), claimPath(dir, id)].map((p) => fsp.rm(p, { force: true })));
  await fsp.rm(resPath(dir, id), { force: true });
}

/**
 * Take a pending request back (the caller's --wait ran out). True when withdrawn; false when a leader
 * already claimed it, in which case its outcome is on the way and the caller must wait for it.
 */
export async function withdrawRequest(repo: RepoLayout, id: string): Promise<boolean> {
  const dir = queueDir(repo);
  const trash = tmpName(dir, 'withdrawn');
  try {
    await fsp.rename(reqPath(dir, id), trash);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false;
    throw e;
  }
  await fsp.rm(trash, { force: true });
  return true;
}

/**
 * Under the writer lock: every request without an outcome whose caller is alive, oldest first, each
 * claimed (so its caller can no longer withdraw it). Records of dead callers, stray outcomes and temporary
 * names of dead processes are removed on the way. Claimed records without an outcome are taken again:
 * their leader died before finishing.
 */
export async function drainQueue(repo: RepoLayout): Promise<QueueRequest[]> {
  const dir = queueDir(repo);
  const names = await listDir(dir);
  const have = new Set(names);
  const host = os.hostname();
  const out: QueueRequest[] = [];
  for (const name of names.sort()) {
    if (name.startsWith(TMP_PREFIX)) {
      const pid = Number(name.slice(TMP_PREFIX.length).split('-')[0]);
      if (Number.isInteger(pid) && pid !== process.pid && !isProcessAlive(pid)) await fsp.rm(path.join(dir, name), { force: true });
      continue;
    }
    const m = /^(.+)\.(req|claim|res)\.json$/.exec(name);
    if (!m) continue;
    const id = m[1]!;
    const pid = Number(id.split('-')[1]);
    if (m[2] === 'res') {
      // An outcome whose caller is gone will never be read.
      if (!isProcessAlive(pid)) await fsp.rm(path.join(dir, name), { force: true });
      continue;
    }
    if (have.has(`${id}.res.json`)) continue;
    const req = await readJson<QueueRequest>(path.join(dir, name));
    if (!req) continue;
    if (req.host !== host) continue; // not ours to judge (the lock area should be local anyway)
    if (!isProcessAlive(req.pid)) {
      await fsp.rm(path.join(dir, name), { force: true });
      continue;
    }
    if (m[2] === 'req') {
      try {
        await fsp.rename(reqPath(dir, id), claimPath(dir, id));
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') continue; // withdrawn just now
        throw e;
      }
    }
    out.push(req);
  }
  return out;
}
