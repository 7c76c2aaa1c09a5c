/**
 * `rcurepo deltas REPO [NAME...] [--from N] [--dry-run]`: make the delta packages each tip lacks, from the
 * newest N older builds kept in the repository, and publish them all in one transaction of REPO (listed
 * under their tip in the index). Idempotent: pairs whose delta is in the tree are left alone, pairs the
 * pool has already decided (in any repository) are not computed again. This is also exactly what the
 * background job after a publish runs (setting deltasAfterPublish).
 */
import os from 'node:os';
import { openBase, readRepoConfig } from '../../engine/repo.js';
import { Pool, type StagedBlob } from '../../engine/pool.js';
import type { AddChange, TransactionResult } from '../../engine/transaction.js';
import type { TreeEntry } from '../../formats/format.js';
import { RcuError } from '../../util/errors.js';
import { progress } from '../../util/progress.js';
import { publishInto, readSource, requireEopkg, type WriteOptions } from '../lifecycle/common.js';
import { tips, eopkgBuilds } from '../lifecycle/packages.js';
import { BlobChecks, makePair, type PairOutcome } from './make-pair.js';
import { writePair } from './pair-cache.js';
import { planPairs, type DeltaPair } from './pairs.js';
import { withDeltasLock } from './lock.js';

export const DEFAULT_FROM = 3;

export interface DeltasOptions extends WriteOptions {
  repo: string;
  names?: string[];
  from?: number;
  /** Draw progress on this stream when it is a terminal. */
  progressStream?: NodeJS.WriteStream;
  /** The caller holds the repository's delta-maker lock already (the background run). */
  locked?: boolean;
}

export interface DeltaReport {
  path: string;
  name: string;
  fromRelease: number;
  toRelease: number;
  /** present: already in the tree; made: computed now; reused: from the pool's pair cache; pointless: every file changed; skipped: bad input; pending: --dry-run. */
  status: 'present' | 'made' | 'reused' | 'pointless' | 'skipped' | 'pending';
  size?: number;
  carried?: number;
  total?: number;
  cached?: boolean;
  message?: string;
}

export interface DeltasResult extends TransactionResult {
  /** Generation the pairs were chosen from. */
  source: number;
  counts: { pairs: number; present: number; made: number; reused: number; pointless: number; skipped: number };
  deltas: DeltaReport[];
  /** Wall seconds spent making (or finding) the deltas, and publishing them. */
  seconds: { make: number; publish: number };
}

const JOBS = Math.max(1, Math.min(4, os.availableParallelism?.() ?? os.cpus().length));

export async function makeDeltas(opts: DeltasOptions): Promise<DeltasResult> {
  if (opts.locked || opts.dryRun) return makeDeltasLocked(opts);
  const layout = await openBase(opts.base);
  await readRepoConfig(layout.repo(opts.repo)); // NOT_FOUND before any lock directory is made
  return withDeltasLock(layout.repo(opts.repo), { waitSeconds: opts.waitSeconds ?? 300, onWait: opts.onWait }, () => makeDeltasLocked(opts));
}

async function makeDeltasLocked(opts: DeltasOptions): Promise<DeltasResult> {
  const from = opts.from ?? DEFAULT_FROM;
  if (!Number.isInteger(from) || from < 1) throw new RcuError('USAGE', `--from must be a whole number of at least 1, not ${String(opts.from)}`);
  const layout = await openBase(opts.base);
  const src = await readSource(layout, opts.repo);
  requireEopkg(src, 'deltas');
  const cfg = await readRepoConfig(layout.repo(opts.repo));
  if (cfg.frozen && !opts.dryRun) throw new RcuError('FROZEN', `repository '${opts.repo}' is frozen since ${cfg.frozen.since} by ${cfg.frozen.by}${cfg.frozen.reason ? ` (${cfg.frozen.reason})` : ''}; 'rcurepo unfreeze ${opts.repo}' first`);
  const pairs = planPairs(src.entries, { names: opts.names, from, repo: opts.repo });
  const reports = new Map<DeltaPair, DeltaReport>(pairs.map((p) => [p, { path: p.path, name: p.name, fromRelease: p.old.release, toRelease: p.tip.release, status: p.present ? 'present' : 'pending' }]));
  const todo = pairs.filter((p) => !p.present);
  const base: Omit<DeltasResult, 'counts' | 'deltas'> = { seconds: { make: 0, publish: 0 }, repo: opts.repo, published: false, dryRun: !!opts.dryRun, parent: src.generation, generation: src.generation, added: [], removed: [], replaced: [], warnings: [], source: src.generation };
  if (opts.dryRun) return finish(base, reports, todo.map((p) => p.path));

  const pool = new Pool(layout);
  const checks = new BlobChecks(pool);
  const outcomes = new Map<DeltaPair, PairOutcome>();
  const bar = progress(`deltas ${opts.repo}`, todo.length, opts.progressStream ?? process.stderr, 1);
  const staged: StagedBlob[] = [];
  const t0 = performance.now();
  try {
    let next = 0;
    const worker = async () => {
      while (next < todo.length) {
        const pair = todo[next++]!;
        const o = await makePair(pool, checks, pair);
        if (o.status === 'made' || o.status === 'reused') staged.push(o.staged);
        outcomes.set(pair, o);
        bar.tick();
      }
    };
    await Promise.all(Array.from({ length: Math.min(JOBS, todo.length) }, worker));
    bar.done();
    base.seconds.make = (performance.now() - t0) / 1000;
    for (const [pair, o] of outcomes) Object.assign(reports.get(pair)!, describeOutcome(o));
    const ready = todo.filter((p) => {
      const o = outcomes.get(p);
      return o?.status === 'made' || o?.status === 'reused';
    });
    if (ready.length === 0) return finish(base, reports, []);
    const r = await publishInto(layout, opts.repo, 'deltas', [opts.repo, ...(opts.names ?? []), `--from=${from}`], opts, async (_state, parent) => {
      return { adds: stillWanted(ready, parent).map((p) => toAdd(p, outcomes.get(p)!)), removes: [] };
    });
    base.seconds.publish = (performance.now() - t0) / 1000 - base.seconds.make;
    // The pair cache learns of a delta once its blob is in the pool (a publish that lost a race keeps nothing).
    for (const p of ready) {
      const o = outcomes.get(p)!;
      if ((o.status === 'made' || o.status === 'reused') && o.staged.committed) {
        await writePair(pool, p.old.entry.sha256, p.tip.entry.sha256, { v: 1, outcome: 'delta', basename: o.meta.basename, sha256: o.staged.sha256, sha1: o.staged.sha1, size: o.staged.size, carried: o.carried, total: o.total });
      }
    }
    const published = new Set(r.added);
    for (const p of ready) if (!published.has(p.path)) reports.get(p)!.message = 'not published: its tip, its old build or its path changed meanwhile';
    return finish({ ...base, ...r, source: src.generation }, reports, undefined);
  } finally {
    await pool.discard(staged);
  }
}

/** Under the lock: only deltas whose tip and old build are still there, and whose path is still free. */
function stillWanted(ready: readonly DeltaPair[], parent: readonly TreeEntry[]): DeltaPair[] {
  const byPath = new Map(parent.map((e) => [e.path, e]));
  const currentTips = tips(eopkgBuilds(parent));
  return ready.filter((p) => {
    const tipNow = currentTips.get(p.name);
    return !byPath.has(p.path) && byPath.get(p.old.entry.path)?.sha256 === p.old.entry.sha256 && tipNow?.entry.path === p.tip.entry.path && tipNow.entry.sha256 === p.tip.entry.sha256;
  });
}

function toAdd(p: DeltaPair, o: PairOutcome): AddChange {
  if (o.status !== 'made' && o.status !== 'reused') throw new Error('unreachable: only made or reused deltas are added');
  return { path: p.path, sha256: o.staged.sha256, size: o.staged.size, staged: o.staged, meta: o.meta };
}

function describeOutcome(o: PairOutcome): Partial<DeltaReport> {
  switch (o.status) {
    case 'made':
    case 'reused':
      return { status: o.status, size: o.staged.size, carried: o.carried, total: o.total };
    case 'pointless':
      return { status: 'pointless', cached: o.cached, total: o.total, message: 'every file changed: no delta (as eopkg)' };
    case 'skipped':
      return { status: 'skipped', message: o.message };
  }
}

function finish(base: Omit<DeltasResult, 'counts' | 'deltas'>, reports: Map<DeltaPair, DeltaReport>, dryAdded: string[] | undefined): DeltasResult {
  const deltas = [...reports.values()];
  const count = (s: DeltaReport['status']) => deltas.filter((d) => d.status === s).length;
  const r: DeltasResult = {
    ...base,
    counts: { pairs: deltas.length, present: count('present'), made: count('made'), reused: count('reused'), pointless: count('pointless'), skipped: count('skipped') },
    deltas,
  };
  if (dryAdded) r.added = dryAdded;
  return r;
}
