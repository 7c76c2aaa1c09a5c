/**
 * Who holds a writer lock, and whether that holder is still alive.
 *
 * The record is stored as `holder.json` inside the lock directory (see lock.ts). Besides the public
 * LockHolder fields it carries what a process on the same host needs to prove the holder dead at once:
 * the kernel boot id (a reboot kills every holder) and the process start time from /proc/<pid>/stat
 * (a reused pid has a different start time). Both are Linux-only and optional; without them a dead
 * holder is still recovered, only later (by the age of the lock, see `staleMs`).
 */
import fs from 'node:fs';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { errnoCode } from '../util/errors.js';

export interface LockHolder {
  pid: number;
  user: string;
  host: string;
  operation: string;
  since: string /* ISO */;
  token: string;
}

/** What holder.json contains: the public holder plus liveness evidence and the holder's refresh promise. */
export interface HolderRecord extends LockHolder {
  /** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), when readable. */
  startTime?: string;
  /** /proc/sys/kernel/random/boot_id of the holder's host, when readable. */
  bootId?: string;
  /** The holder refreshes the lock's mtime well within this many ms; older than that means stale. */
  staleMs?: number;
}

let cachedBootId: string | null | undefined;

export function bootId(): string | undefined {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      cachedBootId = null;
    }
  }
  return cachedBootId ?? undefined;
}

/** Start time of a process (clock ticks since boot, as a decimal string), or undefined if unknown/gone. */
export function processStartTime(pid: number): string | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may contain spaces and parentheses; fields resume after the last ')'.
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const rest = stat.slice(close + 2).split(' '); // rest[0] is field 3 (state)
  const start = rest[22 - 3];
  return start !== undefined && /^\d+$/.test(start) ? start : undefined;
}

export function hostName(): string {
  return os.hostname();
}

export function userName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env['USER'] ?? process.env['LOGNAME'] ?? String(process.getuid?.() ?? 'unknown');
  }
}

export function newToken(): string {
  return randomBytes(16).toString('hex');
}

/** The record for this process. */
export function ownRecord(operation: string, staleMs: number): HolderRecord {
  const rec: HolderRecord = {
    pid: process.pid,
    user: userName(),
    host: hostName(),
    operation,
    since: new Date().toISOString(),
    token: newToken(),
    staleMs,
  };
  const st = processStartTime(process.pid);
  if (st !== undefined) rec.startTime = st;
  const b = bootId();
  if (b !== undefined) rec.bootId = b;
  return rec;
}

/** Parse holder.json; undefined when it is not a well-formed record. */
export function parseHolderRecord(text: string): HolderRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const pid = o['pid'];
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  for (const k of ['user', 'host', 'operation', 'since', 'token'] as const) {
    if (typeof o[k] !== 'string') return undefined;
  }
  const rec: HolderRecord = {
    pid,
    user: o['user'] as string,
    host: o['host'] as string,
    operation: o['operation'] as string,
    since: o['since'] as string,
    token: o['token'] as string,
  };
  if (typeof o['startTime'] === 'string') rec.startTime = o['startTime'];
  if (typeof o['bootId'] === 'string') rec.bootId = o['bootId'];
  const staleMs = o['staleMs'];
  if (typeof staleMs === 'number' && Number.isFinite(staleMs) && staleMs > 0) rec.staleMs = staleMs;
  return rec;
}

/** Only the public fields (what `status` and error data show). */
export function publicHolder(r: LockHolder): LockHolder {
  return { pid: r.pid, user: r.user, host: r.host, operation: r.operation, since: r.since, token: r.token };
}

/** "pid P (user@host, OPERATION since TIME)" */
export function describeHolder(h: LockHolder): string {
  return `pid ${h.pid} (${h.user}@${h.host}, ${h.operation} since ${h.since})`;
}

export type Liveness = 'alive' | 'dead' | 'unknown';

/**
 * Whether the process a record names is alive. 'dead' only when certain: the record is from this host and
 * either this host has rebooted since, or no process has that pid, or the process with that pid started at
 * another time (pid reused). Another host's holder is always 'unknown'.
 */
export function holderLiveness(r: { pid: number; host: string; bootId?: string; startTime?: string }): Liveness {
  if (r.host !== hostName()) return 'unknown';
  const myBoot = bootId();
  if (r.bootId !== undefined && myBoot !== undefined && r.bootId !== myBoot) return 'dead';
  if (!Number.isSafeInteger(r.pid) || r.pid <= 0) return 'unknown'; // never signal a process group
  try {
    process.kill(r.pid, 0);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ESRCH') return 'dead';
    if (code !== 'EPERM') return 'unknown'; // EPERM: exists, owned by another user
  }
  if (r.startTime !== undefined) {
    const now = processStartTime(r.pid);
    if (now !== undefined && now !== r.startTime) return 'dead';
    // /proc unreadable (hidepid) or the process exited just now: fall through to 'alive'; the next
    // look will see ESRCH.
  }
  return 'alive';
}

/**
 * The record as directory entry names, one `field=value` per field (value URI-encoded, so never a '/').
 * A lock must be takeable on a full disk (gc is what frees space): on tmpfs and ext4 an empty file costs
 * an inode and a directory entry but no data block, where a holder.json with content needs one.
 */
const RECORD_FIELDS = ['pid', 'user', 'host', 'operation', 'since', 'token', 'startTime', 'bootId', 'staleMs'] as const;

export function recordToNames(r: HolderRecord): string[] {
  const out: string[] = [];
  for (const k of RECORD_FIELDS) {
    const v = r[k];
    if (v !== undefined) out.push(`${k}=${encodeURIComponent(String(v)).slice(0, 200)}`);
  }
  return out;
}

/** The record the names of a lock directory carry, undefined when they do not make a well-formed one. */
export function recordFromNames(names: readonly string[]): HolderRecord | undefined {
  const fields: Record<string, unknown> = {};
  for (const n of names) {
    const eq = n.indexOf('=');
    const k = n.slice(0, eq);
    if (eq < 0 || !(RECORD_FIELDS as readonly string[]).includes(k)) continue;
    let v: string;
    try {
      v = decodeURIComponent(n.slice(eq + 1));
    } catch {
      return undefined;
    }
    fields[k] = k === 'pid' || k === 'staleMs' ? Number(v) : v;
  }
  return parseHolderRecord(JSON.stringify(fields));
}

/**
 * A short liveness record (pid, start time, boot id, host) as a symbolic link's target: the takeover
 * mutex is a symlink, created atomically and without a data block while it stays under 128 bytes (tmpfs
 * keeps such targets in the inode; ext4 up to 59 bytes).
 */
export function recordToLink(r: HolderRecord): string {
  return [r.pid, r.startTime ?? '', (r.bootId ?? '').replace(/-/g, ''), encodeURIComponent(r.host)].join(':');
}

export function recordFromLink(target: string): HolderRecord | undefined {
  const [pid, startTime, boot, host] = target.split(':');
  if (host === undefined || !/^\d+$/.test(pid ?? '')) return undefined;
  const bootHex = boot ?? '';
  const bootId = bootHex.length === 32 ? `${bootHex.slice(0, 8)}-${bootHex.slice(8, 12)}-${bootHex.slice(12, 16)}-${bootHex.slice(16, 20)}-${bootHex.slice(20)}` : undefined;
  let h: string;
  try {
    h = decodeURIComponent(host);
  } catch {
    return undefined;
  }
  const rec: HolderRecord = { pid: Number(pid), user: '', host: h, operation: 'takeover', since: '', token: '' };
  if (startTime) rec.startTime = startTime;
  if (bootId) rec.bootId = bootId;
  return rec;
}
