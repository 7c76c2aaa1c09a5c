/**
 * `rcurepo resign REPO`: publish a new generation with the current content and freshly made indexes and
 * signatures: after signing was turned on, after a key was added for a rotation, or before a key expires.
 */
import { openBase, readRepoConfig } from '../engine/repo.js';
import { afterPublishFor } from './after-publish.js';
import { checkSigningReady } from '../signing/index.js';
import { signingSettingsOf } from '../signing/settings.js';
import { runTransaction } from '../engine/transaction.js';
import type { TransactionResult } from '../engine/transaction.js';
import type { LockHolder } from '../engine/lock.js';
import { getFormat } from '../formats/registry.js';
import { RcuError } from '../util/errors.js';

export interface ResignOptions {
  base: string;
  repo: string;
  dryRun?: boolean;
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
  actor?: string;
}

export async function resign(opts: ResignOptions): Promise<TransactionResult> {
  const layout = await openBase(opts.base);
  const cfg = await readRepoConfig(layout.repo(opts.repo));
  if (!signingSettingsOf(cfg.settings)) throw new RcuError('USAGE', `repository '${opts.repo}' does not sign (no signKeys); nothing to re-sign`);
  const format = await getFormat(cfg.format);
  return runTransaction(
    { layout, repoName: opts.repo, format, operation: 'resign', actor: opts.actor, waitSeconds: opts.waitSeconds, dryRun: opts.dryRun, onWait: opts.onWait, afterPublish: afterPublishFor(layout, opts.repo), beforeWrite: checkSigningReady, force: true },
    async () => ({ adds: [], removes: [] }),
  );
}
