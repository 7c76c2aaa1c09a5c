/**
 * The 'deltas' after-publish reaction's background child (src/publish/reactions.ts, setting
 * deltasAfterPublish): takes the repository's delta-maker lock, claims the pending marker, and runs
 * exactly `rcurepo deltas REPO` on `current`. Nobody reads its output: each run appends one JSON line to
 * repos/NAME/meta/deltas.log (counts and skipped pairs, or the error).
 */
import fsp from 'node:fs/promises';
import { openBase, readRepoConfig } from '../../engine/repo.js';
import { claimPending } from '../../publish/pending.js';
import { makeDeltas } from './run.js';
import { withDeltasLock } from './lock.js';
import { mkdirp } from '../../util/fsx.js';

/** How long the background run waits for the repository's writer lock before publishing. */
const PUBLISH_WAIT_SECONDS = 3600;

export async function runDeltasAfterPublish(o: { base: string; repo: string }): Promise<void> {
  const layout = await openBase(o.base);
  const repo = layout.repo(o.repo);
  if ((await readRepoConfig(repo)).format !== 'eopkg') {
    await claimPending(repo, 'deltas');
    return;
  }
  await mkdirp(repo.metaDir);
  await withDeltasLock(repo, { waitSeconds: 24 * 3600 }, async () => {
    await claimPending(repo, 'deltas');
    const started = new Date().toISOString();
    let line: Record<string, unknown>;
    try {
      const r = await makeDeltas({ base: o.base, repo: o.repo, waitSeconds: PUBLISH_WAIT_SECONDS, locked: true });
      line = { started, source: r.source, published: r.published, generation: r.generation, counts: r.counts, seconds: r.seconds, skipped: r.deltas.filter((d) => d.status === 'skipped').map((d) => ({ path: d.path, message: d.message })) };
    } catch (e) {
      line = { started, error: (e as Error).message };
    }
    await fsp.appendFile(repo.deltasLog, JSON.stringify(line) + '\n');
  });
}
