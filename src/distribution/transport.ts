/**
 * How a pusher talks to a mirror: control verbs of the mirror-side script (remote-script.ts) and the
 * rsync upload, over ssh or to a local path. Every failure becomes an RcuError that names the mirror and
 * says what went wrong in the operator's terms (unreachable, key refused, not writable, ...).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MirrorConfig, MirrorTarget } from './mirror-config.js';
import { describeTarget, parseTarget } from './mirror-config.js';
import { REMOTE_SCRIPT } from './remote-script.js';
import { errnoCode, RcuError } from '../util/errors.js';

export interface Transport {
  readonly mirror: MirrorConfig;
  /** The repository the mirror is bound to (checked by `hello`). */
  readonly repo: string;
  readonly target: MirrorTarget;
  /** Run one verb of the mirror-side script; returns its stdout lines (an `error` line throws). */
  verb(args: string[]): Promise<string[]>;
  /** rsync arguments for an upload of SNAPSHOT/ into snapshots/.GEN.partial with links to LINKS. */
  rsyncArgs(snapshotDir: string, gen: number, links: string[]): string[];
  /** Describe the mirror in messages. */
  readonly label: string;
  /** End the shared ssh connection (no-op for local paths). */
  close(): Promise<void>;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run a child, collecting output; `onSpawn` sees it (to record its process group). ENOENT names the tool. */
export function runChild(cmd: string, args: string[], opts: { input?: string; detached?: boolean; onSpawn?: (pid: number) => void; timeoutMs?: number } = {}): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: opts.detached });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => undefined); // the child may exit before reading all of its input
    child.once('error', (e) => {
      if (timer) clearTimeout(timer);
      if (errnoCode(e) === 'ENOENT') reject(new RcuError('FAILURE', `'${cmd}' is not installed (needed for mirror pushes; Debian: apt-get install ${cmd === 'ssh' ? 'openssh-client' : cmd})`));
      else reject(e);
    });
    child.once('spawn', () => {
      if (child.pid !== undefined) opts.onSpawn?.(child.pid);
      if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    });
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Single-quote for the remote shell (values are already restricted to safe characters; this is belt and braces). */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * One ssh connection per push, shared by its verbs and its rsync (ControlMaster): a push is then one
 * handshake, not five. The socket is private to this process; ControlPersist bounds how long a master
 * outlives a pusher killed before it could close it.
 */
function controlPath(): string {
  const dir = path.join(os.tmpdir(), `rcurepo-ssh-${process.getuid?.() ?? 'u'}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return path.join(dir, `${process.pid}-${randomBytes(4).toString('hex')}`);
}

function sshArgs(m: MirrorConfig, t: Extract<MirrorTarget, { kind: 'ssh' }>, control: string): string[] {
  const args = ['-p', String(t.port), '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'ServerAliveInterval=15', '-o', 'ServerAliveCountMax=4'];
  args.push('-o', 'ControlMaster=auto', '-o', `ControlPath=${control}`, '-o', 'ControlPersist=15');
  if (m.identity) args.push('-i', m.identity, '-o', 'IdentitiesOnly=yes');
  for (const o of m.sshOptions ?? []) args.push('-o', o);
  return args;
}

/** The line of ssh's (or rsync's) stderr that explains a failure, turned into an operator's sentence. */
export function explainFailure(label: string, what: string, stderr: string, code: number | null): RcuError {
  const text = stderr.trim();
  const last = text.split('\n').filter((l) => l.trim()).slice(-3).join(' | ') || `exit status ${code}`;
  let why: string;
  if (/Permission denied \(publickey|Permission denied, please try again|Too many authentication failures/.test(text)) why = `the mirror refused the key (${last})`;
  else if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/.test(text)) why = `the mirror's host key is not trusted: add it to known_hosts or pass --ssh-option UserKnownHostsFile=FILE (${last})`;
  else if (/Connection refused|Connection timed out|No route to host|Could not resolve hostname|Network is unreachable|Connection closed by|Connection reset|kex_exchange_identification|Broken pipe/.test(text)) why = `the mirror is unreachable (${last})`;
  else if (/Permission denied \(13\)|Read-only file system|EROFS|mkdir .* failed/.test(text)) why = `the mirror path is not writable (${last})`;
  else if (/No space left on device/.test(text)) why = `the mirror is out of space (${last})`;
  else why = last;
  return new RcuError('FAILURE', `mirror ${label}: ${what} failed: ${why}`, { data: { stderr: text.slice(-2000) } });
}

/** An `error KIND MESSAGE` line of the mirror-side script as an RcuError. */
function scriptError(label: string, line: string, verb: string): RcuError {
  const m = /^error (\S+) ?(.*)$/.exec(line)!;
  const kind = m[1]!;
  const msg = m[2] ?? '';
  if (kind === 'format') return new RcuError('LAYOUT', `mirror ${label}: ${msg}; push to a new PATH or convert the mirror`);
  if (kind === 'notwritable') return new RcuError('FAILURE', `mirror ${label}: the mirror path is not writable: ${msg}`);
  if (kind === 'notmirror' || kind === 'otherrepo') return new RcuError('BAD_INPUT', `mirror ${label}: ${msg}`);
  return new RcuError('FAILURE', `mirror ${label}: '${verb}' refused on the mirror: ${msg} (${kind})`);
}

/**
 * The rsync flags of every push, local or over ssh. --no-inc-recursive: the whole file list first, so -H
 * sees every link and --stats reports the list's size.
 */
const RSYNC_PUSH_FLAGS = ['-aH', '--no-inc-recursive', '--delete', '--numeric-ids', '--stats'];
/**
 * rsync's quick check compares sizes and whole seconds by default, so a file replaced within the same
 * second by one of the same size (a version file, a small index) would be taken as unchanged and the
 * mirror would keep the old bytes. With --modify-window=-1 nanoseconds count too (the mirror's rsync must
 * be 3.1.3 or newer, from 2018). rrsync, which receives the uploads of a restricted key, refuses the
 * option (it accepts only non-negative numbers for -@): such mirrors keep the whole-second check
 * (README, "Limits").
 */
const NANOSECOND_QUICK_CHECK = '--modify-window=-1';

export function makeTransport(mirror: MirrorConfig, repoName: string): Transport {
  const target = parseTarget(mirror.to);
  const label = `'${mirror.name}' of '${repoName}' (${describeTarget(target)})`;
  const described = { mirror, repo: repoName, target, label };
  const root = target.path;
  const snapshots = `${root}/snapshots`;

  const interpret = (r: ChildResult, verb: string): string[] => {
    const lines = r.stdout.split('\n').filter((l) => l.length > 0);
    const err = lines.find((l) => l.startsWith('error '));
    if (err) throw scriptError(label, err, verb);
    if (r.code !== 0) throw explainFailure(label, `'${verb}'`, r.stderr, r.code);
    return lines;
  };

  if (target.kind === 'local') {
    return {
      ...described,
      async verb(args) {
        return interpret(await runChild('sh', ['-s', '--', root, ...args], { input: REMOTE_SCRIPT, timeoutMs: 600_000 }), args[0]!);
      },
      async close() {},
      rsyncArgs(snapshotDir, gen, links) {
        return [...RSYNC_PUSH_FLAGS, NANOSECOND_QUICK_CHECK, ...links.map((l) => `--link-dest=../${l}`), `${snapshotDir}/`, `${snapshots}/.${gen}.partial/`];
      },
    };
  }
  const control = controlPath();
  const ssh = sshArgs(mirror, target, control);
  const dest = `${target.user}@${target.host.replace(/^\[|\]$/g, '')}`;
  return {
    ...described,
    async verb(args) {
      // Restricted keys: the forced command runs the installed script and reads the verb from SSH_ORIGINAL_COMMAND.
      const remote = mirror.restricted ? args.join(' ') : `sh -s -- ${[root, ...args].map(q).join(' ')}`;
      return interpret(await runChild('ssh', [...ssh, dest, remote], { input: mirror.restricted ? '' : REMOTE_SCRIPT, timeoutMs: 600_000 }), args[0]!);
    },
    async close() {
      if (!fs.existsSync(control)) return;
      await runChild('ssh', ['-o', `ControlPath=${control}`, '-O', 'exit', dest], { timeoutMs: 10_000 }).catch(() => undefined);
    },
    rsyncArgs(snapshotDir, gen, links) {
      // rsync splits -e on spaces and honours quotes.
      const e = ['ssh', ...ssh].map((a) => (/^[A-Za-z0-9._/=:@,+-]+$/.test(a) ? a : `"${a.replace(/"/g, '\\"')}"`)).join(' ');
      // rrsync anchors paths at ROOT/snapshots and accepts --link-dest only in that absolute form.
      const linkArgs = links.map((l) => (mirror.restricted ? `--link-dest=/${l}` : `--link-dest=../${l}`));
      const to = mirror.restricted ? `${dest}:.${gen}.partial/` : `${dest}:${snapshots}/.${gen}.partial/`;
      return [...RSYNC_PUSH_FLAGS, ...(mirror.restricted ? [] : [NANOSECOND_QUICK_CHECK]), '-e', e, ...linkArgs, `${snapshotDir}/`, to];
    },
  };
}

export interface RsyncStats {
  bytesSent: number;
  bytesReceived: number;
  literalBytes: number;
  fileListBytes: number;
  totalFileBytes: number;
  files: number;
}

/** Numbers from `rsync --stats` (commas removed; absent lines are 0). */
export function parseRsyncStats(out: string): RsyncStats {
  const num = (re: RegExp) => {
    const m = re.exec(out);
    return m ? Number(m[1]!.replace(/[,.](?=\d{3}\b)/g, '')) : 0;
  };
  return {
    bytesSent: num(/Total bytes sent: ([\d,.]+)/),
    bytesReceived: num(/Total bytes received: ([\d,.]+)/),
    literalBytes: num(/Literal data: ([\d,.]+)/),
    fileListBytes: num(/File list size: ([\d,.]+)/),
    totalFileBytes: num(/Total file size: ([\d,.]+)/),
    files: num(/Number of files: ([\d,.]+)/),
  };
}
