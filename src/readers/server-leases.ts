/**
 * In-process leases of an HTTP server: one lease file per (repository, generation) per server process,
 * refcounted in memory (requests in flight and client pins), renewed periodically, released once idle.
 * The file carries the server's pid, so if the server dies the lease dies with it.
 */
import fsp from 'node:fs/promises';
import type { Layout } from '../engine/layout.js';
import { writeFileAtomic } from '../util/fsx.js';
import { errnoCode } from '../util/errors.js';
import { createLeaseFile, generationUsable, leaseFile, newRecord } from './leases.js';
import type { LeaseRecord } from './leases.js';

const TTL_SECONDS = 120;
const RENEW_MS = 30_000;
/** Keep an unused lease a little: the next request for that generation usually comes right away. */
const IDLE_MS = 5_000;

interface Held {
  rec: LeaseRecord;
  file: string;
  refs: number;
  idleSince: number;
  renewedAt: number;
  /** Set while the lease is being created and validated (concurrent requests wait on it). */
  pending?: Promise<boolean>;
}

export class ServerLeases {
  private held = new Map<string, Held>();
  private timer: NodeJS.Timeout;
  /** The tick in progress (a renewal writes the lease file again: close() waits for it). */
  private ticking: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly layout: Layout) {
    this.timer = setInterval(() => {
      if (!this.ticking) this.ticking = this.tick().finally(() => (this.ticking = undefined));
    }, 1000);
    this.timer.unref();
  }

  private key(repo: string, gen: number): string {
    return `${repo}\0${gen}`;
  }

  /**
   * Synchronous fast path: take a reference on a lease this process already holds and has validated
   * (its file exists, so the reaper skips the generation). False: call acquire().
   */
  tryAcquire(repoName: string, gen: number): boolean {
    const h = this.held.get(this.key(repoName, gen));
    if (!h || h.pending) return false;
    h.refs++;
    return true;
  }

  /** Take a reference on (repo, gen); false when the generation is condemned or gone (reader protocol). */
  async acquire(repoName: string, gen: number): Promise<boolean> {
    if (this.closed) return false;
    const k = this.key(repoName, gen);
    const h = this.held.get(k);
    if (h) {
      h.refs++;
      if (h.pending && !(await h.pending)) {
        h.refs--;
        return false;
      }
      return true;
    }
    const repo = this.layout.repo(repoName);
    const rec = newRecord(repoName, gen, { ttlSeconds: TTL_SECONDS, holder: `rcurepo serve (pid ${process.pid})`, pid: process.pid });
    const entry: Held = { rec, file: leaseFile(repo, gen, rec.id), refs: 1, idleSince: 0, renewedAt: Date.now() };
    entry.pending = (async () => {
      await createLeaseFile(repo, rec);
      if (await generationUsable(repo, gen)) return true;
      this.held.delete(k);
      await fsp.rm(entry.file, { force: true });
      return false;
    })();
    this.held.set(k, entry);
    try {
      const ok = await entry.pending;
      entry.pending = undefined;
      if (this.closed) {
        // close() ran while the file was being made: it must not outlive the server.
        await fsp.rm(entry.file, { force: true }).catch(() => undefined);
        return false;
      }
      if (!ok) entry.refs = 0;
      return ok;
    } catch (e) {
      this.held.delete(k);
      throw e;
    }
  }

  release(repoName: string, gen: number): void {
    const h = this.held.get(this.key(repoName, gen));
    if (!h) return;
    h.refs--;
    if (h.refs <= 0) {
      h.refs = 0;
      h.idleSince = Date.now();
    }
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    for (const [k, h] of this.held) {
      if (h.pending) continue;
      if (h.refs === 0 && now - h.idleSince > IDLE_MS) {
        this.held.delete(k);
        await fsp.rm(h.file, { force: true }).catch(() => undefined);
      } else if (now - h.renewedAt > RENEW_MS) {
        h.renewedAt = now;
        h.rec = { ...h.rec, expires: new Date(now + TTL_SECONDS * 1000).toISOString() };
        await writeFileAtomic(h.file, JSON.stringify(h.rec) + '\n', { syncDir: false }).catch((e) => {
          // ENOENT: the reaper removed the folder of a generation it reaped, nothing to renew any more.
          // ENOSPC/EDQUOT: a full disk; the old expiry still stands and the next tick tries again.
          const c = errnoCode(e);
          if (c !== 'ENOENT' && c !== 'ENOSPC' && c !== 'EDQUOT') throw e;
        });
      }
    }
  }

  /** Release every lease (drain finished). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    // A renewal or a lease file being made right now would write its file after the removal below.
    await this.ticking?.catch(() => undefined);
    await Promise.allSettled([...this.held.values()].map((h) => h.pending));
    for (const h of this.held.values()) await fsp.rm(h.file, { force: true }).catch(() => undefined);
    this.held.clear();
  }
}
