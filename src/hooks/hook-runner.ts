/**
 * Detached runner of one generation's post-publish hooks (started by post-publish.ts; argv[2] is the
 * job as JSON). Runs the hooks in order, each in its own process group with a timeout, one runner per
 * repository at a time; a generation superseded while waiting for its turn is skipped. Appends one JSON
 * line per hook to the repository's log, prints it on stdout (read by `hooks run`), and reports failures
 * on stderr (the publisher forwards them while it lives; writes to a closed pipe are ignored).
 */
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import { acquireWriterLock } from '../engine/lock.js';
import { readCurrent } from '../engine/generations.js';
import { Layout } from '../engine/layout.js';
import type { HookJob, HookOutcome, PostPublishHook } from './post-publish.js';
import { DEFAULT_HOOK_TIMEOUT_SECONDS } from './post-publish.js';

const OUTPUT_TAIL = 4096;
const KILL_GRACE_MS = 5000;

for (const s of [process.stdout, process.stderr]) s.on('error', () => undefined); // the publisher may be gone

async function log(job: HookJob, o: HookOutcome): Promise<void> {
  const line = JSON.stringify(o) + '\n';
  // An append-only log outside every snapshot (never hard-linked), so appending in place is safe.
  await fsp.appendFile(job.logFile, line).catch(() => undefined);
  process.stdout.write(line);
  if (o.status === 'failed' || o.status === 'timeout') {
    const why = o.status === 'timeout' ? `timed out` : o.reason ?? `exit ${o.exitCode ?? o.signal}`;
    process.stderr.write(`rcurepo: post-publish hook ${o.hook} (${o.argv.join(' ')}) of '${job.repo}' generation ${job.generation} failed: ${why}; see ${job.logFile}\n`);
  }
}

function runOne(job: HookJob, hook: PostPublishHook, n: number): Promise<HookOutcome> {
  const started = Date.now();
  const base: HookOutcome = { time: new Date().toISOString(), repo: job.repo, generation: job.generation, hook: n, argv: hook.argv, status: 'ok' };
  return new Promise((resolve) => {
    let tail = '';
    let timedOut = false;
    const child = spawn(hook.argv[0]!, hook.argv.slice(1), {
      cwd: job.snapshot,
      detached: true, // own process group: a timeout kills the hook's children too
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RCUREPO_BASE: job.base, RCUREPO_REPO: job.repo, RCUREPO_GENERATION: String(job.generation), RCUREPO_SNAPSHOT: job.snapshot },
    });
    const keep = (d: Buffer) => (tail = (tail + d.toString()).slice(-OUTPUT_TAIL));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(
      () => {
        timedOut = true;
        killGroup('SIGTERM');
        setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS).unref();
      },
      (hook.timeoutSeconds ?? DEFAULT_HOOK_TIMEOUT_SECONDS) * 1000,
    );
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve({ ...base, status: 'failed', reason: e.message, durationMs: Date.now() - started });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const ok = code === 0 && !timedOut;
      resolve({ ...base, status: timedOut ? 'timeout' : ok ? 'ok' : 'failed', exitCode: code, signal, durationMs: Date.now() - started, ...(ok ? {} : { output: tail }) });
    });
  });
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as HookJob;
  const lock = await acquireWriterLock(job.lockTarget, { operation: `post-publish ${job.generation}`, waitSeconds: 24 * 3600 });
  try {
    const repo = new Layout(job.base).repo(job.repo);
    for (const [i, hook] of job.hooks.entries()) {
      const cur = await readCurrent(repo).catch(() => undefined);
      if (!job.always && cur !== undefined && cur > job.generation) {
        await log(job, { time: new Date().toISOString(), repo: job.repo, generation: job.generation, hook: i + 1, argv: hook.argv, status: 'skipped', reason: `superseded by generation ${cur} before it ran` });
        continue;
      }
      await log(job, await runOne(job, hook, i + 1));
    }
  } finally {
    await lock.release();
  }
}

await main().catch((e: unknown) => {
  process.stderr.write(`rcurepo: post-publish hook runner failed: ${(e as Error)?.message ?? String(e)}\n`);
  process.exitCode = 1;
});
