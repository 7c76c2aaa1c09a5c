/**
 * Post-publish hooks: operator commands (mirror pushes, cache purges) run after each swap, with the
 * repository, generation and concrete snapshot path in the environment. Configured per repository in
 * repo.json settings.postPublish (`rcurepo hooks add REPO -- CMD...`).
 *
 * They never slow or undo a publish: after a publish they are the 'post-publish' reaction
 * (src/publish/reactions.ts), a detached `rcurepo hooks run REPO --background` under the shared
 * coalescing policy, which runs them for `current` (hook-exec.ts runHooksOnCurrent). One runner per
 * repository at a time (so a slow mirror push of generation 5 never lands after the push of 6), each
 * hook with a timeout; one JSON line per hook goes to repos/NAME/meta/post-publish.log.
 * runPostPublishHooks runs them for one given generation through the runner process (hook-runner.ts):
 * `hooks run` waits for it and prints its outcomes.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Layout, RepoLayout } from '../engine/layout.js';
import { readRepoConfig } from '../engine/repo.js';
import { RcuError } from '../util/errors.js';

export const POST_PUBLISH_SETTING = 'postPublish';
export const DEFAULT_HOOK_TIMEOUT_SECONDS = 300;

export interface PostPublishHook {
  /** Program and arguments, run without a shell (use `sh -c '...'` for one). */
  argv: string[];
  timeoutSeconds?: number;
  added?: string;
}

export interface HookJob {
  base: string;
  repo: string;
  generation: number;
  snapshot: string;
  hooks: PostPublishHook[];
  logFile: string;
  /** Serialize runners of one repository (hook-runner takes this lock). */
  lockTarget: string;
  /** Run even if the generation is no longer current (an operator's explicit `hooks run`). */
  always?: boolean;
}

export interface HookOutcome {
  time: string;
  repo: string;
  generation: number;
  hook: number;
  argv: string[];
  status: 'ok' | 'failed' | 'timeout' | 'skipped';
  exitCode?: number | null;
  signal?: string | null;
  durationMs?: number;
  reason?: string;
  /** The end of the hook's stdout+stderr when it failed. */
  output?: string;
}

export function hookLogFile(repo: RepoLayout): string {
  return repo.postPublishLog;
}

/** The configured hooks; a malformed setting is refused (so `hooks list` shows the problem). */
export function parseHooks(settings: Record<string, unknown>): PostPublishHook[] {
  const v = settings[POST_PUBLISH_SETTING];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new RcuError('INTEGRITY', `settings.${POST_PUBLISH_SETTING} must be a list`);
  return v.map((h, i) => {
    const argv = (h as PostPublishHook)?.argv;
    if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
      throw new RcuError('INTEGRITY', `settings.${POST_PUBLISH_SETTING}[${i}] has no argv list`);
    }
    const t = (h as PostPublishHook).timeoutSeconds;
    return { argv, timeoutSeconds: typeof t === 'number' && t > 0 ? t : undefined, added: (h as PostPublishHook).added };
  });
}

/** Where the runner is: compiled next to this module, or its TypeScript source when run through tsx (tests). */
function runnerCommand(): string[] {
  const js = fileURLToPath(new URL('./hook-runner.js', import.meta.url));
  if (fs.existsSync(js)) return [js];
  // Resolved here: the runner's cwd is the base, where `tsx` cannot be found by name.
  return ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('./hook-runner.ts', import.meta.url))];
}

export interface RunHooksOptions {
  /** Wait for every hook and return their outcomes (the `hooks run` command); default: start and return. */
  wait?: boolean;
  /** Run even when the generation is superseded by the time the hooks get their turn. */
  always?: boolean;
}

/**
 * Start the repository's post-publish hooks for a generation just published. Returns at once (the hooks
 * run detached) unless `wait`. Never throws for a hook's failure; logs a runner that cannot start.
 */
export async function runPostPublishHooks(layout: Layout, repoName: string, gen: number, snapshotDir: string, opts: RunHooksOptions = {}): Promise<HookOutcome[]> {
  const repo = layout.repo(repoName);
  const hooks = parseHooks((await readRepoConfig(repo)).settings);
  if (hooks.length === 0) return [];
  const job: HookJob = { base: layout.base, repo: repoName, generation: gen, snapshot: snapshotDir, hooks, logFile: hookLogFile(repo), lockTarget: repo.postPublishLockTarget, always: opts.always };
  await fsp.mkdir(repo.metaDir, { recursive: true });
  const child = spawn(process.execPath, [...runnerCommand(), JSON.stringify(job)], {
    detached: !opts.wait,
    stdio: ['ignore', opts.wait ? 'pipe' : 'ignore', 'pipe'],
    cwd: layout.base,
  });
  const outcomes: HookOutcome[] = [];
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
  const started = new Promise<void>((resolve) => {
    child.once('spawn', resolve);
    child.once('error', (e) => {
      const line = `rcurepo: post-publish hooks of '${repoName}' generation ${gen} could not start: ${e.message}\n`;
      process.stderr.write(line);
      void fsp.appendFile(job.logFile, JSON.stringify({ time: new Date().toISOString(), repo: repoName, generation: gen, status: 'failed', reason: e.message }) + '\n').catch(() => undefined);
      resolve();
    });
  });
  if (!opts.wait) {
    await started;
    // The publisher forwards failures while it lives; it never waits for the hooks.
    child.unref();
    (child.stderr as unknown as { unref?: () => void }).unref?.();
    return [];
  }
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve) => child.once('close', () => resolve()));
  for (const line of out.split('\n')) {
    if (!line.trim()) continue;
    try {
      outcomes.push(JSON.parse(line) as HookOutcome);
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e;
    }
  }
  return outcomes;
}
