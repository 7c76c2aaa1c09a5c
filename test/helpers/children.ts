/**
 * Every child a test starts is tracked and SIGKILLed when the test process exits, however it exits
 * (a failed assertion, an uncaught error, a timeout): no daemon (serve, watch, rsync --daemon) or CLI
 * call outlives the test file that started it and keeps the runner waiting.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';

const live = new Set<ChildProcess>();

process.on('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/** Track `p` until it exits; a spawn failure (missing binary) is an 'error' event, never an uncaught one. */
/** Whether a process with this pid exists (signal 0 sends nothing). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function track<T extends ChildProcess>(p: T): T {
  live.add(p);
  p.once('exit', () => live.delete(p));
  p.once('error', () => live.delete(p));
  return p;
}

/** Whether a system command can be run here (for a test's loud skip reason). */
export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Whether every system tool of scripts/test-deps.txt must be there: the test runner could install them
 * all (root with apt, as in CI; scripts/run-tests.mjs sets RCUREPO_TEST_TOOLS). A missing tool is then a
 * failure, never a skip that hides the check it guards; elsewhere (no root) such a part is skipped loudly.
 */
export function toolsRequired(): boolean {
  return process.env.RCUREPO_TEST_TOOLS === 'required';
}

/**
 * The skip reason for a missing tool, printed as well so that it stands out in the run's output; false
 * where tools are required (the test then runs, and fails on the missing tool).
 */
export function missingTool(cmd: string, pkg: string): string | false {
  if (hasCommand(cmd)) return false;
  return skipReason(`${cmd} not installed (Debian package ${pkg}): run the tests as root with apt, or .ci/run installs it`);
}

/** `why` as a test's skip option (printed), or false where tools are required. */
export function skipReason(why: string): string | false {
  if (toolsRequired()) return false;
  console.log(`# SKIPPING: ${why}`);
  return why;
}

/** Inside a test: a part needing a missing tool is skipped loudly, or fails where tools are required. */
export function toolMissing(t: TestContext, why: string): void {
  if (toolsRequired()) assert.fail(`${why} (the test runner installs every tool here: a missing one is a failure, not a skip)`);
  t.skip(`SKIPPED: ${why}`);
}
