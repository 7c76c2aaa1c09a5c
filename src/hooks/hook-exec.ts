/**
 * Running one post-publish hook and recording its outcome: each hook in its own process group with a
 * timeout, one JSON line per hook appended to the repository's log and printed on stdout (read by
 * `hooks run`), failures also on stderr. Used by the detached runner (hook-runner.ts) and by the
 * after-publish background child (`hooks run REPO --background`, post-publish.ts).
 */
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import type { Layout } from '../engine/layout.js';
import { acquireWriterLock } from '../engine/lock.js';
import { readCurrent } from '../engine/generations.js';
import { readRepoConfig } from '../engine/repo.js';
import { claimPending } from '../publish/pending.js';
import type { HookJob, HookOutcome, PostPublishHook } from './post-publish.js';
import { DEFAULT_HOOK_TIMEOUT_SECONDS, hookLogFile, parseHooks } from './post-publish.js';
import { mkdirp } from '../util/fsx.js';

const OUTPUT_TAIL = 4096;
const KILL_GRACE_MS = 5000;

export async function logOutcome(job: HookJob, o: HookOutcome): Promise<void> {
  const line = JSON.stringify(o) + '\n';
  // An append-only log outside every snapshot (never hard-linked), so appending in place is safe.
  await fsp.appendFile(job.logFile, line).catch(() => undefined);
  process.stdout.write(line);
  if (o.status === 'failed' || o.status === 'timeout') {
    const why = o.status === 'timeout' ? `timed out` : o.reason ?? `exit ${o.exitCode ?? o.signal}`;
    process.stderr.write(`rcurepo: post-publish hook ${o.hook} (${o.argv.join(' ')}) of '${job.repo}' generation ${job.generation} failed: ${why}; see ${job.logFile}\n`);
  }
}

export function runHook(job: HookJob, hook: PostPublishHook, n: number): Promise<HookOutcome> {
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

/**
 * The 'post-publish' after-publish reaction's background child (`rcurepo hooks run REPO --background`):
 * one runner per repository at a time (the hooks' own lock); once it holds that lock it claims the
 * pending marker and runs the hooks for `current`, so a generation superseded meanwhile is covered by
 * this run and a slow push of an older generation never lands after a newer one.
 */
export async function runHooksOnCurrent(layout: Layout, repoName: string): Promise<{ generation?: number; outcomes: HookOutcome[] }> {
  const repo = layout.repo(repoName);
  await mkdirp(repo.metaDir);
  const lock = await acquireWriterLock(repo.postPublishLockTarget, { operation: 'post-publish', waitSeconds: 24 * 3600 });
  const outcomes: HookOutcome[] = [];
  try {
    await claimPending(repo, 'post-publish');
    const gen = await readCurrent(repo);
    if (gen === undefined) return { outcomes };
    const hooks = parseHooks((await readRepoConfig(repo)).settings);
    const job: HookJob = { base: layout.base, repo: repoName, generation: gen, snapshot: repo.snapshotDir(gen), hooks, logFile: hookLogFile(repo), lockTarget: repo.postPublishLockTarget, always: true };
    for (const [i, hook] of hooks.entries()) {
      const o = await runHook(job, hook, i + 1);
      await logOutcome(job, o);
      outcomes.push(o);
    }
    return { generation: gen, outcomes };
  } finally {
    await lock.release();
  }
}
