/** Shared plumbing of the lifecycle commands: reading a source repository, publishing into a target. */
import type { Layout } from '../../engine/layout.js';
import { openBase, readRepoConfig } from '../../engine/repo.js';
import type { RepoConfig } from '../../engine/repo.js';
import { requireCurrent } from '../../engine/generations.js';
import { loadEntries } from '../../engine/snapshot-state.js';
import { publishingTransaction } from '../../publish/after-publish.js';
import type { Change, PlanState, TransactionResult } from '../../engine/transaction.js';
import type { LockHolder } from '../../engine/lock.js';
import type { Format, TreeEntry } from '../../formats/format.js';
import { getFormat } from '../../formats/registry.js';
import { RcuError } from '../../util/errors.js';

export interface WriteOptions {
  base: string;
  dryRun?: boolean;
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
}

export interface PromoteOptions extends WriteOptions {
  source: string;
  target: string;
  names: string[];
  withDeps?: boolean;
  /** deb: the distribution to take packages from (codename or suite). */
  dist?: string;
}

export interface RepoSnapshot {
  name: string;
  config: RepoConfig;
  format: Format;
  generation: number;
  entries: TreeEntry[];
}

/**
 * The source side of a copy: its current generation, resolved once, and that generation's entries.
 * Blobs are shared through the pool, so copying is linking: no package data is read or written.
 */
export async function readSource(layout: Layout, name: string): Promise<RepoSnapshot> {
  const repo = layout.repo(name);
  const config = await readRepoConfig(repo);
  const format = await getFormat(config.format);
  const generation = await requireCurrent(repo);
  return { name, config, format, generation, entries: await loadEntries(layout, repo, generation, format) };
}

export function requireEopkg(r: { name: string; config: RepoConfig }, command: string): void {
  if (r.config.format !== 'eopkg') throw new RcuError('USAGE', `${command} applies to eopkg repositories; '${r.name}' is ${r.config.format}`);
}

/** Commands about packages (promote, sources, trim-packages): eopkg and deb, not the files format. */
export function requirePackages(r: { name: string; config: RepoConfig }, command: string): void {
  if (r.config.format !== 'eopkg' && r.config.format !== 'deb') throw new RcuError('USAGE', `${command} applies to eopkg and deb repositories; '${r.name}' is ${r.config.format}`);
}

export function sameFormat(src: RepoSnapshot, dstConfig: RepoConfig, dstName: string): void {
  if (src.config.format !== dstConfig.format) {
    throw new RcuError('USAGE', `'${src.name}' is ${src.config.format} and '${dstName}' is ${dstConfig.format}: packages move only between repositories of one format`);
  }
}

export interface LifecycleResult extends TransactionResult {
  source?: { repo: string; generation: number };
  notes: string[];
}

/** One transaction of the target repository; `plan` sees the target's parent entries. */
export async function publishInto(
  layout: Layout,
  target: string,
  operation: string,
  args: string[],
  opts: WriteOptions,
  plan: (state: PlanState, parent: readonly TreeEntry[]) => Promise<Change>,
): Promise<TransactionResult> {
  const repo = layout.repo(target);
  const format = await getFormat((await readRepoConfig(repo)).format);
  return publishingTransaction(
    { layout, repoName: target, format, operation, args, dryRun: opts.dryRun, waitSeconds: opts.waitSeconds, onWait: opts.onWait },
    async (state) => plan(state, await state.entries()),
  );
}

export async function baseOf(opts: WriteOptions): Promise<Layout> {
  return openBase(opts.base);
}

/** Adds for entries whose blobs are already in the pool. */
export function linkAdds(entries: readonly TreeEntry[]): Change['adds'] {
  return entries.map((e) => ({ path: e.path, sha256: e.sha256, size: e.size }));
}
