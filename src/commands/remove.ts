/** `rcurepo remove REPO PATH...`: unlink paths (files, folders or glob patterns inside the tree). */
import picomatch from 'picomatch';
import { openBase, readRepoConfig } from '../engine/repo.js';
import { publishingTransaction } from '../publish/after-publish.js';
import type { TransactionResult } from '../engine/transaction.js';
import type { LockHolder } from '../engine/lock.js';
import type { TreeEntry } from '../formats/format.js';
import { formatOfRepo } from './repo-format.js';
import { RcuError } from '../util/errors.js';
import { checkTreePath } from '../util/paths.js';

export interface RemoveOptions {
  base: string;
  repo: string;
  paths: string[];
  dryRun?: boolean;
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
  actor?: string;
}

/** Entries a user path selects: an exact file, everything under a folder, or a glob match. */
export function selectEntries(entries: readonly TreeEntry[], pattern: string): TreeEntry[] {
  if (picomatch.scan(pattern).isGlob) {
    const match = picomatch(pattern, { dot: false });
    return entries.filter((e) => match(e.path));
  }
  const p = checkTreePath(pattern);
  return entries.filter((e) => e.path === p || e.path.startsWith(p + '/'));
}

export async function removePaths(opts: RemoveOptions): Promise<TransactionResult> {
  if (opts.paths.length === 0) throw new RcuError('USAGE', 'remove needs at least one PATH');
  for (const p of opts.paths) if (p.includes('\0') || p.startsWith('/') || p.split('/').includes('..')) checkTreePath(p);
  const layout = await openBase(opts.base);
  const format = await formatOfRepo(await readRepoConfig(layout.repo(opts.repo)));
  return publishingTransaction(
    { layout, repoName: opts.repo, format, operation: 'remove', args: opts.paths, actor: opts.actor, waitSeconds: opts.waitSeconds, dryRun: opts.dryRun, onWait: opts.onWait },
    async (state) => {
      const entries = await state.entries();
      const removes = new Set<string>();
      const missing: string[] = [];
      for (const p of opts.paths) {
        const sel = selectEntries(entries, p);
        if (sel.length === 0) missing.push(p);
        for (const e of sel) removes.add(e.path);
      }
      if (missing.length) throw new RcuError('NOT_FOUND', `not in generation ${state.parent} of '${opts.repo}': ${missing.join(', ')}; nothing was removed`);
      // deb: a source package's files go with its .dsc.
      if (format.name === 'deb') return { adds: [], removes: await (await import('./deb-sources.js')).withSourceFiles(layout, entries, removes) };
      return { adds: [], removes: [...removes] };
    },
  );
}
