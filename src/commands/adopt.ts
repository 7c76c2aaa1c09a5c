/**
 * `rcurepo create-repo NAME --format eopkg|files|deb --adopt PATH`: make an existing published tree an
 * ordinary rcurepo repository, once. A new repository is created, every package (and eopkg asset) is
 * imported in one transaction, and the index rcurepo regenerated is compared with the tree's original
 * one package by package. Refused input removes the new repository again: nothing half-adopted stays.
 * deb trees (distributions, Release checks) are adopted by adopt-deb.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { openBase } from '../engine/repo.js';

import type { AddChange } from '../engine/transaction.js';
import { planImport, prepareFiles } from '../engine/importer.js';
import type { LockHolder } from '../engine/lock.js';
import { Pool } from '../engine/pool.js';
import type { StagedBlob } from '../engine/pool.js';
import { getFormat } from '../formats/registry.js';
import { surveyTree } from '../distribution/adopt-survey.js';
import { compareEopkgIndexes, compareSums } from '../distribution/adopt-compare.js';
import { RcuError } from '../util/errors.js';
import { progress } from '../util/progress.js';
import { publishingTransaction } from '../publish/after-publish.js';
import { createRepo, deleteRepo } from './repos.js';

export interface AdoptOptions {
  base: string;
  name: string;
  format?: string;
  source: string;
  cwd: string;
  dryRun?: boolean;
  /** deb: the distributions to adopt (folder name, codename or suite; default: all of them). */
  dists?: string[];
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
}

export interface AdoptResult {
  repo: string;
  format: string;
  source: string;
  dryRun: boolean;
  generation: number;
  imported: number;
  assets: string[];
  /** How the regenerated index differs from the original, package by package (empty: identical). */
  differences: string[];
  /** Files of the tree that were not imported, and why. */
  notImported: string[];
  /** Packages rcurepo placed elsewhere than the original tree had them. */
  moved: string[];
  /** What a reader of the differences should know (an index rcurepo does not write, fields not compared). */
  notes: string[];
  /** deb --dry-run: each file that would be imported, with the package it is (`path (name version arch)`). */
  wouldImport?: string[];
  /** deb: the distributions created from the tree's Release files. */
  distributions?: Array<{ codename: string; suite: string; components: string[]; architectures: string[]; origin?: string; label?: string }>;
}

export async function adoptRepo(opts: AdoptOptions): Promise<AdoptResult> {
  const layout = await openBase(opts.base);
  const formatName = opts.format ?? 'files';
  const source = path.resolve(opts.cwd, opts.source);
  if (formatName === 'deb') return (await import('./adopt-deb.js')).adoptDeb(opts, source);
  if (opts.dists?.length) throw new RcuError('USAGE', '--dist applies to --format deb');
  const survey = surveyTree(source, formatName);
  const format = await getFormat(formatName);
  const result: AdoptResult = {
    repo: opts.name, format: formatName, source, dryRun: !!opts.dryRun, generation: 0, imported: survey.files.length,
    assets: Object.keys(survey.assets), differences: [], notImported: survey.notImported, moved: [], notes: [],
  };
  if (opts.dryRun) return result;
  await createRepo({ base: opts.base, name: opts.name, format: formatName });
  const pool = new Pool(layout);
  const staged: StagedBlob[] = [];
  try {
    const bar = progress('reading', survey.files.length);
    const { prepared, refused } = await prepareFiles(layout, format, survey.files, { progress: bar });
    bar.done();
    staged.push(...prepared.map((p) => p.staged));
    if (refused.length) throw new RcuError('BAD_INPUT', `${refused.length} file(s) of ${source} refused; nothing was adopted`, { details: refused });
    for (const p of prepared) if (p.placement.treePath !== p.source.rel) result.moved.push(`${p.source.rel} -> ${p.placement.treePath}`);
    const assetAdds: AddChange[] = [];
    if (formatName === 'eopkg' && result.assets.length) {
      const { ASSET_FILE, validateAsset } = await import('../formats/eopkg/index.js');
      for (const [kind, file] of Object.entries(survey.assets) as Array<[keyof typeof ASSET_FILE, string]>) {
        const s = pool.stageSync(file) ?? (await pool.stage(file));
        staged.push(s);
        validateAsset(kind, fs.readFileSync(s.tmpPath, 'utf8'), file);
        assetAdds.push({ path: ASSET_FILE[kind], sha256: s.sha256, size: s.size, staged: s });
      }
    }
    const tx = await publishingTransaction(
      { layout, repoName: opts.name, format, operation: 'adopt', args: [source], waitSeconds: opts.waitSeconds, onWait: opts.onWait },
      async (state) => {
        const plan = await planImport(state, prepared, {});
        return { adds: [...plan.change.adds, ...assetAdds], removes: [] };
      },
    );
    result.generation = tx.generation;
  } catch (e) {
    await pool.discard(staged).catch(() => undefined);
    await deleteRepo({ base: opts.base, name: opts.name, force: true, waitSeconds: opts.waitSeconds }).catch(() => undefined);
    throw e;
  }
  await pool.discard(staged).catch(() => undefined);
  const snap = layout.repo(opts.name).snapshotDir(result.generation);
  if (!survey.originalIndex) result.differences.push('the tree has no original index to compare with');
  else if (formatName === 'eopkg') result.differences = await compareEopkgIndexes(survey.originalIndex, path.join(snap, 'eopkg-index.xml'));
  else result.differences = compareSums(survey.originalIndex, path.join(snap, 'SHA256SUMS'));
  return result;
}
