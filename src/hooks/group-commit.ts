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
import { trace } from '../util/trace.js';
import type { Layout } from '../engine/layout.js';
import type { Format } from '../formats/format.js';
import type { PreparedFile } from '../engine/importer.js';
import { acquireWriterLock, readLockHolder } from '../engine/lock.js';
import type { LockHolder, WriterLock } from '../engine/lock.js';
import { Pool } from '../engine/pool.js';
import type { ImportResult } from '../commands/import.js';
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
}

/** Outcomes wake waiters through a directory watch; the poll is the fallback and the lock retry interval. */
const POLL_MIN_MS = 40;
const POLL_SPREAD_MS = 80;
/** Waiting is normal in a burst: only say so when it lasts. */
const NOTICE_AFTER_MS = 1000;

/** Sleep up to `ms`, or until `name` appears in `dir` (inotify; any failure to watch just means polling). */
function napper(dir: string, name: string): { nap(ms: number): Promise<void>; close(): void } {
  let wake: (() => void) | undefined;
  let watcher: fs.FSWatcher | undefined;
  try {
    watcher = fs.watch(dir, { persistent: false }, (_ev, file) => {
      if (file === null || file === name) wake?.();
    });
    watcher.on('error', () => watcher?.close());
  } catch (e) {
    if (!['ENOSPC', 'EMFILE', 'ENOENT', 'EPERM', 'ENOSYS'].includes(errnoCode(e) ?? '')) throw e;
  }
  return {
    nap: (ms) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(done, ms);
        function done() {
          clearTimeout(t);
          wake = undefined;
          resolve();
        }
        wake = done;
      }),
    close: () => watcher?.close(),
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
    for (;;) {
      const out = await readOutcome(repo, req.id);
      if (out?.status === 'done') return out.result;
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
      if (waited >= waitMs && !claimed) {
        // Withdraw unless a leader already took the request into its transaction (then the outcome is near).
        if (await withdrawRequest(repo, req.id)) throw await busyError(repo.lockTarget, o.waitSeconds ?? 300);
        claimed = true;
      }
      if (!noticed && waited >= Math.min(NOTICE_AFTER_MS, waitMs)) {
        noticed = true;
        o.onWait?.(await readLockHolder(repo.lockTarget));
      }
      sleeper ??= napper(queueDir(repo), `${req.id}.res.json`);
      await sleeper.nap(POLL_MIN_MS + Math.random() * POLL_SPREAD_MS);
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
