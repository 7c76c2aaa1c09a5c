/**
 * What runs after every publish, still under the writer lock: refresh the repository's rsync module
 * fragment (its `path` names the new concrete snapshot), start a background gc, start the post-publish
 * hooks. All fast: the slow parts run detached. The transaction turns a failure here into a warning;
 * it never undoes a publish.
 */
import type { Layout } from '../engine/layout.js';

export async function afterPublish(layout: Layout, repoName: string, gen: number, snapshotDir: string): Promise<void> {
  // Loaded here, not at start-up: a no-op import never gets this far and should not pay for them.
  const [{ writeRsyncFragment }, { scheduleGcAfterPublish, scheduleSpareClone }, { runPostPublishHooks }] = await Promise.all([
    import('../readers/rsyncd.js'),
    import('../readers/gc-spawn.js'),
    import('../hooks/post-publish.js'),
  ]);
  await writeRsyncFragment(layout, repoName, gen);
  await scheduleGcAfterPublish(layout, repoName);
  await scheduleSpareClone(layout, repoName);
  await runPostPublishHooks(layout, repoName, gen, snapshotDir);
}

/** The `afterPublish` option every publishing command passes to runTransaction. */
export function afterPublishFor(layout: Layout, repoName: string): (gen: number, snapshotDir: string) => Promise<void> {
  return (gen, snapshotDir) => afterPublish(layout, repoName, gen, snapshotDir);
}
