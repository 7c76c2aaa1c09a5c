/**
 * Detached runner of one generation's post-publish hooks (started by post-publish.ts; argv[2] is the
 * job as JSON). Runs the hooks in order, each in its own process group with a timeout, one runner per
 * repository at a time; a generation superseded while waiting for its turn is skipped. Appends one JSON
 * line per hook to the repository's log, prints it on stdout (read by `hooks run`), and reports failures
 * on stderr (the publisher forwards them while it lives; writes to a closed pipe are ignored).
 */
import { acquireWriterLock } from '../engine/lock.js';
import { readCurrent } from '../engine/generations.js';
import { Layout } from '../engine/layout.js';
import type { HookJob } from './post-publish.js';
import { logOutcome, runHook } from './hook-exec.js';

for (const s of [process.stdout, process.stderr]) s.on('error', () => undefined); // the publisher may be gone

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as HookJob;
  const lock = await acquireWriterLock(job.lockTarget, { operation: `post-publish ${job.generation}`, waitSeconds: 24 * 3600 });
  try {
    const repo = new Layout(job.base).repo(job.repo);
    for (const [i, hook] of job.hooks.entries()) {
      const cur = await readCurrent(repo).catch(() => undefined);
      if (!job.always && cur !== undefined && cur > job.generation) {
        await logOutcome(job, { time: new Date().toISOString(), repo: job.repo, generation: job.generation, hook: i + 1, argv: hook.argv, status: 'skipped', reason: `superseded by generation ${cur} before it ran` });
        continue;
      }
      await logOutcome(job, await runHook(job, hook, i + 1));
    }
  } finally {
    await lock.release();
  }
}

await main().catch((e: unknown) => {
  process.stderr.write(`rcurepo: post-publish hook runner failed: ${(e as Error)?.message ?? String(e)}\n`);
  process.exitCode = 1;
});
