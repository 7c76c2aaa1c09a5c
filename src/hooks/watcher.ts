/**
 * The incoming watcher: the incoming directory is a durable queue, polled (fs.watch misses events on
 * many filesystems and across restarts; it only ends a poll's sleep early: watch-wake.ts). A manifest (any kind:
 * manifest-kinds.ts) that stopped changing, or that its uploader marked ready, is the commit signal
 * for the files it names; a bare file (when a target repository is configured) is taken once its size
 * and mtime have been stable for the settle time. Names starting with '.' are uploads in progress and are
 * never touched. Each upload is imported through the import pipeline (import-pipeline.ts); a round takes
 * every settled upload at once and they share one publish through its group commit,
 * then deleted (accepted) or moved into rejected/ with a reason file; those steps go through a journal
 * (watch-journal.ts), and nothing is deleted before its publish returned, so kill -9 never loses one.
 * One upload can never stop the watcher: whatever fails while looking at it rejects that upload.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Layout } from '../engine/layout.js';
import { acquireWriterLock } from '../engine/lock.js';
import { runImport } from './import-pipeline.js';
import type { CommitGate } from './group-commit.js';
import { BurstWatch, gatherMs, refusalJob, roundIsFull, ROUNDS_IN_FLIGHT, runRound, takeRound } from './watch-round.js';
import type { Job } from './watch-round.js';
import { isManifestName, readManifest } from './manifest-kinds.js';
import { refuseReason } from './uploads.js';
import { decide, execute, identityOf, pendingDecisions, pruneVerdicts, REJECTED_DIR, repairFolders, STATE_DIR, stateFolder } from './watch-journal.js';
import { isMarkedReady, Waker, watchArrivals } from './watch-wake.js';
import type { FileIdentity } from './watch-journal.js';
import { errnoCode, EXIT_CODES, RcuError } from '../util/errors.js';

export interface WatchOptions {
  layout: Layout;
  incoming: string;
  /** Target repository of bare files; without it only manifests are imported. */
  repo?: string;
  settleMs: number;
  pollMs: number;
  waitSeconds: number;
  log: (event: Record<string, unknown>) => void;
  signal: AbortSignal;
}

/** Refusals are final (the upload goes to rejected/); anything else (busy, frozen, I/O) is retried. */
const FINAL = new Set(['BAD_INPUT', 'CONFLICT', 'NOT_FOUND', 'USAGE']);
const RETRY_MS = 5000;
const REPAIRED = 'something other than a folder held its name: replaced by an empty folder (a file or link named rejected is moved aside, never deleted)';

interface Seen {
  size: number;
  mtimeMs: number;
  ino: number;
  since: number;
}

export async function watchIncoming(o: WatchOptions): Promise<{ accepted: number; rejected: number }> {
  const incoming = path.resolve(o.incoming);
  const replacedAtStart = (await stateFolder(path.join(incoming, STATE_DIR))) ? [path.join(incoming, STATE_DIR)] : [];
  // One watcher per directory; a killed one is recovered at once (its pid is dead).
  const lock = await acquireWriterLock(path.join(incoming, STATE_DIR, 'watcher'), { operation: 'watch', waitSeconds: o.waitSeconds });
  const counts = { accepted: 0, rejected: 0 };
  const seen = new Map<string, Seen>();
  const retryAfter = new Map<string, number>();
  const noted = new Set<string>();
  /** Files each manifest names, kept while the manifest is the same file: a scan does not parse it again. */
  const parsed = new Map<string, { id: FileIdentity; named: string[] }>();
  /** Uploads whose round is running, and the rounds themselves. */
  const inFlight = new Set<string>();
  const rounds = new Set<Promise<void>>();
  const now = () => new Date().toISOString();
  const log = (event: string, fields: Record<string, unknown>) => o.log({ time: now(), event, ...fields });
  const waker = new Waker();
  const sleep = (ms: number, signal: AbortSignal) => waker.sleep(ms, signal);
  let stopWatching: (() => void) | undefined;
  try {
    log('start', { incoming, repo: o.repo ?? null, settleMs: o.settleMs, pid: process.pid });
    // The folders first: what the decisions below and every scan write into.
    for (const folder of replacedAtStart) log('repaired', { folder, reason: REPAIRED });
    await repair();
    await pruneVerdicts(incoming);
    let pruned = Date.now();
    stopWatching = watchArrivals(incoming, () => waker.wake(), (reason) => log('polling', { reason: `no wake-up on arrivals (${reason}): the directory is scanned every ${o.pollMs / 1000} s` }));
    for (const d of await pendingDecisions(incoming)) {
      await execute(incoming, d);
      log('resumed', { name: d.name, decision: d.kind });
    }
    let firstReady: number | undefined;
    const burst = new BurstWatch();
    while (!o.signal.aborted) {
      if (Date.now() - pruned > 60_000) {
        await repair();
        await pruneVerdicts(incoming);
        pruned = Date.now();
      }
      const { jobs, settling } = await scan();
      burst.scanned(jobs.map((j) => j.name));
      if (jobs.length === 0) {
        firstReady = undefined;
        await sleep(o.pollMs, o.signal);
        continue;
      }
      // A burst arrives over a moment: wait (briefly, see gatherMs) for uploads still settling or still
      // arriving, so they share this round's publish instead of needing one of their own.
      firstReady ??= Date.now();
      const quietIn = burst.waitMs();
      if ((settling > 0 || quietIn > 0) && !roundIsFull(jobs) && Date.now() - firstReady < gatherMs(o.settleMs)) {
        await sleep(settling > 0 ? o.pollMs : Math.min(o.pollMs, quietIn), o.signal);
        continue;
      }
      firstReady = undefined;
      burst.roundStarted();
      const round = takeRound(jobs);
      for (const j of round) inFlight.add(j.name);
      // A job that failed without a verdict (a file system error) waits like a retry: taken again at
      // once, it would fail again at once, in a loop that floods the log and spins the CPU.
      const onError = (name: string, reason: string) => {
        retryAfter.set(name, Date.now() + RETRY_MS);
        log('error', { name, reason, retryInMs: RETRY_MS });
      };
      const running: Promise<void> = runRound(round, onError).finally(() => {
        for (const j of round) inFlight.delete(j.name);
        rounds.delete(running);
      });
      rounds.add(running);
      if (rounds.size >= ROUNDS_IN_FLIGHT) {
        await Promise.race(rounds);
        // Look again at once: whatever waits now arrived while the round published (a burst).
        burst.roundEnded();
        continue;
      }
      if (round.length === jobs.length) await sleep(o.pollMs, o.signal);
    }
  } finally {
    stopWatching?.();
    await Promise.allSettled(rounds);
    await lock.release().catch(() => undefined);
    log('stop', counts);
  }
  return counts;

  /** Whether `name` has kept its size and mtime for the settle time (tracked across polls). */
  function settled(name: string, id: FileIdentity): boolean {
    const s = seen.get(name);
    const t = Date.now();
    if (!s || s.size !== id.size || s.mtimeMs !== id.mtimeMs || s.ino !== id.ino) {
      seen.set(name, { size: id.size, mtimeMs: id.mtimeMs, ino: id.ino, since: t });
      return false;
    }
    return t - s.since >= o.settleMs;
  }

  async function scan(): Promise<{ jobs: Job[]; settling: number }> {
    const jobs: Job[] = [];
    const settlingNow = new Set<string>();
    const names: string[] = [];
    const waiting = (n: string) => (retryAfter.get(n) ?? 0) > Date.now();
    for (const raw of await fsp.readdir(incoming, { encoding: 'buffer' })) {
      if (raw[0] === 0x2e) continue; // '.': in progress (or ours)
      const name = raw.toString('utf8');
      if (Buffer.from(name, 'utf8').equals(raw)) {
        if (name !== REJECTED_DIR) names.push(name);
        continue;
      }
      // Such a name cannot be a manifest's entry or a repository path: refuse it, never skip it silently.
      const shown = escapeName(raw);
      const id = await identityOf(incoming, shown, raw.toString('hex'));
      if (id && !inFlight.has(shown) && !waiting(shown)) jobs.push(refusalJob(shown, () => reject(shown, [id], `${shown}: the file name is not valid UTF-8 (shown with %XX escapes): refused`, EXIT_CODES.BAD_INPUT)));
    }
    names.sort();
    const claimed = new Set<string>();
    const present = new Set(names);
    for (const n of seen.keys()) if (!present.has(n)) seen.delete(n);
    for (const n of parsed.keys()) if (!present.has(n)) parsed.delete(n);
    // Manifests first: the files they name are theirs, never bare files.
    for (const name of names.filter(isManifestName)) {
      try {
        const job = await lookAtManifest(name, claimed, waiting);
        if (job === 'settling') settlingNow.add(name);
        else if (job) jobs.push(job);
      } catch (e) {
        if (!inFlight.has(name) && !waiting(name)) jobs.push(refusalJob(name, () => rejectUnreadable(name, e)));
      }
    }
    for (const name of names) {
      if (isManifestName(name) || claimed.has(name)) continue;
      try {
        const job = await lookAtBare(name, waiting);
        if (job === 'settling') settlingNow.add(name);
        else if (job) jobs.push(job);
      } catch (e) {
        if (!inFlight.has(name) && !waiting(name)) jobs.push(refusalJob(name, () => rejectUnreadable(name, e)));
      }
    }
    return { jobs, settling: settlingNow.size };
  }

  /** The files a manifest names (parsed again only when the manifest changed). */
  async function namedBy(name: string, id: FileIdentity): Promise<string[]> {
    const had = parsed.get(name);
    if (had && had.id.ino === id.ino && had.id.size === id.size && had.id.mtimeMs === id.mtimeMs) return had.named;
    let named: string[] = [];
    try {
      named = (await readManifest(path.join(incoming, name))).files.map((f) => f.path);
    } catch {
      // Unreadable or malformed: nothing of it is claimed; once settled the import refuses it with the reason.
    }
    parsed.set(name, { id, named });
    return named;
  }

  async function lookAtManifest(name: string, claimed: Set<string>, waiting: (n: string) => boolean): Promise<Job | 'settling' | undefined> {
    const id = await identityOf(incoming, name);
    if (!id) return undefined;
    const named = await namedBy(name, id);
    for (const f of named) claimed.add(f.split('/')[0]!);
    if (inFlight.has(name)) return undefined;
    const ids = [id, ...(await Promise.all(named.map((f) => identityOf(incoming, f).catch(() => undefined)))).filter((x): x is FileIdentity => !!x)];
    // Placed by renames (its uploader's ready marker): complete now, no settle time to wait.
    const allSettled = isMarkedReady(incoming, name) || ids.map((x) => settled(x.rel, x)).every(Boolean);
    if (waiting(name)) return undefined;
    if (!allSettled) return 'settling';
    return { name, bytes: ids.reduce((sum, x) => sum + x.size, 0), run: (gate) => takeManifest(name, named, gate) };
  }

  async function lookAtBare(name: string, waiting: (n: string) => boolean): Promise<Job | 'settling' | undefined> {
    if (inFlight.has(name)) return undefined;
    const st = await fsp.lstat(path.join(incoming, name)).catch((e) => {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw e;
    });
    if (!st) return undefined;
    if (st.isDirectory()) {
      if (!noted.has(name)) log('ignored', { name, reason: 'a folder: only files named by a manifest are taken from folders' });
      noted.add(name);
      return undefined;
    }
    const why = refuseReason(st);
    const id: FileIdentity = { rel: name, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
    if (why) return refusalJob(name, () => reject(name, [id], `${name} ${why}: refused (uploads must be regular files owned by nobody else)`, EXIT_CODES.BAD_INPUT));
    const isSettled = settled(name, id);
    if (!o.repo) {
      if (isSettled && !noted.has(name)) log('waiting', { name, reason: 'no manifest names it and no --repo is set for bare files' });
      if (isSettled) noted.add(name);
      return undefined;
    }
    if (waiting(name)) return undefined;
    if (!isSettled) return 'settling';
    return { name, bytes: id.size, run: (gate) => takeBare(name, id, gate) };
  }

  /** Looking at an upload failed (it cannot be read, stat'ed...): that upload is refused, the watcher goes on. */
  async function rejectUnreadable(name: string, e: unknown): Promise<void> {
    const id = await identityOf(incoming, name).catch(() => undefined);
    if (!id) return;
    await reject(name, [id], `${name}: cannot be read: ${e instanceof RcuError ? [e.message, ...e.details].join('\n') : (e as Error)?.message ?? String(e)}`, EXIT_CODES.BAD_INPUT);
  }

  async function takeManifest(name: string, named: string[], gate: CommitGate): Promise<void> {
    // Identities before importing: what gets deleted afterwards must be what was imported.
    const files = (await Promise.all([...named, name].map((f) => identityOf(incoming, f).catch(() => undefined)))).filter((x): x is FileIdentity => !!x);
    try {
      const r = await runImport({ layout: o.layout, paths: [path.join(incoming, name)], cwd: incoming, defaultRepo: o.repo, waitSeconds: o.waitSeconds, gate });
      await accept(name, files, { kind: 'manifest', repo: r.repo, generation: r.generation, published: r.published, ...(r.alreadyPublished !== undefined ? { alreadyPublished: r.alreadyPublished } : {}), files: named.length });
    } catch (e) {
      await failed(name, files, e);
    }
  }

  async function takeBare(name: string, id: FileIdentity, gate: CommitGate): Promise<void> {
    try {
      const r = await runImport({ layout: o.layout, repo: o.repo!, paths: [path.join(incoming, name)], cwd: incoming, waitSeconds: o.waitSeconds, gate });
      await accept(name, [id], { kind: 'file', repo: r.repo, generation: r.generation, published: r.published });
    } catch (e) {
      await failed(name, [id], e);
    }
  }

  async function accept(name: string, files: FileIdentity[], fields: { repo: string; generation: number } & Record<string, unknown>): Promise<void> {
    await execute(incoming, await decide(incoming, { kind: 'accepted', name, files, verdict: { exitCode: 0, repo: fields.repo, generation: fields.generation } }));
    counts.accepted++;
    seen.delete(name);
    log('accepted', { name, ...fields });
  }

  /** The watcher's folders made folders again where needed, each repair logged. */
  async function repair(): Promise<void> {
    for (const r of await repairFolders(incoming)) log('repaired', { folder: r.folder, reason: REPAIRED, ...(r.movedTo ? { movedTo: r.movedTo } : {}) });
  }

  async function reject(name: string, files: FileIdentity[], reason: string, exitCode: number): Promise<void> {
    await repair();
    await execute(incoming, await decide(incoming, { kind: 'rejected', name, files, reason, verdict: { exitCode } }));
    counts.rejected++;
    seen.delete(name);
    log('rejected', { name, reason });
  }

  async function failed(name: string, files: FileIdentity[], e: unknown): Promise<void> {
    if (e instanceof RcuError && FINAL.has(e.code)) {
      await reject(name, files, [e.message, ...e.details].join('\n'), EXIT_CODES[e.code]);
      return;
    }
    retryAfter.set(name, Date.now() + RETRY_MS);
    log('retry', { name, code: e instanceof RcuError ? e.code : 'FAILURE', reason: (e as Error)?.message ?? String(e), retryInMs: RETRY_MS });
  }
}

/** A file name's bytes for logs and rejected/: printable ASCII kept, every other byte as %XX. */
function escapeName(raw: Buffer): string {
  let out = '';
  for (const b of raw) out += b >= 0x20 && b < 0x7f && b !== 0x25 && b !== 0x2f ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}
