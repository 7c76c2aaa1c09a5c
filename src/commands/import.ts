/**
 * `rcurepo import REPO PATH...`: add files (directories walked, globs expanded) as one new generation, or
 * `rcurepo import REPO UPLOAD.tram`: the files an upload manifest names, each verified against its sha256.
 * The work is the import pipeline (src/hooks/import-pipeline.ts), shared with the incoming watcher.
 */
import { openBase, readRepoConfig } from '../engine/repo.js';
import type { ImportResult } from '../engine/importer.js';
import { runImport } from '../hooks/import-pipeline.js';
import type { ImportRequest } from '../hooks/import-pipeline.js';
import { RcuError } from '../util/errors.js';
import { checkTreePath } from '../util/paths.js';

export type { ImportResult } from '../engine/importer.js';

/** The pipeline's request (hooks/import-pipeline.ts), with the base named by path and the repository required. */
export interface ImportOptions extends Omit<ImportRequest, 'layout' | 'repo' | 'defaultRepo'> {
  base: string;
  repo: string;
}

export async function importFiles(opts: ImportOptions): Promise<ImportResult> {
  if (opts.paths.length === 0) throw new RcuError('USAGE', 'import needs at least one PATH');
  // Checked once, before any file is staged (each placement checks it again with the file's name).
  if (opts.prefix !== undefined) checkTreePath(opts.prefix, `--prefix ${opts.prefix}`);
  const layout = await openBase(opts.base);
  if ((opts.dist !== undefined || opts.component !== undefined) && (await readRepoConfig(layout.repo(opts.repo))).format !== 'deb') {
    throw new RcuError('USAGE', `--dist and --component apply to deb repositories; '${opts.repo}' is not one`);
  }
  return runImport({ ...opts, layout });
}
