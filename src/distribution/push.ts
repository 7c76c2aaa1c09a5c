/**
 * One push of one snapshot to one mirror (docs/FORMAT.md "Mirrors", mirrors.md):
 *
 *   local per-mirror lock -> lease the generation -> hello (format, what the mirror holds)
 *   -> remote lock -> rsync -aH --delete --numeric-ids into snapshots/.GEN.partial with --link-dest to
 *   the mirror's previous snapshot (and to leftover partials, so an interrupted push resumes)
 *   -> activate (durable rename to snapshots/GEN, swap `current` by symlink + rename, start the grace
 *   clock of the superseded one) -> prune -> release.
 *
 * What the mirror serves at `current` is a complete snapshot at every instant: uploads only ever write
 * into a `.partial` directory that nothing serves, and a published snapshot is never written again.
 * Nothing on the repository host changes except the lease (released at the end) and the mirror's state
 * file (meta/mirrors/), whatever the mirror answers.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { Layout } from '../engine/layout.js';
import { acquireWriterLock } from '../engine/lock.js';
import type { LockHolder } from '../engine/lock.js';
import { acquireLease, maxTtl, releaseLease, renewLease } from '../readers/leases.js';
import { errnoCode, isRcuError, RcuError } from '../util/errors.js';
import { trace } from '../util/trace.js';
import type { MirrorConfig } from './mirror-config.js';
import { describeTarget, mirrorLockTarget, mirrorsMetaDir, mirrorUploadFile, parseTarget } from './mirror-config.js';
import { updateMirrorState } from './mirror-state.js';
import { beginPush } from './remote-lock.js';
import { explainFailure, makeTransport, parseRsyncStats, runChild } from './transport.js';
import type { RsyncStats, Transport } from './transport.js';
import { mkdirp } from '../util/fsx.js';

export interface PushOptions {
  /** Generation to push (default: current). */
  gen?: number;
  waitSeconds: number;
  onWait?: (what: string) => void;
}

export interface PushOutcome {
  mirror: string;
  to: string;
  status: 'pushed' | 'up-to-date' | 'failed';
  generation?: number;
  /** What the mirror served before this push. */
  previous?: number;
  durationMs: number;
  stats?: RsyncStats;
  linkedFrom?: string[];
  pruned?: number[];
  error?: { code: string; message: string };
}

interface MirrorView {
  served?: number;
  snapshots: number[];
  partials: number[];
}

function parseHello(lines: string[]): MirrorView {
  const v: MirrorView = { snapshots: [], partials: [] };
  for (const l of lines) {
    const [k, x] = l.split(' ');
    if (k === 'current') v.served = Number(x);
    else if (k === 'snapshot') v.snapshots.push(Number(x));
    else if (k === 'partial') v.partials.push(Number(x));
  }
  v.snapshots.sort((a, b) => a - b);
  v.partials.sort((a, b) => a - b);
  return v;
}

/** Link sources for an upload of `gen`: the snapshot the mirror serves (or its newest older one), then other partials (resume). */
export function linkSources(view: MirrorView, gen: number): string[] {
  const prev = view.served !== undefined && view.snapshots.includes(view.served) ? view.served : view.snapshots.filter((g) => g < gen).pop();
  const out = prev === undefined ? [] : [String(prev)];
  for (const p of view.partials.filter((g) => g !== gen).slice(-4)) out.push(`.${p}.partial`);
  return out;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

/**
 * A pusher killed with -9 leaves its rsync running (children are not killed with their parent). Before a
 * new upload into the same .partial, stop that process group, so two uploads never write one directory and
 * none can write after the activation. The leader's command line is checked (pid reuse).
 */
async function stopLeftoverUpload(file: string): Promise<void> {
  let pgid: number;
  try {
    pgid = Number((await fsp.readFile(file, 'utf8')).trim());
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return;
    throw e;
  }
  if (Number.isInteger(pgid) && pgid > 1 && groupAlive(pgid)) {
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${pgid}/cmdline`, 'latin1');
    } catch {
      cmd = 'rsync'; // leader gone; members of its group remain
    }
    if (cmd.includes('rsync')) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch (e) {
        if (errnoCode(e) !== 'ESRCH') throw e;
      }
      for (let i = 0; i < 200 && groupAlive(pgid); i++) await sleep(50);
    }
  }
  await fsp.rm(file, { force: true });
}

async function upload(t: Transport, uploadFile: string, snapshotDir: string, gen: number, links: string[]): Promise<RsyncStats> {
  let pgid: number | undefined;
  const stop = () => {
    if (pgid !== undefined) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  };
  // An interrupted command must not leave its upload running (the next push would stop it anyway).
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, stop);
  try {
    const r = await runChild('rsync', t.rsyncArgs(snapshotDir, gen, links), {
      detached: true, // its own process group: the next pusher can stop all of it
      onSpawn: (pid) => {
        pgid = pid;
        fs.writeFileSync(uploadFile, `${pid}\n`);
      },
    });
    if (r.code !== 0) throw explainFailure(t.label, `upload of generation ${gen}`, r.stderr, r.code);
    return parseRsyncStats(r.stdout);
  } finally {
    for (const s of signals) process.off(s, stop);
    await fsp.rm(uploadFile, { force: true });
  }
}

/** Push one generation (default: current) to one mirror. Throws RcuError naming the mirror; records the outcome either way. */
export async function pushMirror(layout: Layout, repoName: string, mirror: MirrorConfig, opts: PushOptions): Promise<PushOutcome> {
  const repo = layout.repo(repoName);
  const started = Date.now();
  const to = describeTarget(parseTarget(mirror.to));
  let gen: number | undefined = opts.gen;
  await mkdirp(mirrorsMetaDir(repo));
  try {
    const local = await acquireWriterLock(mirrorLockTarget(repo, mirror.name), {
      operation: 'mirror push',
      waitSeconds: opts.waitSeconds,
      onWait: (h: LockHolder | undefined) => opts.onWait?.(h ? `pid ${h.pid} (${h.operation} since ${h.since})` : 'another push'),
    });
    try {
      await stopLeftoverUpload(mirrorUploadFile(repo, mirror.name));
      const ttl = Math.min(3600, await maxTtl(repo));
      const lease = await acquireLease(layout, repoName, { gen: opts.gen, ttlSeconds: ttl, pid: process.pid, holder: `mirror push ${mirror.name}` });
      const renew = setInterval(() => void renewLease(layout, lease.record.id, ttl).catch(() => undefined), (ttl * 1000) / 3);
      renew.unref();
      try {
        gen = lease.record.generation;
        const transport = makeTransport(mirror, repoName);
        const outcome = await pushLeased(transport, lease.path, gen, mirror, opts, mirrorUploadFile(repo, mirror.name)).finally(() => transport.close());
        outcome.durationMs = Date.now() - started;
        await updateMirrorState(repo, mirror.name, (s) => ({
          ...s,
          served: outcome.generation,
          lastSuccessAt: new Date().toISOString(),
          lastAttemptAt: new Date(started).toISOString(),
          lastError: null,
          failures: 0,
          ...(outcome.stats ? { lastPush: { generation: gen!, at: new Date().toISOString(), durationMs: outcome.durationMs, ...outcome.stats, linkedFrom: outcome.linkedFrom ?? [] } } : {}),
        }));
        return { ...outcome, mirror: mirror.name, to };
      } finally {
        clearInterval(renew);
        await releaseLease(layout, lease.record.id);
      }
    } finally {
      await local.release();
    }
  } catch (e) {
    const err = isRcuError(e) ? e : new RcuError('FAILURE', `mirror '${mirror.name}' of '${repoName}' (${to}): ${(e as Error)?.message ?? String(e)}`, { cause: e });
    await updateMirrorState(repo, mirror.name, (s) => ({
      ...s,
      lastAttemptAt: new Date(started).toISOString(),
      lastError: { at: new Date().toISOString(), ...(gen !== undefined ? { generation: gen } : {}), message: err.message, code: err.code },
      failures: (s.failures ?? 0) + 1,
    })).catch(() => undefined);
    throw err;
  }
}

async function pushLeased(t: Transport, snapshotDir: string, gen: number, mirror: MirrorConfig, opts: PushOptions, uploadFile: string): Promise<PushOutcome> {
  const base = { mirror: mirror.name, to: mirror.to, durationMs: 0 };
  trace('mirror: leased');
  const begun = await beginPush(t, gen, { waitSeconds: opts.waitSeconds, onWait: (who) => opts.onWait?.(`mirror lock held by ${who}`) });
  trace('mirror: begun');
  const view = parseHello(begun.lines);
  if (!begun.lock) {
    if (view.served !== undefined && view.served > gen) {
      throw new RcuError('USAGE', `mirror ${t.label} serves generation ${view.served}, newer than ${gen}: a mirror never moves backwards (roll back the repository instead: 'rcurepo rollback')`);
    }
    return { ...base, status: 'up-to-date', generation: gen, previous: gen };
  }
  const lock = begun.lock;
  let finished = false;
  try {
    let stats: RsyncStats | undefined;
    let links: string[] = [];
    // snapshots/GEN exists only after a complete, synced upload was renamed: activate it as it is.
    if (!view.snapshots.includes(gen)) {
      links = linkSources(view, gen);
      stats = await upload(t, uploadFile, snapshotDir, gen, links);
      trace('mirror: uploaded');
    }
    lock.stopHeartbeat();
    // activate + prune + unlock in one round trip.
    const out = await t.verb(['finish', String(gen), String(mirror.keep), String(mirror.graceSeconds), lock.token]);
    finished = true;
    trace('mirror: activated');
    const pruned = out.filter((l) => l.startsWith('pruned ')).map((l) => Number(l.slice(7)));
    return { ...base, status: 'pushed', generation: gen, previous: view.served, stats, linkedFrom: links, pruned };
  } finally {
    if (!finished) await lock.release().catch(() => undefined); // an unreleased lock is recovered: its holder's pid is gone soon
  }
}
