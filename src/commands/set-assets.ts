/**
 * `rcurepo set-assets REPO [--distribution F] [--components F] [--groups F]`: validate eopkg repository
 * assets and publish them, as files at the root of a new generation, with the index they produce.
 * Assets live in the snapshot (not in settings) so every generation, and any rollback, carries its own.
 */
import fs from 'node:fs';
import { openBase, readRepoConfig } from '../engine/repo.js';
import { afterPublishFor } from './after-publish.js';
import { checkSigningReady } from '../signing/index.js';
import { runTransaction } from '../engine/transaction.js';
import type { AddChange, TransactionResult } from '../engine/transaction.js';
import type { LockHolder } from '../engine/lock.js';
import { Pool } from '../engine/pool.js';
import type { StagedBlob } from '../engine/pool.js';
import { getFormat } from '../formats/registry.js';
import { ASSET_FILE, validateAsset } from '../formats/eopkg/index.js';
import type { AssetKind } from '../formats/eopkg/index.js';
import { RcuError } from '../util/errors.js';

export interface SetAssetsOptions {
  base: string;
  repo: string;
  files: Partial<Record<AssetKind, string>>;
  dryRun?: boolean;
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
}

export async function setAssets(opts: SetAssetsOptions): Promise<TransactionResult> {
  const kinds = (Object.keys(opts.files) as AssetKind[]).filter((k) => opts.files[k] !== undefined);
  if (kinds.length === 0) throw new RcuError('USAGE', 'set-assets needs at least one of --distribution, --components, --groups');
  const layout = await openBase(opts.base);
  const cfg = await readRepoConfig(layout.repo(opts.repo));
  if (cfg.format !== 'eopkg') throw new RcuError('USAGE', `set-assets applies to eopkg repositories; '${opts.repo}' is ${cfg.format}`);
  const format = await getFormat('eopkg');
  const pool = new Pool(layout);
  const staged: StagedBlob[] = [];
  const adds: AddChange[] = [];
  try {
    for (const kind of kinds) {
      const file = opts.files[kind]!;
      // Validate the private copy, not the user's file: what is checked is what is published.
      const s = pool.stageSync(file) ?? (await pool.stage(file));
      staged.push(s);
      const text = fs.readFileSync(s.tmpPath, 'utf8');
      if (text.trim() === '') throw new RcuError('BAD_INPUT', `${file}: empty ${kind} asset`);
      validateAsset(kind, text, file);
      adds.push({ path: ASSET_FILE[kind], sha256: s.sha256, size: s.size, staged: s });
    }
    return await runTransaction(
      { layout, repoName: opts.repo, format, operation: 'set-assets', args: kinds.map((k) => `--${k}=${opts.files[k]}`), dryRun: opts.dryRun, waitSeconds: opts.waitSeconds, onWait: opts.onWait, afterPublish: afterPublishFor(layout, opts.repo), beforeWrite: checkSigningReady },
      async () => ({ adds, removes: [] }),
    );
  } catch (e) {
    await pool.discard(staged);
    throw e;
  }
}
