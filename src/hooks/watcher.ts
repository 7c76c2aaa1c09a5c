/**
 * The incoming watcher: the incoming directory is a durable queue, polled (fs.watch misses events on
 * many filesystems and across restarts). A manifest (.tram) that stopped changing is the commit signal
 * for the files it names; a bare file (when a target repository is configured) is taken once its size
 * and mtime have been stable for the settle time. Names starting with '.' are uploads in progress and are
 * never touched. Each upload is imported through the group commit (concurrent uploads share publishes),
 * then deleted (accepted) or moved into rejected/ with a reason file; those steps go through a journal
 * (watch-journal.ts), and nothing is deleted before its publish returned, so kill -9 never loses one.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Layout } from '../engine/layout.js';
import { acquireWriterLock } from '../engine/lock.js';
import { importFiles } from '../commands/import.js';
import { importManifest, isManifestName, readUploadManifest } from './manifest.js';
import { refuseReason } from './uploads.js';
import { decide, execute, identityOf, pendingDecisions, pruneVerdicts, REJECTED_DIR, STATE_DIR } from './watch-journal.js';
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
const CONCURRENCY = 16;

interface Seen {
  size: number;
  mtimeMs: number;
  ino: number;
  since: number;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });

export async function watchIncoming(o: WatchOptions): Promise<{ accepted: number; rejected: number }> {
  const incoming = path.resolve(o.incoming);
  await fsp.mkdir(path.join(incoming, STATE_DIR), { recursive: true });
  await fsp.mkdir(path.join(incoming, REJECTED_DIR), { recursive: true });
  // One watcher per directory; a killed one is recovered at once (its pid is dead).
  const lock = await acquireWriterLock(path.join(incoming, STATE_DIR, 'watcher'), { operation: 'watch', waitSeconds: o.waitSeconds });
  const counts = { accepted: 0, rejected: 0 };
  const seen = new Map<string, Seen>();
  const retryAfter = new Map<string, number>();
  const noted = new Set<string>();
  const now = () => new Date().toISOString();
  const log = (event: string, fields: Record<string, unknown>) => o.log({ time: now(), event, ...fields });
  try {
    log('start', { incoming, repo: o.repo ?? null, settleMs: o.settleMs, pid: process.pid });
    for (const d of await pendingDecisions(incoming)) {
      await execute(incoming, d);
      log('resumed', { name: d.name, decision: d.kind });
    }
    let pruned = 0;
    while (!o.signal.aborted) {
      if (Date.now() - pruned > 60_000) {
        await pruneVerdicts(incoming);
        pruned = Date.now();
      }
      const ready = await scan();
      for (let i = 0; i < ready.length; i += CONCURRENCY) await Promise.all(ready.slice(i, i + CONCURRENCY).map((job) => job()));
      await sleep(o.pollMs, o.signal);
    }
  } finally {
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

  async function scan(): Promise<Array<() => Promise<void>>> {
    const names = (await fsp.readdir(incoming)).filter((n) => !n.startsWith('.') && n !== REJECTED_DIR).sort();
    const jobs: Array<() => Promise<void>> = [];
    const claimed = new Set<string>();
    const present = new Set(names);
    for (const n of seen.keys()) if (!present.has(n)) seen.delete(n);
    const waiting = (n: string) => (retryAfter.get(n) ?? 0) > Date.now();
    // Manifests first: the files they name are theirs, never bare files.
    for (const name of names.filter(isManifestName)) {
      const id = await identityOf(incoming, name);
      if (!id) continue;
      let named: string[] = [];
      try {
        named = (await readUploadManifest(path.join(incoming, name))).files.map((f) => f.path);
      } catch (e) {
        if (!(e instanceof RcuError)) throw e;
      }
      for (const f of named) claimed.add(f.split('/')[0]!);
      const ids = [id, ...(await Promise.all(named.map((f) => identityOf(incoming, f)))).filter((x): x is FileIdentity => !!x)];
      const allSettled = ids.map((x) => settled(x.rel, x)).every(Boolean);
      if (allSettled && !waiting(name)) jobs.push(() => takeManifest(name, named));
    }
    for (const name of names) {
      if (isManifestName(name) || claimed.has(name)) continue;
      const st = await fsp.lstat(path.join(incoming, name)).catch((e) => {
        if (errnoCode(e) === 'ENOENT') return undefined;
        throw e;
      });
      if (!st) continue;
      if (st.isDirectory()) {
        if (!noted.has(name)) log('ignored', { name, reason: 'a folder: only files named by a manifest are taken from folders' });
        noted.add(name);
        continue;
      }
      const why = refuseReason(st);
      const id: FileIdentity = { rel: name, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
      if (why) {
        jobs.push(() => reject(name, [id], `${name} ${why}: refused (uploads must be regular files owned by nobody else)`, EXIT_CODES.BAD_INPUT));
        continue;
      }
      if (!settled(name, id) || waiting(name)) continue;
      if (!o.repo) {
        if (!noted.has(name)) log('waiting', { name, reason: 'no manifest names it and no --repo is set for bare files' });
        noted.add(name);
        continue;
      }
      jobs.push(() => takeBare(name, id));
    }
    return jobs;
  }

  async function takeManifest(name: string, named: string[]): Promise<void> {
    // Identities before importing: what gets deleted afterwards must be what was imported.
    const files = (await Promise.all([...named, name].map((f) => identityOf(incoming, f)))).filter((x): x is FileIdentity => !!x);
    try {
      const r = await importManifest({ base: o.layout, manifestPath: path.join(incoming, name), waitSeconds: o.waitSeconds });
      await accept(name, files, { kind: 'manifest', repo: r.repo, generation: r.generation, published: r.published, ...(r.alreadyPublished !== undefined ? { alreadyPublished: r.alreadyPublished } : {}), files: named.length });
    } catch (e) {
      await failed(name, files, e);
    }
  }

  async function takeBare(name: string, id: FileIdentity): Promise<void> {
    try {
      const r = await importFiles({ base: o.layout.base, repo: o.repo!, paths: [path.join(incoming, name)], cwd: incoming, waitSeconds: o.waitSeconds });
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

  async function reject(name: string, files: FileIdentity[], reason: string, exitCode: number): Promise<void> {
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
