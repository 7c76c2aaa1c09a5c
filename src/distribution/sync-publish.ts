/**
 * Publishing a checked mirror tree through the engine's own path (rcu-protocol.md, writer steps 1-2 and
 * 7-10): under the repository's writer lock, clean a crashed writer's leftovers, allocate a generation,
 * write its manifest and history record, rename the (already durable) tree into snapshots/, swap
 * `current` with one rename, record when the parent was superseded. The tree was received, pooled and
 * checked before: the lock is held for milliseconds, not for the transfer.
 */
import type { AfterPublish } from '../engine/transaction.js';
import fsp from 'node:fs/promises';
import type { Layout } from '../engine/layout.js';
import { acquireWriterLock } from '../engine/lock.js';
import type { LockHolder } from '../engine/lock.js';
import { readRepoConfig } from '../engine/repo.js';
import { cleanupRepo } from '../engine/cleanup.js';
import { allocateGeneration, markSuperseded, readCurrent, swapCurrent, writeHistory, writeManifest } from '../engine/generations.js';
import type { HistoryRecord } from '../engine/generations.js';
import { defaultActor } from '../engine/transaction.js';
import type { TreeEntry } from '../formats/format.js';
import { RcuError } from '../util/errors.js';
import { fsyncPath, mkdirp } from '../util/fsx.js';

export interface TreeDiff {
  added: string[];
  removed: string[];
  replaced: string[];
}

/** What changed from `before` to `after` (both sorted by path; compared by content hash). */
export function diffEntries(before: readonly TreeEntry[], after: readonly TreeEntry[]): TreeDiff {
  const old = new Map(before.map((e) => [e.path, e.sha256] as const));
  const d: TreeDiff = { added: [], removed: [], replaced: [] };
  const seen = new Set<string>();
  for (const e of after) {
    seen.add(e.path);
    const o = old.get(e.path);
    if (o === undefined) d.added.push(e.path);
    else if (o !== e.sha256) d.replaced.push(e.path);
  }
  for (const e of before) if (!seen.has(e.path)) d.removed.push(e.path);
  return d;
}

export interface PublishTreeOptions {
  layout: Layout;
  repoName: string;
  /** The received, pooled, checked and durable tree; renamed into snapshots/ on success. */
  tree: string;
  entries: readonly TreeEntry[];
  /** The generation the tree was received against; publishing over another one is refused. */
  parent: number;
  diff: TreeDiff;
  operation: string;
  args: string[];
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
  /** The repository's after-publish reactions (publish/after-publish.ts); returns their warnings. */
  afterPublish: AfterPublish;
}

const HISTORY_SAMPLE = 20;

export async function publishTree(o: PublishTreeOptions): Promise<{ generation: number; warnings: string[] }> {
  const repo = o.layout.repo(o.repoName);
  const lock = await acquireWriterLock(repo.lockTarget, { operation: o.operation, waitSeconds: o.waitSeconds ?? 300, onWait: o.onWait });
  const warnings: string[] = [];
  let gen: number;
  try {
    const cfg = await readRepoConfig(repo);
    if (cfg.frozen) throw new RcuError('FROZEN', `repository '${repo.name}' is frozen since ${cfg.frozen.since} by ${cfg.frozen.by}; 'rcurepo unfreeze ${repo.name}' first (the received tree is kept for the next sync)`);
    await cleanupRepo(o.layout, repo);
    const current = await readCurrent(repo);
    if (current !== o.parent) throw new RcuError('FAILURE', `current of '${repo.name}' moved from ${o.parent} to ${current ?? 'nothing'} during the sync; sync again`);
    gen = await allocateGeneration(repo);
    await writeManifest(repo, gen, o.entries);
    const sample = (a: string[]) => a.slice(0, HISTORY_SAMPLE);
    const record: HistoryRecord = {
      generation: gen,
      parent: o.parent,
      time: new Date().toISOString(),
      actor: defaultActor(),
      operation: o.operation,
      args: o.args,
      added: o.diff.added.length,
      removed: o.diff.removed.length,
      replaced: o.diff.replaced.length,
      files: o.entries.length,
      bytes: o.entries.reduce((s, e) => s + e.size, 0),
      changes: {
        added: sample(o.diff.added),
        removed: sample(o.diff.removed),
        replaced: sample(o.diff.replaced),
        truncated: [o.diff.added, o.diff.removed, o.diff.replaced].some((a) => a.length > HISTORY_SAMPLE),
      },
    };
    await writeHistory(repo, record);
    await mkdirp(repo.snapshotsDir);
    await fsp.rename(o.tree, repo.snapshotDir(gen));
    await fsyncPath(repo.snapshotsDir);
    await lock.assertHeld();
    await swapCurrent(repo, gen);
    await markSuperseded(repo, o.parent);
    try {
      warnings.push(...(await o.afterPublish(gen, repo.snapshotDir(gen))));
    } catch (e) {
      warnings.push(`after-publish step failed: ${(e as Error).message}`);
    }
  } finally {
    await lock.release().catch(() => undefined);
  }
  return { generation: gen, warnings };
}
