/**
 * `rcurepo import REPO PATH...`: add files (directories walked, globs expanded) as one new generation, or
 * `rcurepo import REPO UPLOAD.tram`: the files an upload manifest names, each verified against its sha256.
 * The work is the import pipeline (src/hooks/import-pipeline.ts), shared with the incoming watcher.
 */
import { openBase } from '../engine/repo.js';
import type { ImportResult } from '../engine/importer.js';
import type { LockHolder } from '../engine/lock.js';
import { runImport } from '../hooks/import-pipeline.js';

export type { ImportResult } from '../engine/importer.js';

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

export async function importFiles(opts: ImportOptions): Promise<ImportResult> {
  const layout = await openBase(opts.base);
  return runImport({ ...opts, layout });
}
