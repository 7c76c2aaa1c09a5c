/** `rcurepo rollback REPO GEN`: publish a NEW generation whose content is GEN's (current never moves back). */
import fsp from 'node:fs/promises';
import { openBase, readRepoConfig } from '../engine/repo.js';
import { afterPublishFor } from './after-publish.js';
import { checkSigningReady } from '../signing/index.js';
import { runTransaction } from '../engine/transaction.js';
import type { TransactionResult } from '../engine/transaction.js';
import type { LockHolder } from '../engine/lock.js';
import { loadEntries } from '../engine/snapshot-state.js';
import { Pool } from '../engine/pool.js';
import { getFormat } from '../formats/registry.js';
import { errnoCode, RcuError } from '../util/errors.js';

export interface RollbackOptions {
  base: string;
  repo: string;
  generation: number;
  dryRun?: boolean;
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
  actor?: string;
}

export async function rollback(opts: RollbackOptions): Promise<TransactionResult> {
  const layout = await openBase(opts.base);
  const repo = layout.repo(opts.repo);
  const format = await getFormat((await readRepoConfig(repo)).format);
  const pool = new Pool(layout);
  return runTransaction(
    { layout, repoName: opts.repo, format, operation: 'rollback', args: [String(opts.generation)], actor: opts.actor, waitSeconds: opts.waitSeconds, dryRun: opts.dryRun, onWait: opts.onWait, afterPublish: afterPublishFor(layout, opts.repo), beforeWrite: checkSigningReady },
    async (state) => {
      if (opts.generation === state.parent) throw new RcuError('USAGE', `generation ${opts.generation} is already current`);
      try {
        await fsp.stat(repo.snapshotDir(opts.generation));
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') throw new RcuError('NOT_FOUND', `generation ${opts.generation} of '${opts.repo}' no longer exists (reaped or never published); see 'rcurepo history ${opts.repo}'`);
        throw e;
      }
      const target = await loadEntries(layout, repo, opts.generation, format);
      const current = await state.entries();
      const want = new Map(target.map((e) => [e.path, e]));
      for (const e of target) if ((await pool.identities(e.sha256)).length === 0) throw new RcuError('INTEGRITY', `pool blob of ${e.path} (${e.sha256}) is missing`);
      return {
        adds: target.map((e) => ({ path: e.path, sha256: e.sha256, size: e.size })),
        removes: current.filter((e) => !want.has(e.path)).map((e) => e.path),
      };
    },
  );
}
