/**
 * The repository writer lock (rcu-protocol.md, "Writer" step 1 and 10).
 *
 * Mechanism (same idea as proper-lockfile, written out here because its stale handling and its
 * `onCompromised` default are unsafe for us, see below; proper-lockfile itself is not used):
 *
 * - The lock is the directory `<target>.lock/`, whose entries name the holder (pid, user, host, operation,
 *   since, a random token, plus boot id, process start time and the holder's staleMs), one empty file
 *   `field=value` each, so that no data block is needed and gc can lock a full disk (a `holder.json` of
 *   an older version is still read). It is built complete under a
 *   temporary name next to the target and put in place with rename(2), which fails when `<target>.lock`
 *   exists (a lock directory is never empty), so "the directory exists" always means "a readable holder".
 * - The holder refreshes the directory's mtime every `updateMs`. Before each refresh it checks the lock is
 *   still its own by identity: the directory's (dev, ino) and the token in holder.json. Any mismatch marks
 *   the lock compromised (never thrown from a timer); `assertHeld()` runs the same check on demand and
 *   throws RcuError('FAILURE'). A refresh that comes late (more than staleMs/2 after the previous one, e.g.
 *   after a blocked event loop) is done under the takeover mutex, so it cannot interleave with a takeover
 *   decided on the old mtime.
 * - A lock is stale when its holder is provably dead (same host and: other boot id, no such pid, or the
 *   pid's start time differs, i.e. reused) — recovered at once — or when its mtime is older than the
 *   holder's staleMs (holder on another host, frozen, or record unreadable).
 * - Takeovers are serialized by a short-lived mutex (lock-mutex.ts), the symbolic link `<target>.lock.takeover`
 *   (created atomically, its target the holder's pid and liveness evidence). Under it the taker re-reads the lock and goes on only if the identity
 *   (dev, ino, mtime, token) is exactly the one it judged stale; it then renames the stale directory to a
 *   unique trash name (atomic: the name never points at a half-deleted tree), checks that what it moved is
 *   that stale directory (else it puts it back), and installs its own by rename. The mutex is itself
 *   recoverable: stale when its holder is dead on this host or it is older than TAKEOVER_STALE_MS; breaking it
 *   uses the same rename-away-then-verify step.
 * - release() removes the directory (rename away, then delete) only if it is still ours, under the mutex.
 *   Nothing is removed at process exit: a crashed holder is recovered by the next acquirer (dead pid).
 *
 * Guarantees: mutual exclusion between processes on one host and one local filesystem, provided a holder
 * calls assertHeld() right before it publishes and does not then stall for longer than staleMs before the
 * publishing rename. A holder that stalls longer than staleMs may be taken over; it finds out at its next
 * refresh or assertHeld(). Not guaranteed: NFS or other network filesystems (rename/mkdir/mtime semantics
 * and attribute caching), holders on different hosts whose clocks disagree by more than staleMs, and
 * re-entrancy (a second acquire in the same process waits like any other). Keep the lock area local.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { RcuError, errnoCode } from '../util/errors.js';
import { TMP_PREFIX, tmpName } from '../util/fsx.js';
import {
  type HolderRecord,
  type LockHolder,
  describeHolder,
  holderLiveness,
  hostName,
  ownRecord,
  publicHolder,
  recordToNames,
} from './lock-holder.js';
import { observe, sameIdentity, staleReason, type Observed } from './lock-observe.js';
import { HINT_MUTEX_NEW, HINT_MUTEX_TRASH, TAKEOVER_STALE_MS, withMutex } from './lock-mutex.js';

export type { LockHolder } from './lock-holder.js';

export interface WriterLock {
  readonly holder: LockHolder;
  /** Throws RcuError('FAILURE', 'lost the writer lock ...') if the lock was compromised or taken over. Call right before publishing. */
  assertHeld(): Promise<void>;
  readonly compromised: boolean;
  release(): Promise<void>;
}

export interface AcquireOptions {
  operation: string; // e.g. "import", "gc"
  waitSeconds?: number; // default 300; 0 = fail at once when busy
  onWait?: (holder: LockHolder | undefined) => void; // called once when we start waiting
  staleMs?: number; // age after which a lock whose holder cannot be checked is stale (default 30_000)
  updateMs?: number; // refresh interval (default staleMs/3, at most staleMs/2)
}

const DEFAULT_WAIT_SECONDS = 300;
const DEFAULT_STALE_MS = 30_000;
const MIN_STALE_MS = 200;
/** How long a refresh or a release waits for the takeover mutex. */
const MUTEX_WAIT_MS = 2 * TAKEOVER_STALE_MS;
const POLL_MIN_MS = 50;
const POLL_MAX_MS = 200;

/** Temporary-name hints (after TMP_PREFIX<pid>-<unique>-), so leftovers can be recognized and removed. */
const HINT_NEW = 'lock-new';
const HINT_TRASH = 'lock-trash';

/**
 * How much longer a waiter may wait, in ms (<= 0: give up). Housekeeping (the background gc after a
 * publish) holds the lock for moments: it is waited out for up to HOUSEKEEPING_GRACE_MS beyond any
 * --wait, even --wait 0, which means "do not queue behind another writer", not "fail on a gc".
 */
export function waitLeftMs(waitedMs: number, waitMs: number, holderOperation: string | undefined): number {
  const left = waitMs - waitedMs;
  return left <= 0 && holderOperation !== undefined && HOUSEKEEPING_OPERATIONS.has(holderOperation) ? left + HOUSEKEEPING_GRACE_MS : left;
}
const HOUSEKEEPING_OPERATIONS = new Set(['gc']);
const HOUSEKEEPING_GRACE_MS = 10_000;

export function lockDirOf(target: string): string {
  return `${target}.lock`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const pollDelay = () => POLL_MIN_MS + Math.random() * (POLL_MAX_MS - POLL_MIN_MS);

// ---------------------------------------------------------------------------------------------------------
// Installing our lock directory

interface Identity {
  dev: bigint;
  ino: bigint;
}

class Candidate {
  readonly dir: string;
  private made = false;
  /** The record's entry names now in `dir` (see recordToNames). */
  private names: string[] = [];
  constructor(
    readonly lockDir: string,
    readonly record: HolderRecord,
  ) {
    this.dir = tmpName(path.dirname(lockDir), HINT_NEW);
  }

  /**
   * Try to put our directory in place; its identity on success, undefined when the name is taken.
   * Synchronous calls: a dozen small metadata operations, each cheaper than a thread-pool round trip
   * (every import takes the lock at least once).
   */
  async install(): Promise<Identity | undefined> {
    if (!this.made) {
      fs.mkdirSync(this.dir, { mode: 0o755 });
      this.made = true;
      this.names = [];
    }
    this.record.since = new Date().toISOString();
    // The record is the set of names (empty files) in the directory: no data block needed, so gc can
    // take the lock on a full disk. Only the names that changed since the last attempt are redone.
    const want = recordToNames(this.record);
    for (const n of this.names) if (!want.includes(n)) fs.rmSync(path.join(this.dir, n), { force: true });
    for (const n of want) if (!this.names.includes(n)) fs.closeSync(fs.openSync(path.join(this.dir, n), 'wx', 0o644));
    this.names = want;
    const now = new Date();
    fs.utimesSync(this.dir, now, now);
    const st = fs.lstatSync(this.dir, { bigint: true });
    try {
      fs.renameSync(this.dir, this.lockDir);
    } catch (e) {
      const c = errnoCode(e);
      if (c === 'ENOTEMPTY' || c === 'EEXIST' || c === 'ENOTDIR' || c === 'EISDIR') return undefined;
      if (c === 'ENOENT') {
        this.made = false; // our temporary directory was cleaned up by someone: make it again next time
        return undefined;
      }
      throw e;
    }
    this.made = false;
    return { dev: st.dev, ino: st.ino };
  }

  async discard(): Promise<void> {
    if (this.made) await fsp.rm(this.dir, { recursive: true, force: true });
  }
}

/** Under the mutex: replace the stale lock `seen` by ours, if it is still exactly that lock and still stale. */
async function takeOver(target: string, seen: Observed, staleMs: number, cand: Candidate): Promise<Identity | undefined> {
  const lockDir = lockDirOf(target);
  let trash: string | undefined;
  const got = await withMutex(target, 0, async () => {
    const now = await observe(lockDir);
    if (!now) return cand.install(); // freed meanwhile
    if (!sameIdentity(now, seen) || staleReason(now, staleMs) === undefined) return undefined;
    trash = tmpName(path.dirname(lockDir), HINT_TRASH);
    try {
      await fsp.rename(lockDir, trash);
    } catch (e) {
      trash = undefined;
      if (errnoCode(e) === 'ENOENT') return cand.install();
      throw e;
    }
    const moved = await observe(trash);
    if (!moved || !sameIdentity(moved, now)) {
      // Not the directory we judged (cannot happen while the mutex holds, unless the mutex itself was broken):
      // put it back; if its place is taken already, its owner finds out by identity.
      try {
        await fsp.rename(trash, lockDir);
        trash = undefined;
      } catch {
        /* removed below */
      }
      return undefined;
    }
    return cand.install();
  });
  if (trash !== undefined) await fsp.rm(trash, { recursive: true, force: true }).catch(() => undefined);
  return got?.value;
}

/** Remove what crashed lock users of this directory left behind (temporary names of dead pids). */
async function removeLeftovers(target: string): Promise<void> {
  const dir = path.dirname(target);
  const hints = [HINT_NEW, HINT_TRASH, HINT_MUTEX_NEW, HINT_MUTEX_TRASH];
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return;
  }
  const me = hostName();
  for (const name of names) {
    if (!name.startsWith(TMP_PREFIX) || !hints.some((h) => name.endsWith(`-${h}`))) continue;
    const pid = Number(/^(\d+)-/.exec(name.slice(TMP_PREFIX.length))?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0) continue;
    if (holderLiveness({ pid, host: me }) !== 'dead') continue;
    await fsp.rm(path.join(dir, name), { recursive: true, force: true }).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The held lock

class HeldLock implements WriterLock {
  readonly holder: LockHolder;
  private lostReason: string | undefined;
  private released = false;
  private timer: NodeJS.Timeout | undefined;
  private lastRefresh: number;
  private checking: Promise<boolean> | undefined;

  constructor(
    private readonly target: string,
    private readonly id: Identity,
    private readonly record: HolderRecord,
    private readonly staleMs: number,
    private readonly updateMs: number,
  ) {
    this.holder = publicHolder(record);
    this.lastRefresh = Date.parse(record.since);
    this.schedule();
  }

  get compromised(): boolean {
    return this.lostReason !== undefined;
  }

  async assertHeld(): Promise<void> {
    if (this.released) throw new RcuError('FAILURE', `lost the writer lock on ${this.target}: already released`);
    const verified = await this.check();
    if (this.lostReason !== undefined) {
      let reason = this.lostReason;
      if (!reason.startsWith('taken over')) {
        // The timer may have seen the directory gone a moment before another process made its own: say
        // who holds it now, the fact an operator needs.
        const o = await observe(lockDirOf(this.target)).catch(() => undefined);
        if (o?.record && !this.isOurs(o)) reason = `${reason}, then taken over by ${describeHolder(o.record)}`;
      }
      throw new RcuError('FAILURE', `lost the writer lock on ${this.target}: ${reason}`, {
        data: { holder: this.holder },
      });
    }
    if (!verified) {
      // Not proven lost, but not proven ours either: publishing now would not be safe.
      throw new RcuError('FAILURE', `lost the writer lock on ${this.target}: could not verify it is still held`, {
        data: { holder: this.holder },
      });
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.checking?.catch(() => undefined);
    if (this.lostReason !== undefined) return; // not ours any more: touch nothing
    const lockDir = lockDirOf(this.target);
    let trash: string | undefined;
    const moveAway = async () => {
      const o = await observe(lockDir);
      if (!o || !this.isOurs(o)) {
        this.markLost(o?.record ? `taken over by ${describeHolder(o.record)}` : 'the lock directory was removed or replaced');
        return;
      }
      const t = tmpName(path.dirname(lockDir), HINT_TRASH);
      await fsp.rename(lockDir, t);
      trash = t;
    };
    // Under the mutex no takeover can interleave between the identity check and the rename (and a fresh
    // acquirer cannot replace a non-empty directory).
    const done = await withMutex(this.target, MUTEX_WAIT_MS, moveAway);
    if (!done) await moveAway(); // the mutex is wedged beyond recovery: the identity check still protects
    // Synchronous: the record's dozen empty files, each a thread-pool round trip when removed by fsp.rm.
    if (trash !== undefined) fs.rmSync(trash, { recursive: true, force: true });
  }

  private isOurs(o: Observed): boolean {
    return o.dev === this.id.dev && o.ino === this.id.ino && o.record?.token === this.record.token;
  }

  private markLost(reason: string): void {
    if (this.lostReason === undefined) this.lostReason = reason;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.released || this.lostReason !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // Never throws: check() records every failure in lostReason.
      void this.check().then(() => this.schedule());
    }, this.updateMs);
    this.timer.unref();
  }

  /** Verify identity and refresh the mtime; one at a time. Never rejects; true when verified and refreshed. */
  private check(): Promise<boolean> {
    if (!this.checking) {
      this.checking = this.checkOnce().finally(() => {
        this.checking = undefined;
      });
    }
    return this.checking;
  }

  private async checkOnce(): Promise<boolean> {
    if (this.lostReason !== undefined || this.released) return false;
    const lockDir = lockDirOf(this.target);
    const verifyAndTouch = async (): Promise<boolean> => {
      const o = await observe(lockDir);
      if (!o) {
        this.markLost('the lock directory was removed');
        return false;
      }
      if (!this.isOurs(o)) {
        this.markLost(o.record ? `taken over by ${describeHolder(o.record)}` : 'the lock directory was replaced');
        return false;
      }
      const now = new Date();
      await fsp.utimes(lockDir, now, now);
      this.lastRefresh = now.getTime();
      return true;
    };
    try {
      const late = Date.now() - this.lastRefresh > this.staleMs / 2;
      if (!late) return await verifyAndTouch();
      // Others may have judged us stale on the old mtime: decide under the mutex, where takeovers happen.
      const r = await withMutex(this.target, MUTEX_WAIT_MS, verifyAndTouch);
      if (r) return r.value;
      this.noteFailure(new Error('takeover mutex unavailable'));
    } catch (e) {
      this.noteFailure(e);
    }
    return false;
  }

  private noteFailure(e: unknown): void {
    const since = Date.now() - this.lastRefresh;
    if (since > this.staleMs) {
      this.markLost(`could not refresh the lock for ${since} ms: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------

function busyError(target: string, seen: Observed | undefined, waitSeconds: number): RcuError {
  const holder = seen?.record ? publicHolder(seen.record) : undefined;
  const who = holder ? describeHolder(holder) : `an unknown holder (${lockDirOf(target)} has no readable holder record)`;
  return new RcuError('BUSY', `repository busy: lock held by ${who}`, {
    details: [`lock: ${lockDirOf(target)}`, waitSeconds > 0 ? `waited ${waitSeconds} s` : 'did not wait (--wait 0)'],
    data: { holder },
  });
}

export async function acquireWriterLock(target: string, opts: AcquireOptions): Promise<WriterLock> {
  const waitSeconds = opts.waitSeconds ?? DEFAULT_WAIT_SECONDS;
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0) throw new RcuError('USAGE', `invalid lock wait: ${waitSeconds} s`);
  if (!Number.isFinite(staleMs) || staleMs < MIN_STALE_MS) throw new RcuError('USAGE', `invalid lock staleness: ${staleMs} ms (at least ${MIN_STALE_MS})`);
  const updateMs = Math.max(10, Math.min(opts.updateMs ?? staleMs / 3, staleMs / 2));

  const lockDir = lockDirOf(target);
  const record = ownRecord(opts.operation, staleMs);
  const cand = new Candidate(lockDir, record);
  const start = Date.now();
  let waiting = false;
  try {
    for (;;) {
      const seen = await observe(lockDir);
      let id: Identity | undefined;
      if (!seen) id = await cand.install();
      else if (staleReason(seen, staleMs) !== undefined) id = await takeOver(target, seen, staleMs, cand);
      if (id) {
        await removeLeftovers(target).catch(() => undefined);
        return new HeldLock(target, id, record, staleMs, updateMs);
      }
      const left = waitLeftMs(Date.now() - start, waitSeconds * 1000, seen?.record?.operation);
      if (left <= 0) throw busyError(target, seen ?? (await observe(lockDir)), waitSeconds);
      if (!waiting) {
        waiting = true;
        opts.onWait?.(seen?.record ? publicHolder(seen.record) : undefined);
      }
      await sleep(Math.min(pollDelay(), left));
    }
  } finally {
    await cand.discard().catch(() => undefined);
  }
}

/** The holder of the lock on `target` as recorded (even if stale), or undefined when it is not locked. */
export async function readLockHolder(target: string): Promise<LockHolder | undefined> {
  const o = await observe(lockDirOf(target));
  return o?.record ? publicHolder(o.record) : undefined;
}
