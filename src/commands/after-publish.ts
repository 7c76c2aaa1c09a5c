/**
 * What runs after every publish, still under the writer lock: refresh the repository's rsync module
 * fragment (its `path` names the new concrete snapshot), start a background gc, start the post-publish
 * hooks. All fast: the slow parts run detached. The transaction turns a failure here into a warning;
 * it never undoes a publish.
 */
import type { Layout } from '../engine/layout.js';
import { writeRsyncFragment } from '../readers/rsyncd.js';
import { scheduleGcAfterPublish } from '../readers/gc-spawn.js';
import { runPostPublishHooks } from '../hooks/post-publish.js';

export async function afterPublish(layout: Layout, repoName: string, gen: number, snapshotDir: string): Promise<void> {
  await writeRsyncFragment(layout, repoName, gen);
  await scheduleGcAfterPublish(layout, repoName);
  await runPostPublishHooks(layout, repoName, gen, snapshotDir);
}

/** The `afterPublish` option every publishing command passes to runTransaction. */
export function afterPublishFor(layout: Layout, repoName: string): (gen: number, snapshotDir: string) => Promise<void> {
  return (gen, snapshotDir) => afterPublish(layout, repoName, gen, snapshotDir);
}
