/**
 * The mirror's own lock (ROOT/.lock, made by mkdir, with a holder file naming token, host, pid, since and
 * a heartbeat). Pushers from any host or base serialise on it; a second pusher waits and is told who holds
 * it. A holder is stale when it ran on this host and its pid is gone (recovered at once: kill -9 of a
 * pusher), or when its heartbeat is older than STALE_SECONDS (a pusher elsewhere that died or lost its
 * network). Breaking is compare-and-remove on the token, so two waiters cannot both break one lock.
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Transport } from './transport.js';
import { RcuError } from '../util/errors.js';
import { isProcessAlive } from '../util/process.js';

export const HEARTBEAT_MS = 30_000;
export const STALE_SECONDS = 300;

export interface RemoteHolder {
  token: string;
  host: string;
  pid: number;
  since: number;
  ageSeconds: number;
}

/** Parse a `lock TOKEN HOST PID SINCE AGE` line ('-' fields: a lock whose holder file is not written yet). */
export function parseLockLine(line: string): RemoteHolder | undefined {
  const f = line.split(' ');
  if (f[0] !== 'lock' || f[1] === '-' || f.length < 6) return undefined;
  return { token: f[1]!, host: f[2]!, pid: Number(f[3]), since: Number(f[4]), ageSeconds: Number(f[5]) };
}

export function describeRemoteHolder(h: RemoteHolder | undefined): string {
  if (!h) return 'a pusher that has not written its holder file yet';
  return `pid ${h.pid} on ${h.host} since ${new Date(h.since * 1000).toISOString()} (heartbeat ${h.ageSeconds} s ago)`;
}

const hostName = () => os.hostname().replace(/[^A-Za-z0-9._-]/g, '_') || 'unknown';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface RemoteLock {
  token: string;
  /** Stop the heartbeat (the lock itself is released by `finish`, or by `release`). */
  stopHeartbeat(): void;
  release(): Promise<void>;
}

export interface Begun {
  /** The mirror's facts (format, current, snapshots, partials) as of the moment the lock was taken. */
  lines: string[];
  /** Absent when the mirror already serves the generation (or a newer one): nothing to do, nothing locked. */
  lock?: RemoteLock;
}

function isStale(h: RemoteHolder | undefined, holderlessSinceMs: number | undefined): boolean {
  if (!h) return holderlessSinceMs !== undefined && Date.now() - holderlessSinceMs > 30_000;
  if (h.host === hostName() && !isProcessAlive(h.pid)) return true;
  return h.ageSeconds > STALE_SECONDS;
}

/**
 * Start a push of `gen`: one round trip (`begin`) checks the mirror, and takes its lock unless the mirror
 * is already there. A busy lock is waited for (bounded), a stale one broken.
 */
export async function beginPush(t: Transport, gen: number, opts: { waitSeconds: number; onWait?: (who: string) => void }): Promise<Begun> {
  const token = randomBytes(8).toString('hex');
  const deadline = Date.now() + opts.waitSeconds * 1000;
  let told = false;
  let holderless: number | undefined;
  let lines: string[];
  for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
    lines = await t.verb(['begin', t.repo, String(gen), token, hostName(), String(process.pid)]);
    if (lines.includes('uptodate')) return { lines };
    if (lines.includes('locked')) break;
    const line = lines.find((l) => l.startsWith('lock '));
    if (!line) {
      // The lock vanished between mkdir and the holder check: try again at once.
      delay = 250;
      continue;
    }
    const h = parseLockLine(line);
    if (!h) holderless ??= Date.now();
    else holderless = undefined;
    if (isStale(h, holderless)) {
      await t.verb(['breaklock', h?.token ?? '-']);
      delay = 250;
      continue;
    }
    if (Date.now() >= deadline) {
      throw new RcuError('BUSY', `mirror ${t.label} is being pushed by ${describeRemoteHolder(h)}; not obtained within ${opts.waitSeconds} s`, { data: { holder: h } });
    }
    if (!told) opts.onWait?.(describeRemoteHolder(h));
    told = true;
    await sleep(Math.min(delay, Math.max(50, deadline - Date.now())));
  }
  const beat = setInterval(() => {
    t.verb(['refresh', token]).catch(() => undefined); // a missed heartbeat is retried next period; STALE_SECONDS is 10 of them
  }, HEARTBEAT_MS);
  beat.unref();
  return {
    lines,
    lock: {
      token,
      stopHeartbeat: () => clearInterval(beat),
      async release() {
        clearInterval(beat);
        await t.verb(['unlock', token]);
      },
    },
  };
}
