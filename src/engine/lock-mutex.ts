/**
 * The takeover mutex of the writer lock: the symbolic link `<target>.lock.takeover`, whose target is the
 * holder's liveness record (symlink(2) creates it atomically, and a short target needs no data block, so
 * a lock can be released on a full disk), held for milliseconds while a taker re-checks and replaces a stale lock (and
 * by a late refresh or a release). Recoverable itself: stale when its holder is dead on this host or it is
 * older than TAKEOVER_STALE_MS; breaking it renames it away and verifies what was moved. See lock.ts.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from '../util/errors.js';
import { tmpName } from '../util/fsx.js';
import { holderLiveness, ownRecord, recordToLink } from './lock-holder.js';
import { lstatBig, observeFile, type Observed } from './lock-observe.js';

/** The takeover mutex is held for milliseconds; older than this it is abandoned. */
export const TAKEOVER_STALE_MS = 5_000;
/** Temporary-name hints of the mutex (lock.ts removes leftovers by them). */
export const HINT_MUTEX_NEW = 'lock-mutex-new';
export const HINT_MUTEX_TRASH = 'lock-mutex-trash';

function mutexPathOf(target: string): string {
  return `${target}.lock.takeover`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));


interface MutexHandle {
  path: string;
  dev: bigint;
  ino: bigint;
}

function mutexStale(o: Observed): boolean {
  if (o.record && holderLiveness(o.record) === 'dead') return true;
  return Date.now() - o.mtimeMs > TAKEOVER_STALE_MS;
}

/** Remove an abandoned mutex: rename it away, check it is the one judged stale, else put it back. */
async function breakMutex(p: string, stale: Observed): Promise<void> {
  const trash = tmpName(path.dirname(p), HINT_MUTEX_TRASH);
  try {
    await fsp.rename(p, trash);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return;
    throw e;
  }
  try {
    const moved = await lstatBig(trash);
    if (moved && (moved.dev !== stale.dev || moved.ino !== stale.ino)) {
      // Someone else broke it first and made a fresh one, which we just moved: give it back.
      await fsp.link(trash, p).catch(() => undefined);
    }
  } finally {
    await fsp.rm(trash, { force: true });
  }
}

async function tryMutex(p: string): Promise<MutexHandle | undefined> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fsp.symlink(recordToLink(ownRecord('takeover', TAKEOVER_STALE_MS)), p);
      const st = await fsp.lstat(p, { bigint: true });
      return { path: p, dev: st.dev, ino: st.ino };
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e;
    }
    const held = await observeFile(p);
    if (!held) continue; // released meanwhile: try again at once
    if (!mutexStale(held)) return undefined;
    await breakMutex(p, held);
  }
  return undefined;
}

async function releaseMutex(m: MutexHandle): Promise<void> {
  const st = await lstatBig(m.path);
  if (st && st.dev === m.dev && st.ino === m.ino) await fsp.rm(m.path, { force: true });
}

/** Run `fn` holding the takeover mutex; undefined if the mutex could not be had within `waitMs`. */
export async function withMutex<T>(target: string, waitMs: number, fn: () => Promise<T>): Promise<{ value: T } | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const m = await tryMutex(mutexPathOf(target));
    if (m) {
      try {
        return { value: await fn() };
      } finally {
        await releaseMutex(m);
      }
    }
    if (Date.now() >= deadline) return undefined;
    await sleep(5 + Math.random() * 20);
  }
}
