/**
 * `rcurepo hooks add|list|remove|run REPO`: the post-publish hooks of a repository (repo.json
 * settings.postPublish). Configuration changes take the writer lock, so they never race a transaction's
 * read of repo.json or another configuration change.
 */
import { openBase, readRepoConfig, writeRepoConfig } from '../engine/repo.js';
import { acquireWriterLock } from '../engine/lock.js';
import type { LockHolder } from '../engine/lock.js';
import { requireCurrent } from '../engine/generations.js';
import { hookLogFile, parseHooks, POST_PUBLISH_SETTING, runPostPublishHooks } from '../hooks/post-publish.js';
import type { HookOutcome, PostPublishHook } from '../hooks/post-publish.js';
import { runHooksOnCurrent } from '../hooks/hook-exec.js';
import { RcuError } from '../util/errors.js';
import { pathExists } from '../util/fsx.js';

export interface HooksBase {
  base: string;
  repo: string;
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
}

export interface HooksList {
  repo: string;
  hooks: Array<PostPublishHook & { index: number }>;
  log: string;
}

async function editHooks(o: HooksBase, operation: string, edit: (hooks: PostPublishHook[]) => PostPublishHook[]): Promise<HooksList> {
  const layout = await openBase(o.base);
  const repo = layout.repo(o.repo);
  await readRepoConfig(repo); // NOT_FOUND before waiting for a lock
  const lock = await acquireWriterLock(repo.lockTarget, { operation, waitSeconds: o.waitSeconds ?? 300, onWait: o.onWait });
  try {
    const cfg = await readRepoConfig(repo);
    const hooks = edit(parseHooks(cfg.settings));
    cfg.settings = { ...cfg.settings, [POST_PUBLISH_SETTING]: hooks };
    await lock.assertHeld();
    await writeRepoConfig(repo, cfg);
    return { repo: o.repo, hooks: hooks.map((h, i) => ({ ...h, index: i + 1 })), log: hookLogFile(repo) };
  } finally {
    await lock.release();
  }
}

export function addHook(o: HooksBase & { argv: string[]; timeoutSeconds?: number }): Promise<HooksList> {
  if (o.argv.length === 0) throw new RcuError('USAGE', 'hooks add needs a command after --, e.g. hooks add main -- /usr/local/bin/push-mirror');
  if (o.timeoutSeconds !== undefined && !(o.timeoutSeconds > 0)) throw new RcuError('USAGE', '--timeout must be a positive number of seconds');
  return editHooks(o, 'hooks add', (hooks) => [...hooks, { argv: o.argv, ...(o.timeoutSeconds ? { timeoutSeconds: o.timeoutSeconds } : {}), added: new Date().toISOString() }]);
}

export function removeHook(o: HooksBase & { index: number }): Promise<HooksList> {
  return editHooks(o, 'hooks remove', (hooks) => {
    if (!Number.isInteger(o.index) || o.index < 1 || o.index > hooks.length) {
      throw new RcuError('NOT_FOUND', `'${o.repo}' has no post-publish hook number ${o.index} (it has ${hooks.length}; see 'rcurepo hooks list ${o.repo}')`);
    }
    return hooks.filter((_, i) => i !== o.index - 1);
  });
}

export async function listHooks(o: { base: string; repo: string }): Promise<HooksList> {
  const layout = await openBase(o.base);
  const repo = layout.repo(o.repo);
  const hooks = parseHooks((await readRepoConfig(repo)).settings);
  return { repo: o.repo, hooks: hooks.map((h, i) => ({ ...h, index: i + 1 })), log: hookLogFile(repo) };
}

/** Run the hooks now for the current (or a given) generation and wait for them: re-push a mirror, test a hook. */
export async function runHooksNow(o: { base: string; repo: string; generation?: number }): Promise<{ repo: string; generation: number; outcomes: HookOutcome[]; log: string }> {
  const layout = await openBase(o.base);
  const repo = layout.repo(o.repo);
  await readRepoConfig(repo);
  const gen = o.generation ?? (await requireCurrent(repo));
  if (!(await pathExists(repo.snapshotDir(gen)))) throw new RcuError('NOT_FOUND', `'${o.repo}' has no snapshot of generation ${gen}`);
  const outcomes = await runPostPublishHooks(layout, o.repo, gen, repo.snapshotDir(gen), { wait: true, always: true });
  return { repo: o.repo, generation: gen, outcomes, log: hookLogFile(repo) };
}

/** The 'post-publish' after-publish reaction's background child (src/publish/reactions.ts). */
export async function runHooksAfterPublish(o: { base: string; repo: string }): Promise<{ generation?: number; outcomes: HookOutcome[] }> {
  const layout = await openBase(o.base);
  return runHooksOnCurrent(layout, o.repo);
}
