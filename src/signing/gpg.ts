/**
 * One way to run gpg: never interactive (--batch, --no-tty, --pinentry-mode error: a key that needs a
 * passphrase fails at once instead of waiting for a prompt nobody answers), machine-readable status on
 * its own pipe, and a timeout that kills gpg (and a wrapper's children: it runs in its own process group).
 */
import { spawn } from 'node:child_process';
import { errnoCode, RcuError } from '../util/errors.js';

/** The gpg program: `RCUREPO_GPG` names another one (a wrapper, a gpg2 elsewhere); default `gpg` on PATH. */
export function gpgProgram(): string {
  return process.env.RCUREPO_GPG || 'gpg';
}

/** The gpgv program used to check signatures the way clients do (`RCUREPO_GPGV`, default `gpgv`). */
export function gpgvProgram(): string {
  return process.env.RCUREPO_GPGV || 'gpgv';
}

export interface GpgRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  /** `[GNUPG:] ` status lines without the prefix, e.g. 'SIG_CREATED D 22 8 00 1796017236 FPR'. */
  status: string[];
  timedOut: boolean;
}

export interface GpgRunOptions {
  /** GnuPG home (--homedir); undefined: gpg's own default ($GNUPGHOME or ~/.gnupg). */
  home?: string;
  timeoutMs: number;
  /** Bytes for stdin (none: stdin is /dev/null, so gpg can never wait for input). */
  input?: Uint8Array;
  /** gpgv instead of gpg (gpgv takes neither --homedir nor the pinentry options). */
  gpgv?: boolean;
}

/** Arguments every gpg call starts with. */
export function baseArgs(home: string | undefined): string[] {
  return [...(home ? ['--homedir', home] : []), '--batch', '--no-tty', '--pinentry-mode', 'error', '--status-fd', '3'];
}

/**
 * Run gpg (or gpgv) with `args` after the non-interactive base arguments. Resolves with what it did
 * (a non-zero exit is a result, not an error); rejects only when the program cannot be started.
 */
export function runGpg(args: string[], opts: GpgRunOptions): Promise<GpgRun> {
  const program = opts.gpgv ? gpgvProgram() : gpgProgram();
  const fullArgs = opts.gpgv ? ['--status-fd', '3', ...args] : [...baseArgs(opts.home), ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(program, fullArgs, {
      stdio: [opts.input ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe'],
      detached: true, // own process group: the timeout kills a wrapper script and what it started
      env: { ...process.env, ...(opts.home ? { GNUPGHOME: opts.home } : {}) },
    });
    const out: Buffer[] = [];
    let stderr = '';
    let status = '';
    let timedOut = false;
    let settled = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, opts.timeoutMs);
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += d.toString('utf8');
    });
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => (status += d.toString('utf8')));
    child.on('error', (e) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      if (errnoCode(e) === 'ENOENT') {
        reject(new RcuError('FAILURE', `${program} is not installed (install the gnupg package${opts.gpgv ? ', which brings gpgv' : ''}, or set ${opts.gpgv ? 'RCUREPO_GPGV' : 'RCUREPO_GPG'} to the program)`, { cause: e }));
      } else reject(new RcuError('FAILURE', `cannot run ${program}: ${(e as Error).message}`, { cause: e }));
    });
    if (opts.input) {
      child.stdin!.on('error', () => undefined); // gpg may exit before reading everything (EPIPE)
      child.stdin!.end(Buffer.from(opts.input));
    }
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      const lines = status.split('\n').filter((l) => l.startsWith('[GNUPG:] ')).map((l) => l.slice(9));
      resolve({ code, signal, stdout: Buffer.concat(out), stderr, status: lines, timedOut });
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** gpg's own words from stderr, without its chatter about the trust database, for messages. */
export function gpgSays(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/trustdb|marginals needed|depth: \d|checking the trustdb|WARNING: running with faked/.test(l));
  return lines.slice(-3).join('; ') || '(no message)';
}
