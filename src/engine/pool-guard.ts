/**
 * Mutual exclusion between pool users (transactions adding and linking blobs, in any repository) and
 * the pool sweep (which deletes blobs whose link count is 1). Without it a sweep could see nlink == 1,
 * a transaction could then deduplicate against that blob and link it into staging, and the sweep would
 * delete the pool name: the new snapshot would hold content the pool no longer knows.
 *
 * Same shape as the lease/condemn protocol: a user creates its marker THEN looks for a sweep marker;
 * the sweeper creates its marker THEN looks for users. On a local filesystem one side always sees the
 * other. Markers of dead processes (same host) are ignored and removed.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Layout } from './layout.js';
import { errnoCode, RcuError } from '../util/errors.js';
import { isProcessAlive } from '../util/process.js';

const SWEEP_MARKER = 'sweep';
const USER_PREFIX = 'user-';

interface Marker {
  pid: number;
  host: string;
}

/**
 * A marker is a symbolic link whose target names its process ("pid:host"): created atomically and, being
 * short, without a data block, so the sweep that frees space can mark itself on a full disk. (A marker
 * file with JSON content, of older versions, is still read.)
 */
async function createMarker(file: string): Promise<void> {
  await fsp.symlink(`${process.pid}:${encodeURIComponent(os.hostname())}`, file);
}

async function readMarker(file: string): Promise<Marker | 'unreadable'> {
  const st = await fsp.lstat(file);
  if (st.isSymbolicLink()) {
    const [pid, host] = (await fsp.readlink(file)).split(':');
    if (!/^\d+$/.test(pid ?? '') || host === undefined) return 'unreadable';
    return { pid: Number(pid), host: decodeURIComponent(host) };
  }
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as Marker;
  } catch (e) {
    if (e instanceof SyntaxError) return 'unreadable';
    throw e;
  }
}

async function markerIsLive(file: string): Promise<boolean> {
  let m: Marker | 'unreadable';
  try {
    m = await readMarker(file);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false;
    throw e;
  }
  // An older version's marker being written (empty/partial) belongs to a live process that just created it.
  if (m === 'unreadable') return true;
  if (m.host !== os.hostname()) return true; // cannot check another host: assume alive
  if (isProcessAlive(m.pid)) return true;
  await fsp.rm(file, { force: true });
  return false;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface PoolUse {
  leave(): Promise<void>;
}

/** Register as a pool user; waits (bounded) while a sweep runs. */
export async function enterPool(layout: Layout, waitMs = 120_000): Promise<PoolUse> {
  const dir = layout.poolGuardDir;
  const mine = path.join(dir, `${USER_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
  const deadline = Date.now() + waitMs;
  for (;;) {
    await createMarker(mine);
    if (!(await markerIsLive(path.join(dir, SWEEP_MARKER)))) {
      return { leave: () => fsp.rm(mine, { force: true }) };
    }
    await fsp.rm(mine, { force: true });
    if (Date.now() > deadline) throw new RcuError('BUSY', 'the pool is being swept; try again later');
    await sleep(50 + Math.random() * 50);
  }
}

/**
 * Run `fn` while no pool user is active. Returns undefined (without running fn) when users do not
 * drain within waitMs: a sweep is optional work and must not stall publishing.
 */
export async function withPoolExclusive<T>(layout: Layout, fn: () => Promise<T>, waitMs = 30_000): Promise<T | undefined> {
  const dir = layout.poolGuardDir;
  const marker = path.join(dir, SWEEP_MARKER);
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await createMarker(marker);
      break;
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e;
      if (await markerIsLive(marker)) {
        if (Date.now() > deadline) return undefined;
        await sleep(100);
      }
    }
  }
  try {
    for (;;) {
      let busy = false;
      for (const name of await fsp.readdir(dir)) {
        if (name.startsWith(USER_PREFIX) && (await markerIsLive(path.join(dir, name)))) busy = true;
      }
      if (!busy) return await fn();
      if (Date.now() > deadline) return undefined;
      await sleep(50);
    }
  } finally {
    await fsp.rm(marker, { force: true });
  }
}
