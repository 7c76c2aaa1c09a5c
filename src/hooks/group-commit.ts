/**
 * Group commit through the filesystem (no daemon): a caller that has prepared its files (staged and
 * placed, outside the lock) queues a request, then alternates between "is my outcome there?" and "can I
 * take the writer lock?". Whoever takes the lock leads: it publishes every queued request in one
 * transaction (batch.ts) and answers each before releasing. Callers that arrive while a transaction runs
 * are thus merged into the next one: N concurrent imports cost a handful of publishes, not N.
 *
 * A leader that dies leaves claimed requests without outcomes; their callers keep polling, one of them
 * becomes the next leader and takes them again (a publish that did happen is then found "unchanged").
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { trace } from '../util/trace.js';
import type { Layout } from '../engine/layout.js';
import type { Format } from '../formats/format.js';
import type { PreparedFile } from '../engine/importer.js';
import { acquireWriterLock, lockDirOf, readLockHolder, waitLeftMs } from '../engine/lock.js';
import type { LockHolder, WriterLock } from '../engine/lock.js';
import { Pool } from '../engine/pool.js';
import type { ImportResult } from '../engine/importer.js';
import { forgetRequest, newRequestId, queueDir, readOutcome, withdrawRequest, writeRequest } from './queue.js';
import type { QueueRequest } from './queue.js';
import { leadBatch } from './batch.js';
import { errnoCode, isRcuError, RcuError } from '../util/errors.js';

export interface SubmitOptions {
  layout: Layout;
  repoName: string;
  format: Format;
  prepared: readonly PreparedFile[];
  inputs: number;
  args: string[];
  replace?: boolean;
  actor?: string;
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
  manifest?: { key: string; name: string };
  /** Held here once queued until the other imports submitted with it are queued too (see CommitGate). */
  gate?: CommitGate;
}

/**
 * A caller that submits many imports at once from one process (the watcher's round) holds each one,
 * once queued, until every other one is queued (or has finished without queuing): only then do they
 * compete for the lock, so the first to take it publishes them all in ONE transaction instead of
 * whichever happened to be queued by then.
 */
export interface CommitGate {
  /** This import is queued, or will not be: resolves once every member of the group has said so. */
  arrive(): Promise<void>;
}

/** Gates for `n` imports submitted together; arriving twice counts once. */
export function commitGates(n: number): CommitGate[] {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  if (n <= 0) open();
  return Array.from({ length: n }, () => {
    let mine = false;
    return {
      arrive() {
        if (!mine) {
          mine = true;
          if (++arrived >= n) open();
        }
        return opened;
      },
    };
  });
}

/**
 * Waiters sleep until their outcome appears or the writer lock is released (inotify on the two folders),
 * so a burst of 50 callers does not cost 50 processes polling the lock many times a second. The poll is
 * the fallback (filesystems without inotify, a stale lock to take over) and spreads the herd a little.
 */
const POLL_MIN_MS = 250;
const POLL_SPREAD_MS = 250;
/** Without a working watch, poll as before: quickly. */
const BLIND_POLL_MIN_MS = 40;
const BLIND_POLL_SPREAD_MS = 80;
/** Waiting is normal in a burst: only say so when it lasts. */
const NOTICE_AFTER_MS = 1000;

/** Sleep up to a poll interval, or until one of the `names` changes in its folder (any failure to watch just means polling). */
function napper(targets: readonly { dir: string; name: string }[]): { nap(): Promise<void>; close(): void } {
  let wake: (() => void) | undefined;
  const watchers: fs.FSWatcher[] = [];
  let blind = false;
  for (const { dir, name } of targets) {
    try {
      const w = fs.watch(dir, { persistent: false }, (_ev, file) => {
        if (file === null || file === name) wake?.();
      });
      w.on('error', () => {
        blind = true;
        w.close();
      });
      watchers.push(w);
    } catch (e) {
      if (!['ENOSPC', 'EMFILE', 'ENOENT', 'EPERM', 'ENOSYS'].includes(errnoCode(e) ?? '')) throw e;
      blind = true;
    }
  }
  return {
    nap: () =>
      new Promise<void>((resolve) => {
        const ms = blind ? BLIND_POLL_MIN_MS + Math.random() * BLIND_POLL_SPREAD_MS : POLL_MIN_MS + Math.random() * POLL_SPREAD_MS;
        const t = setTimeout(done, ms);
        function done() {
          clearTimeout(t);
          wake = undefined;
          resolve();
        }
        wake = done;
      }),
    close: () => {
      for (const w of watchers) w.close();
    },
  };
}

async function tryLock(target: string): Promise<WriterLock | undefined> {
  try {
    return await acquireWriterLock(target, { operation: 'import', waitSeconds: 0 });
  } catch (e) {
    if (isRcuError(e, 'BUSY')) return undefined;
    throw e;
  }
}

/** Queue the prepared files and return once they are published (or throw the refusal). Owns `prepared`'s staged copies. */
export async function submitImport(o: SubmitOptions): Promise<ImportResult> {
  const repo = o.layout.repo(o.repoName);
  const req: QueueRequest = {
    id: newRequestId(),
    pid: process.pid,
    host: os.hostname(),
    created: new Date().toISOString(),
    replace: !!o.replace,
    actor: o.actor,
    args: o.args,
    inputs: o.inputs,
    files: o.prepared.map((p) => ({
      source: p.source.abs,
      rel: p.source.rel,
      tmpPath: p.staged.tmpPath,
      sha256: p.staged.sha256,
      sha1: p.staged.sha1,
      size: p.staged.size,
      treePath: p.placement.treePath,
      meta: p.placement.meta,
    })),
    manifest: o.manifest,
  };
  const waitMs = (o.waitSeconds ?? 300) * 1000;
  const start = Date.now();
  let claimed = false;
  let noticed = false;
  let sleeper: ReturnType<typeof napper> | undefined;
  try {
    await writeRequest(repo, req);
    trace('group: request written');
    await o.gate?.arrive();
    for (;;) {
      const out = await readOutcome(repo, req.id);
      if (out?.status === 'done') {
        trace('group: published');
        return out.result;
      }
      if (out) throw new RcuError(out.code, out.message, { details: out.details });
      const lock = await tryLock(repo.lockTarget);
      trace('group: lock tried');
      if (lock) {
        try {
          await leadBatch({ layout: o.layout, repoName: o.repoName, format: o.format, lock });
        } finally {
          await lock.release().catch(() => undefined);
        }
        continue;
      }
      const waited = Date.now() - start;
      // Give up only on a holder that is still there and not a short housekeeping one (a lock released
      // since the attempt above is simply tried again).
      const holder = waited >= waitMs && !claimed ? await readLockHolder(repo.lockTarget) : undefined;
      if (holder && waitLeftMs(waited, waitMs, holder.operation) <= 0) {
        // Withdraw unless a leader already took the request into its transaction (then the outcome is near).
        if (await withdrawRequest(repo, req.id)) throw await busyError(repo.lockTarget, o.waitSeconds ?? 300);
        claimed = true;
      }
      if (!noticed && waited >= Math.min(NOTICE_AFTER_MS, waitMs)) {
        noticed = true;
        o.onWait?.(await readLockHolder(repo.lockTarget));
      }
      const lockDir = lockDirOf(repo.lockTarget);
      sleeper ??= napper([
        { dir: queueDir(repo), name: `${req.id}.res.json` },
        { dir: path.dirname(lockDir), name: path.basename(lockDir) },
      ]);
      await sleeper.nap();
    }
  } finally {
    sleeper?.close();
    await forgetRequest(repo, req.id).catch(() => undefined);
    await new Pool(o.layout).discard(o.prepared.map((p) => p.staged)).catch(() => undefined);
  }
}

async function busyError(target: string, waitSeconds: number): Promise<RcuError> {
  const h = await readLockHolder(target);
  const who = h ? `pid ${h.pid} (${h.user}@${h.host}, ${h.operation} since ${h.since})` : 'another writer';
  return new RcuError('BUSY', `repository busy: lock held by ${who}; nothing was imported`, {
    details: [waitSeconds > 0 ? `waited ${waitSeconds} s` : 'did not wait (--wait 0)'],
    data: { holder: h },
  });
}
