/**
 * Observing the writer lock's directory (or the takeover mutex file) as it is now: identity (dev, ino,
 * mtime, token) and the holder record, and whether what was seen is stale. See lock.ts for the mechanism.
 */
import fsp from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../util/errors.js';
import { type HolderRecord, holderLiveness, parseHolderRecord, recordFromLink, recordFromNames } from './lock-holder.js';

/** The holder record file of older versions (a lock they hold is still understood). */
export const HOLDER_FILE = 'holder.json';


export interface Observed {
  dev: bigint;
  ino: bigint;
  mtimeNs: bigint;
  mtimeMs: number;
  record: HolderRecord | undefined;
}

export async function lstatBig(p: string): Promise<BigIntStats | undefined> {
  try {
    return await fsp.lstat(p, { bigint: true });
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * What is at `p` now, undefined when absent: its identity and the holder record it carries (the lock
 * directory's entry names, or the mutex symlink's target; older versions' holder.json and mutex file
 * content too). A record that vanished between lstat and read, or is missing, leaves `record`
 * undefined: such an entry is judged by its age.
 */
async function observeAt(p: string, kind: 'dir' | 'file'): Promise<Observed | undefined> {
  const st = await lstatBig(p);
  if (!st) return undefined;
  let record: HolderRecord | undefined;
  try {
    if (kind === 'dir' && st.isDirectory()) {
      const names = await fsp.readdir(p);
      record = names.includes(HOLDER_FILE) ? parseHolderRecord(await fsp.readFile(path.join(p, HOLDER_FILE), 'utf8')) : recordFromNames(names);
    } else if (kind === 'file' && st.isSymbolicLink()) record = recordFromLink(await fsp.readlink(p));
    else if (kind === 'file' && st.isFile()) record = parseHolderRecord(await fsp.readFile(p, 'utf8'));
  } catch (e) {
    const c = errnoCode(e);
    if (c !== 'ENOENT' && c !== 'ENOTDIR' && c !== 'EISDIR' && c !== 'EINVAL') throw e;
  }
  return { dev: st.dev, ino: st.ino, mtimeNs: st.mtimeNs, mtimeMs: Number(st.mtimeMs), record };
}

/** The lock directory (or a moved copy) as it is now. */
export const observe = (dir: string): Promise<Observed | undefined> => observeAt(dir, 'dir');

/** The takeover mutex file as it is now (its record is a holder record too). */
export const observeFile = (file: string): Promise<Observed | undefined> => observeAt(file, 'file');

export function sameIdentity(a: Observed, b: Observed): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.mtimeNs === b.mtimeNs && a.record?.token === b.record?.token;
}

/** Why the observed lock is stale, or undefined when it is not. */
export function staleReason(o: Observed, defaultStaleMs: number): string | undefined {
  const rec = o.record;
  if (rec && holderLiveness(rec) === 'dead') return `holder pid ${rec.pid} on ${rec.host} is gone`;
  const staleMs = rec?.staleMs ?? defaultStaleMs;
  const age = Date.now() - o.mtimeMs;
  if (age > staleMs) return `not refreshed for ${Math.round(age)} ms (stale after ${staleMs} ms)`;
  return undefined;
}
