/**
 * The group-commit leader: holding the repository's writer lock, it takes every pending request of a
 * live caller, plans them one by one against the parent plus the requests accepted before them, runs ONE
 * transaction for all, and writes each request's outcome before the lock is released. A request that
 * conflicts is refused on its own; the others proceed.
 */
import { findBuildClashes, settleBuildClashes } from '../engine/build-identity.js';
import fsp from 'node:fs/promises';
import type { Layout } from '../engine/layout.js';
import type { Format } from '../formats/format.js';
import type { WriterLock } from '../engine/lock.js';
import { runTransaction } from '../engine/transaction.js';
import type { AddChange, PlanState, TransactionResult } from '../engine/transaction.js';
import { Pool } from '../engine/pool.js';
import type { StagedBlob } from '../engine/pool.js';
import { checkSigningReady } from '../signing/index.js';
import { afterPublishFor } from '../publish/after-publish.js';
import type { ImportResult } from '../engine/importer.js';
import { drainQueue, writeOutcome } from './queue.js';
import type { QueueOutcome, QueueRequest, QueuedFile } from './queue.js';
import { recordDelivered } from './delivered.js';
import { errnoCode, RcuError } from '../util/errors.js';
import { tmpName } from '../util/fsx.js';

type Cmp = 'absent' | 'different';

interface Planned {
  req: QueueRequest;
  /** Files this request brings into the new generation (including ones another request of the batch also brings). */
  brings: Array<{ f: QueuedFile; cmp: Cmp }>;
  unchanged: string[];
}

const HISTORY_ARGS = 50;

/** Link a private name to a caller's staged copy: the caller may exit (and its pid-named copy be cleaned) at any time. */
async function adopt(pool: Pool, f: QueuedFile): Promise<StagedBlob | undefined> {
  if (f.tmpPath === undefined) return { sha256: f.sha256, sha1: f.sha1, size: f.size, source: f.source };
  const mine = tmpName(pool.layout.poolTmpDir, 'adopted');
  try {
    await fsp.link(f.tmpPath, mine);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
  return { tmpPath: mine, sha256: f.sha256, sha1: f.sha1, size: f.size };
}

export async function leadBatch(opts: { layout: Layout; repoName: string; format: Format; lock: WriterLock }): Promise<void> {
  const { layout, format } = opts;
  const repo = layout.repo(opts.repoName);
  const pool = new Pool(layout);
  const requests = await drainQueue(repo);
  if (requests.length === 0) return;
  const outcomes = new Map<string, QueueOutcome>();
  const adopted = new Map<QueuedFile, StagedBlob>();
  const deferred = new Set<string>();
  const planned: Planned[] = [];
  const refuse = (req: QueueRequest, code: RcuError['code'], message: string, details: string[] = []) => outcomes.set(req.id, { status: 'refused', code, message, details });

  try {
    const live: QueueRequest[] = [];
    for (const req of requests) {
      let lost: QueuedFile | undefined;
      for (const f of req.files) {
        const s = await adopt(pool, f);
        if (!s) lost = f;
        else adopted.set(f, s);
      }
      if (lost) refuse(req, 'FAILURE', `${lost.source}: the staged copy ${lost.tmpPath} disappeared before it was published; nothing was imported (try again)`);
      else live.push(req);
    }

    const plan = async (state: PlanState) => {
      const batch = new Map<string, { sha256: string; cmp: Cmp; source: string }>();
      const removes: string[] = [];
      const batchAdds = () => [...batch].map(([p, b]) => ({ path: p, sha256: b.sha256, size: 0 }));
      for (const req of live) {
        const p: Planned = { req, brings: [], unchanged: [] };
        const conflicts: string[] = [];
        let defer = false;
        for (const f of req.files) {
          const b = batch.get(f.treePath);
          if (b) {
            if (b.sha256 === f.sha256) p.brings.push({ f, cmp: b.cmp });
            else if (req.replace) defer = true; // the newer bytes go into the next generation
            else conflicts.push(`${f.treePath}: a concurrent import (${b.source}) brings sha256 ${b.sha256}, ${f.source} has sha256 ${f.sha256}`);
            continue;
          }
          const cmp = await state.compare(f.treePath, f.sha256);
          if (cmp === 'same') p.unchanged.push(f.treePath);
          else if (cmp === 'absent' || req.replace) p.brings.push({ f, cmp });
          else {
            const parentByPath = await state.entriesByPath();
            conflicts.push(`${f.treePath}: generation ${state.parent} has sha256 ${parentByPath.get(f.treePath)?.sha256 ?? '(not a pool file)'}, ${f.source} has sha256 ${f.sha256}`);
          }
        }
        if (defer) {
          deferred.add(req.id);
          continue;
        }
        if (conflicts.length) {
          refuse(req, 'CONFLICT', `${conflicts.length} file(s) already exist with different content; nothing was imported (use --replace to publish the new bytes)`, conflicts);
          continue;
        }
        // One build per identity (eopkg name and release), judged per request so one caller's clash
        // never fails another's (the transaction checks the whole change again).
        if (format.buildIdentity && p.brings.length) {
          const mine = p.brings.map(({ f }) => ({ path: f.treePath, sha256: f.sha256, size: f.size }));
          const change = { adds: [...batchAdds(), ...mine], removes: [...removes], replaceBuilds: !!req.replace };
          const minePaths = new Set(mine.map((m) => m.path));
          const clashes = findBuildClashes(change, await state.entriesByPath(), (x) => format.buildIdentity!(x), minePaths).filter((c) => minePaths.has(c.path));
          try {
            settleBuildClashes(change, clashes, opts.repoName, state.parent);
          } catch (e) {
            if (!(e instanceof RcuError)) throw e;
            refuse(req, e.code, e.message, e.details);
            continue;
          }
          for (const r of change.removes) if (!removes.includes(r)) removes.push(r);
        }
        for (const x of p.brings) if (!batch.has(x.f.treePath)) batch.set(x.f.treePath, { sha256: x.f.sha256, cmp: x.cmp, source: x.f.source });
        planned.push(p);
      }
      const adds: AddChange[] = [];
      const seen = new Set<string>();
      for (const p of planned) {
        for (const { f } of p.brings) {
          if (seen.has(f.treePath)) continue;
          seen.add(f.treePath);
          adds.push({ path: f.treePath, sha256: f.sha256, size: f.size, staged: adopted.get(f)!, meta: f.meta });
        }
      }
      return { adds, removes, replaceBuilds: removes.length > 0 };
    };

    const actors = [...new Set(requests.map((r) => r.actor).filter((a): a is string => !!a))];
    let tx: TransactionResult;
    try {
      tx = await runTransaction(
        {
          layout,
          repoName: opts.repoName,
          format,
          operation: live.length > 1 ? `import (group of ${live.length})` : 'import',
          args: live.flatMap((r) => r.args).slice(0, HISTORY_ARGS),
          actor: actors.length ? actors.join(', ') : undefined,
          heldLock: opts.lock,
          afterPublish: afterPublishFor(layout, opts.repoName),
          beforeWrite: checkSigningReady,
        },
        plan,
      );
    } catch (e) {
      // Nothing of this batch was published: every request still waiting shares the failure.
      const err = e instanceof RcuError ? e : undefined;
      for (const req of requests) {
        if (outcomes.has(req.id) || deferred.has(req.id)) continue;
        refuse(req, err?.code ?? 'FAILURE', err?.message ?? `import failed: ${(e as Error).message}`, err?.details ?? []);
      }
      planned.length = 0;
      if (!err) throw e;
      return;
    }
    const records: Promise<void>[] = [];
    for (const p of planned) {
      const brings = p.brings.length > 0 && tx.published;
      const result: ImportResult = {
        repo: tx.repo,
        published: brings,
        dryRun: false,
        parent: tx.parent,
        generation: brings ? tx.generation : tx.parent,
        added: p.brings.filter((b) => b.cmp === 'absent').map((b) => b.f.treePath),
        replaced: p.brings.filter((b) => b.cmp === 'different').map((b) => b.f.treePath),
        removed: [],
        warnings: tx.warnings,
        inputs: p.req.inputs,
        unchanged: p.unchanged,
        ...(p.req.manifest ? { manifest: p.req.manifest.name } : {}),
      };
      if (p.req.manifest) {
        records.push(
          recordDelivered(repo, p.req.manifest.key, {
            generation: result.generation,
            manifest: p.req.manifest.name,
            files: p.req.files.map((f) => ({ path: f.treePath, sha256: f.sha256 })),
          }),
        );
      }
      outcomes.set(p.req.id, { status: 'done', result });
    }
    // Fifty uploads of a round are fifty records: written side by side, not one after another under the lock.
    await Promise.all(records);
  } finally {
    // Outcomes go out before the caller releases the lock, so no later leader re-plans an answered request.
    await Promise.all([...outcomes].map(([id, o]) => writeOutcome(repo, id, o)));
    await pool.discard([...adopted.values()]);
  }
}
