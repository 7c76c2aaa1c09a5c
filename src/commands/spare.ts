/**
 * `rcurepo spare REPO`: make the spare clone of the current generation and its twin (normally started in
 * the background after each publish; see src/engine/spare.ts and spare-twin.ts). Coalescing: when `current` moves on while
 * the clone is made, the spare is of no use and the newest generation is cloned instead, at most a few
 * times; a later publish starts another maker anyway. Stale spares are removed at the end.
 */
import type { Layout } from '../engine/layout.js';
import { openBase, readRepoConfig } from '../engine/repo.js';
import { readCurrent } from '../engine/generations.js';
import { announceMaker, listSpares, makeSpare, makerDone, SPARE_REACTION, tidySpares } from '../engine/spare.js';
import { claimPending } from '../publish/pending.js';
import type { SpareKind, SpareState } from '../engine/spare.js';
import { getFormat } from '../formats/registry.js';
import { acquireLease, releaseLease } from '../readers/leases.js';
import { settingsFrom } from '../readers/settings.js';
import { isRcuError } from '../util/errors.js';

export interface SpareResult {
  repo: string;
  enabled: boolean;
  made: Array<{ generation: number; kind: SpareKind; ms: number }>;
  skipped: string[];
  removed: number[];
  spares: SpareState[];
}

const MAX_ROUNDS = 3;

export async function spare(o: { base: string; repo: string; background?: boolean }): Promise<SpareResult> {
  const layout = await openBase(o.base);
  const repo = layout.repo(o.repo);
  // Announced before the pending marker is given up, so `verify` always sees a maker at work.
  await announceMaker(repo, process.pid);
  if (o.background) await claimPending(repo, SPARE_REACTION);
  const cfg = await readRepoConfig(repo);
  // A mirror changes only by `sync`, which receives into a tree of its own: a spare would never be taken.
  const enabled = settingsFrom(cfg.settings).spareClone && !cfg.upstream;
  const out: SpareResult = { repo: o.repo, enabled, made: [], skipped: [], removed: [], spares: [] };
  try {
    if (enabled) await makeForCurrent(layout, o.repo, (await getFormat(cfg.format)).indexFiles, settingsFrom(cfg.settings).spareTwin, out);
    out.removed = await tidySpares(repo, repo.trashDir);
  } finally {
    await makerDone(repo); // only now: verify must not count links while spares are made or removed
  }
  out.spares = await listSpares(repo);
  return out;
}

async function makeForCurrent(layout: Layout, repoName: string, skip: readonly string[], twins: boolean, out: SpareResult): Promise<void> {
  const repo = layout.repo(repoName);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const gen = await readCurrent(repo);
    if (gen === undefined) return;
    let lease: string;
    try {
      // The lease keeps the reaper off the source tree while it is cloned (grace periods may be short).
      lease = (await acquireLease(layout, repoName, { gen, ttlSeconds: 600, holder: 'spare-clone', pid: process.pid, attempts: 1 })).record.id;
    } catch (e) {
      if (!isRcuError(e, 'NOT_FOUND')) throw e;
      continue; // reaped or superseded meanwhile: look at current again
    }
    try {
      // The spare first (the next writer takes it at once), then its twin (taken later in that writer's
      // transaction, and stopped being useful only when `current` moves on before it is done).
      for (const kind of twins ? (['spare', 'twin'] as const) : (['spare'] as const)) {
        if (kind === 'twin' && (await readCurrent(repo)) !== gen) break;
        const r = await makeSpare(repo, gen, skip, kind);
        if (r.made) out.made.push({ generation: gen, kind, ms: r.ms ?? 0 });
        else out.skipped.push(`generation ${gen}: ${r.reason}`);
      }
    } finally {
      await releaseLease(layout, lease).catch(() => undefined);
    }
    if ((await readCurrent(repo)) === gen) return;
  }
}
