/** `rcurepo import REPO PATH...`: add files (directories walked, globs expanded) in one transaction. */
import { openBase, readRepoConfig } from '../engine/repo.js';
import { runTransaction } from '../engine/transaction.js';
import type { TransactionResult } from '../engine/transaction.js';
import { planImport, prepareFiles } from '../engine/importer.js';
import type { LockHolder } from '../engine/lock.js';
import { Pool } from '../engine/pool.js';
import { getFormat } from '../formats/registry.js';
import { collectInputs } from './inputs.js';
import { RcuError } from '../util/errors.js';
import { progress } from '../util/progress.js';

export interface ImportOptions {
  base: string;
  repo: string;
  paths: string[];
  cwd: string;
  prefix?: string;
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
}

export async function importFiles(opts: ImportOptions): Promise<ImportResult> {
  if (opts.paths.length === 0) throw new RcuError('USAGE', 'import needs at least one PATH');
  const layout = await openBase(opts.base);
  const repo = layout.repo(opts.repo);
  const format = await getFormat((await readRepoConfig(repo)).format);
  const inputs = await collectInputs(opts.paths, { cwd: opts.cwd, followSymlinks: opts.followSymlinks });
  const bar = progress('reading', inputs.length);
  const { prepared, refused } = await prepareFiles(layout, format, inputs, { prefix: opts.prefix, progress: bar });
  bar.done();
  if (refused.length) {
    await new Pool(layout).discard(prepared.map((p) => p.staged));
    throw new RcuError('BAD_INPUT', refused.length === 1 ? `${refused[0]}; nothing was imported` : `${refused.length} files refused; nothing was imported`, {
      details: refused.length === 1 ? [] : refused,
    });
  }
  let unchanged: string[] = [];
  const discardAll = () => new Pool(layout).discard(prepared.map((p) => p.staged));
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
    },
    async (state) => {
      const plan = await planImport(state, prepared, { replace: opts.replace });
      unchanged = plan.unchanged;
      // Identical files need no staged copy.
      const same = new Set(unchanged);
      await new Pool(layout).discard(prepared.filter((p) => same.has(p.placement.treePath)).map((p) => p.staged));
      return plan.change;
    },
  ).catch(async (e: unknown) => {
    await discardAll();
    throw e;
  });
  return { ...res, inputs: inputs.length, unchanged };
}
