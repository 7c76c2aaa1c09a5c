/**
 * Every child a test starts is tracked and SIGKILLed when the test process exits, however it exits
 * (a failed assertion, an uncaught error, a timeout): no daemon (serve, watch, rsync --daemon) or CLI
 * call outlives the test file that started it and keeps the runner waiting.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';

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

/** The skip reason for a missing tool, printed as well so that it stands out in the run's output. */
export function missingTool(cmd: string, pkg: string): string | false {
  if (hasCommand(cmd)) return false;
  const why = `${cmd} not installed (Debian package ${pkg}): run the tests as root with apt, or .ci/run installs it`;
  console.log(`# SKIPPING: ${why}`);
  return why;
}
