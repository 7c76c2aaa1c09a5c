/**
 * `rcurepo import REPO PATH...`: add files (directories walked, globs expanded) as one new generation, or
 * `rcurepo import REPO UPLOAD.tram`: the files an upload manifest names, each verified against its sha256.
 *
 * Safe from many processes at once: files are copied and placed outside the lock, then queued; whoever
 * holds the writer lock publishes every queued import in one transaction (src/hooks/group-commit.ts). Each
 * caller returns when its own files are published or refused. --dry-run stays a plain, unqueued transaction.
 */
import path from 'node:path';
import { openBase, readRepoConfig } from '../engine/repo.js';
import { runTransaction } from '../engine/transaction.js';
import { readCurrent } from '../engine/generations.js';
import type { Layout, RepoLayout } from '../engine/layout.js';
import type { TransactionResult } from '../engine/transaction.js';
import { planImport, prepareFiles, type PreparedFile } from '../engine/importer.js';
import type { LockHolder } from '../engine/lock.js';
import { Pool } from '../engine/pool.js';
import { getFormat } from '../formats/registry.js';
import { collectInputs } from './inputs.js';
import { prepareThreadsFor } from './prepare-threads.js';
import { RcuError } from '../util/errors.js';
import { progress } from '../util/progress.js';
import { trace } from '../util/trace.js';
import { afterPublishFor } from './after-publish.js';
import { checkSigningReady } from '../signing/index.js';

/** Imports of more files than this run their own transaction instead of joining a group commit. */
const GROUP_COMMIT_MAX_FILES = 256;
import { submitImport } from '../hooks/group-commit.js';

export interface ImportOptions {
  base: string;
  repo: string;
  paths: string[];
  cwd: string;
  prefix?: string;
  /** deb: the distribution and component the packages go to (default: the first of each). */
  dist?: string;
  component?: string;
  replace?: boolean;
  followSymlinks?: boolean;
  dryRun?: boolean;
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
  actor?: string;
}

export interface ImportResult extends TransactionResult {
  inputs: number;
  unchanged: string[];
  /** Upload manifest imports: the manifest's file name. */
  manifest?: string;
  /** Upload manifest delivered again: the generation that first published it (nothing was imported now). */
  alreadyPublished?: number;
}

export async function importFiles(opts: ImportOptions): Promise<ImportResult> {
  if (opts.paths.length === 0) throw new RcuError('USAGE', 'import needs at least one PATH');
  const layout = await openBase(opts.base);
  const manifests = opts.paths.filter((p) => p.endsWith('.tram'));
  if (manifests.length) {
    if (opts.paths.length !== 1) throw new RcuError('USAGE', 'an upload manifest (.tram) is imported on its own: import REPO UPLOAD.tram');
    if (opts.dryRun) throw new RcuError('USAGE', '--dry-run is not supported for upload manifests');
    const { importManifest } = await import('../hooks/manifest.js'); // TOML parser only when needed
    return importManifest({ base: layout, manifestPath: path.resolve(opts.cwd, manifests[0]!), repo: opts.repo, prefix: opts.prefix, replace: opts.replace, waitSeconds: opts.waitSeconds, onWait: opts.onWait, actor: opts.actor });
  }
  const repo = layout.repo(opts.repo);
  const config = await readRepoConfig(repo);
  const format = await getFormat(config.format);
  trace('import: start');
  const inputs = await collectInputs(opts.paths, { cwd: opts.cwd, followSymlinks: opts.followSymlinks });
  const bar = progress('reading', inputs.length);
  if ((opts.dist !== undefined || opts.component !== undefined) && format.name !== 'deb') throw new RcuError('USAGE', `--dist and --component apply to deb repositories; '${opts.repo}' is ${format.name}`);
  const placeOpts = { prefix: opts.prefix, dist: opts.dist, component: opts.component, settings: config.settings };
  const parallel = prepareThreadsFor(layout.base, format.name, placeOpts, inputs.length);
  const { prepared, refused } = await prepareFiles(layout, format, inputs, { ...placeOpts, progress: bar, parallel });
  bar.done();
  trace(`import: prepared${parallel ? ` (${parallel.threads} threads)` : ''}`);
  const discardAll = () => new Pool(layout).discard(prepared.map((p) => p.staged));
  if (refused.length) {
    await discardAll();
    throw new RcuError('BAD_INPUT', refused.length === 1 ? `${refused[0]}; nothing was imported` : `${refused.length} files refused; nothing was imported`, {
      details: refused.length === 1 ? [] : refused,
    });
  }
  // Group commit is for the many small calls of build bots. A bulk import is a transaction of its own:
  // it would fill a transaction alone anyway, and its request file would list every staged copy.
  if (!opts.dryRun && prepared.length <= GROUP_COMMIT_MAX_FILES) {
    // A re-delivery of files the current snapshot already holds is answered without the lock (the
    // answer names that generation; a frozen repository still goes the long way, to say so).
    const known = config.frozen ? undefined : await alreadyCurrent(layout, repo, prepared);
    if (known) {
      await discardAll();
      return { ...known, inputs: inputs.length };
    }
    return submitImport({ layout, repoName: opts.repo, format, prepared, inputs: inputs.length, args: opts.paths, replace: opts.replace, actor: opts.actor, waitSeconds: opts.waitSeconds, onWait: opts.onWait });
  }
  let unchanged: string[] = [];
  const res = await runTransaction(
    {
      layout,
      repoName: opts.repo,
      format,
      operation: 'import',
      args: opts.paths,
      actor: opts.actor,
      waitSeconds: opts.waitSeconds,
      dryRun: opts.dryRun,
      onWait: opts.onWait,
      afterPublish: afterPublishFor(layout, opts.repo),
      beforeWrite: checkSigningReady,
    },
    async (state) => {
      const plan = await planImport(state, prepared, { replace: opts.replace });
      unchanged = plan.unchanged;
      // Identical files need no staged copy.
      const same = new Set(unchanged);
      await new Pool(layout).discard(prepared.filter((p) => same.has(p.placement.treePath)).map((p) => p.staged));
      return plan.change;
    },
  ).finally(discardAll);
  return { ...res, inputs: inputs.length, unchanged };
}

/** The result of a no-op import when every prepared file is already in the current snapshot, else undefined. */
async function alreadyCurrent(layout: Layout, repo: RepoLayout, prepared: readonly PreparedFile[]): Promise<Omit<ImportResult, 'inputs'> | undefined> {
  const gen = await readCurrent(repo);
  if (gen === undefined || prepared.length === 0) return undefined;
  const pool = new Pool(layout);
  const dir = repo.snapshotDir(gen);
  for (const p of prepared) if ((await pool.compareFile(path.join(dir, p.placement.treePath), p.staged.sha256)) !== 'same') return undefined;
  const unchanged = prepared.map((p) => p.placement.treePath);
  return { repo: repo.name, published: false, dryRun: false, parent: gen, generation: gen, added: [], removed: [], replaced: [], warnings: [], unchanged };
}
