/** `rcurepo sync NAME | --all [--dry-run] [--full] [--bwlimit KIB]`: bring mirrors up to date with their upstreams. */
import { listRepoNames, openBase, readRepoConfig } from '../engine/repo.js';
import { syncRepo } from '../distribution/sync-run.js';
import type { SyncOptions, SyncResult } from '../distribution/sync-run.js';
import { isRcuError, RcuError } from '../util/errors.js';
import type { ErrorCode } from '../util/errors.js';
import { afterPublishFor } from '../publish/after-publish.js';

/** A sync's own options (dry run, --full, bandwidth, lock wait, progress); the base and the reactions come from here. */
export interface SyncCommandOptions extends Omit<SyncOptions, 'layout' | 'repo' | 'afterPublish'> {
  base: string;
  repo?: string;
  all?: boolean;
}

export interface SyncFailure {
  repo: string;
  code: ErrorCode;
  message: string;
  details: string[];
}

export interface SyncAllResult {
  results: SyncResult[];
  failures: SyncFailure[];
}

export async function syncOne(opts: SyncCommandOptions & { repo: string }): Promise<SyncResult> {
  const layout = await openBase(opts.base);
  return syncRepo({ ...opts, layout, afterPublish: afterPublishFor(layout, opts.repo) });
}

/** Every mirror of the base, one after the other; one failing upstream does not stop the others. */
export async function syncAll(opts: SyncCommandOptions): Promise<SyncAllResult> {
  const layout = await openBase(opts.base);
  const out: SyncAllResult = { results: [], failures: [] };
  for (const name of await listRepoNames(layout)) {
    if (!(await readRepoConfig(layout.repo(name))).upstream) continue;
    try {
      out.results.push(await syncRepo({ ...opts, layout, repo: name, afterPublish: afterPublishFor(layout, name) }));
    } catch (e) {
      if (!isRcuError(e)) throw e;
      out.failures.push({ repo: name, code: e.code, message: e.message, details: e.details });
    }
  }
  return out;
}

export function syncAllError(r: SyncAllResult): RcuError | undefined {
  if (r.failures.length === 0) return undefined;
  const f = r.failures[0]!;
  return new RcuError(f.code, `${r.failures.length} of ${r.failures.length + r.results.length} mirror sync(s) failed`, { data: { reported: true } });
}
