/**
 * Where a mirror's upstream is and how rsync reaches it: URL parsing (rsync daemon, ssh, local path),
 * running rsync, and turning its exit statuses into errors a mirror operator can act on.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { RcuError } from '../util/errors.js';

export interface Upstream {
  /** The URL as configured. */
  url: string;
  kind: 'rsync' | 'ssh' | 'local';
  /** The rsync source naming the upstream tree's root, with a trailing slash (copy the contents). */
  source: string;
  /** Extra rsync arguments the transport needs (ssh command line). */
  transportArgs: string[];
}

/** Parse and check an upstream URL; throws USAGE for anything rsync could not be pointed at safely. */
export function parseUpstream(url: string): Upstream {
  const bad = (why: string) => new RcuError('USAGE', `upstream '${url}': ${why} (use rsync://HOST[:PORT]/MODULE/PATH, ssh://[USER@]HOST[:PORT]/PATH or an absolute local path)`);
  if (/[\s'"\\`$]/.test(url) || url.includes('..')) throw bad('spaces, quotes, backslashes, $ and .. are not accepted');
  if (url.startsWith('/')) {
    return { url, kind: 'local', source: path.posix.normalize(url).replace(/\/?$/, '/'), transportArgs: [] };
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bad('not a URL');
  }
  if (u.search || u.hash) throw bad('no query or fragment');
  if (u.protocol === 'rsync:') {
    if (!u.hostname) throw bad('no host');
    const parts = u.pathname.split('/').filter(Boolean);
    if (parts.length === 0) throw bad('no module');
    return { url, kind: 'rsync', source: `rsync://${u.host}/${parts.join('/')}/`, transportArgs: [] };
  }
  if (u.protocol === 'ssh:') {
    if (!u.hostname) throw bad('no host');
    if (u.pathname.length <= 1) throw bad('no path');
    // RSYNC_RSH is rsync's own setting for the ssh command line; BatchMode: never wait for a password.
    const rsh = [process.env.RSYNC_RSH || 'ssh', '-o', 'BatchMode=yes', ...(u.port ? ['-p', u.port] : [])].join(' ');
    const user = u.username ? `${decodeURIComponent(u.username)}@` : '';
    return { url, kind: 'ssh', source: `${user}${u.hostname}:${decodeURIComponent(u.pathname).replace(/\/?$/, '/')}`, transportArgs: ['-e', rsh] };
  }
  throw bad(`unsupported scheme '${u.protocol}'`);
}

export interface RsyncRun {
  code: number;
  stdout: string;
  /** The last lines rsync wrote on stderr (its own messages). */
  stderr: string;
}

/** Seconds of silence after which rsync gives up (connect and I/O); RCUREPO_SYNC_TIMEOUT overrides. */
function timeoutSeconds(): number {
  const v = Number(process.env.RCUREPO_SYNC_TIMEOUT);
  return Number.isFinite(v) && v > 0 ? v : 120;
}

/**
 * Run rsync. `onStdout` receives its output as it comes (progress lines); stderr is kept for messages.
 * A missing rsync is a clear error, not a crash.
 */
export function runRsync(up: Upstream, args: string[], onStdout?: (chunk: string) => void): Promise<RsyncRun> {
  const t = timeoutSeconds();
  const full = [...up.transportArgs, `--timeout=${t}`, ...(up.kind === 'rsync' ? [`--contimeout=${Math.min(t, 30)}`] : []), ...args];
  return new Promise((resolve, reject) => {
    const child = spawn('rsync', full, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (onStdout) onStdout(d);
      else stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-8192);
    });
    child.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') reject(new RcuError('FAILURE', 'rsync is not installed: it is needed to sync mirrors (apt-get install rsync)'));
      else reject(e);
    });
    child.on('close', (code, sig) => resolve({ code: code ?? (sig ? 128 : 1), stdout, stderr }));
  });
}

/** rsync statuses that mean the upstream could not be reached or named (rsync(1), EXIT VALUES). */
const UNREACHABLE_CODES = new Set([5, 10, 12, 14, 30, 35, 255]);

/** The few lines of rsync's stderr worth showing. */
function rsyncMessage(r: RsyncRun): string {
  const lines = r.stderr.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('rsync error:') && !/^rsync: \[(sender|receiver|generator)\] *$/.test(l));
  return lines.slice(-3).join('; ') || `rsync exited with status ${r.code}`;
}

/**
 * Decide what an rsync status means for a sync. 0 and 24 (files vanished while being read: an upstream
 * mid-update) go on to the format's checks, which decide. A missing root or module is UNREACHABLE.
 */
export function checkRsyncStatus(up: Upstream, r: RsyncRun, doing: string): string[] {
  if (r.code === 0) return [];
  const msg = rsyncMessage(r);
  if (/No space left on device|Disk quota exceeded/.test(r.stderr)) throw new RcuError('FS_LIMIT', `no space left on device while ${doing} from ${up.url} (the files received so far are kept for the next sync)`);
  if (UNREACHABLE_CODES.has(r.code)) throw new RcuError('UNREACHABLE', `upstream ${up.url} unreachable while ${doing}: ${msg}`, { data: { rsyncStatus: r.code } });
  // The named root itself is missing (a wrong PATH inside the module, or a missing local folder).
  if (r.code === 23 && rootMissing(r.stderr)) throw new RcuError('UNREACHABLE', `upstream ${up.url}: no such folder (${msg})`, { data: { rsyncStatus: r.code } });
  if (r.code === 23 || r.code === 24) return [`rsync reported an incomplete transfer while ${doing} (status ${r.code}): ${msg}`];
  if (r.code === 20) throw new RcuError('FAILURE', `rsync was interrupted while ${doing}`);
  throw new RcuError('FAILURE', `rsync failed while ${doing} from ${up.url} (status ${r.code}): ${msg}`, { data: { rsyncStatus: r.code } });
}

/** rsync names the source root it could not open: `change_dir "/x" ... failed` or `link_stat "/x/." failed`. */
function rootMissing(stderr: string): boolean {
  return /change_dir#?\d* "[^"]*" (\(in [^)]*\) )?failed: No such file or directory/.test(stderr) || /link_stat "[^"]*\/\.?" (\(in [^)]*\) )?failed: No such file or directory/.test(stderr);
}
