/**
 * The one runner of after-publish reactions (reactions.ts), and the way every publishing command gets it:
 * publishingTransaction() is runTransaction with the runner supplied, so no command can forget it.
 *
 * Right after the swap, still under the writer lock: each enabled reaction's inline step runs (a failure
 * is a warning of the publish, never an undo), then each enabled background reaction is scheduled under
 * the shared coalescing policy (pending.ts). Nothing slow runs here.
 */
import type { Layout } from '../engine/layout.js';
import { readRepoConfig } from '../engine/repo.js';
import { runTransaction } from '../engine/transaction.js';
import type { AfterPublish, Change, PlanState, TransactionOptions, TransactionResult } from '../engine/transaction.js';
import { REACTIONS, reactionNamed } from './reactions.js';
import type { Reaction } from './reaction.js';
import { scheduleBackground } from './pending.js';
import { checkSigningReady } from '../signing/index.js';
import { indexOnThread } from './index-thread.js';

/**
 * Apply every enabled reaction to a generation just published. Returns one warning per failed step
 * (the caller reports them; nothing is thrown for a reaction's failure).
 */
export async function runAfterPublish(layout: Layout, repoName: string, generation: number, snapshotDir: string, reactions: readonly Reaction[] = REACTIONS): Promise<string[]> {
  const warnings: string[] = [];
  let settings: Readonly<Record<string, unknown>>;
  try {
    settings = (await readRepoConfig(layout.repo(repoName))).settings;
  } catch (e) {
    return [`after-publish reactions skipped: ${(e as Error).message}`];
  }
  const enabled = reactions.filter((r) => r.enabled(settings));
  for (const r of enabled) {
    if (!r.inline) continue;
    try {
      await r.inline({ layout, repoName, generation, snapshotDir, settings });
    } catch (e) {
      warnings.push(`after-publish step '${r.name}' failed: ${(e as Error).message}`);
    }
  }
  // Started together: each is a spawn and a marker write, and the publisher's caller waits for all of them.
  await Promise.all(
    enabled.map(async (r) => {
      if (!r.background) return;
      try {
        await scheduleBackground(layout, repoName, r.name, r.background(repoName));
      } catch (e) {
        warnings.push(`after-publish step '${r.name}' could not be started: ${(e as Error).message}`);
      }
    }),
  );
  return warnings;
}

/** The transaction's afterPublish for `repoName`: the same for every publishing command. */
export function afterPublishFor(layout: Layout, repoName: string): AfterPublish {
  return (gen, snapshotDir) => runAfterPublish(layout, repoName, gen, snapshotDir);
}

/**
 * runTransaction with this repository's after-publish reactions and its signing check (a repository that
 * signs never publishes unsigned, and a broken key is found before anything is written): how every
 * command publishes.
 */
export function publishingTransaction(opts: Omit<TransactionOptions, 'afterPublish' | 'beforeWrite'>, plan: (state: PlanState) => Promise<Change>): Promise<TransactionResult> {
  return runTransaction({ indexElsewhere: indexOnThread(opts.layout.base, opts.format.name), ...opts, afterPublish: afterPublishFor(opts.layout, opts.repoName), beforeWrite: checkSigningReady }, plan);
}

/**
 * Schedule one background reaction now, as a publish would (tests, and operators' tooling through
 * commands). Undefined when the reaction is disabled for the repository or already pending.
 */
export async function scheduleReaction(layout: Layout, repoName: string, name: string): Promise<number | undefined> {
  const r = reactionNamed(name);
  if (!r?.background) return undefined;
  if (!r.enabled((await readRepoConfig(layout.repo(repoName))).settings)) return undefined;
  return scheduleBackground(layout, repoName, r.name, r.background(repoName));
}
