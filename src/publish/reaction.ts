/**
 * What an after-publish reaction is. The registry of every reaction is reactions.ts; the runner that
 * applies them after each publish is after-publish.ts; the background policy they share is pending.ts.
 */
import type { Layout } from '../engine/layout.js';

/** Repository settings as repo.json stores them (values already parsed by `rcurepo config`). */
export type StoredSettings = Readonly<Record<string, unknown>>;

export interface PublishedGeneration {
  layout: Layout;
  repoName: string;
  generation: number;
  /** The concrete snapshot just published (repos/NAME/snapshots/GEN). */
  snapshotDir: string;
  settings: StoredSettings;
}

export interface Reaction {
  /** Stable name: the pending marker is repos/NAME/meta/pending/<name>; shown in warnings. */
  name: string;
  /** Whether the repository wants it, from its settings (read after the swap, under the writer lock). */
  enabled(settings: StoredSettings): boolean;
  /**
   * A fast, idempotent step run in the publishing process right after the swap, still under the writer
   * lock. A failure becomes a warning of the publish; it never undoes it.
   */
  inline?(published: PublishedGeneration): Promise<void>;
  /**
   * Arguments of the rcurepo command the publisher starts detached (after `--base BASE`), under the one
   * coalescing policy of pending.ts. The command must call claimPending(repo, name) when it takes up its
   * work and then work on `current` (not on the generation that started it).
   */
  background?(repoName: string): string[];
}
