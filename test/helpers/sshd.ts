/**
 * A real OpenSSH server on 127.0.0.1 for mirror tests (mirrors.md, "An sshd for tests"): its own host key,
 * config, authorized_keys and pid file in a temporary folder, started as a child (`sshd -D -e`), stopped by
 * its pid. Needs root (sshd's privilege separation) and Debian's openssh-server.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const SSHD = '/usr/sbin/sshd';

/** Why an sshd cannot run here, or false when it can. */
export function sshdRefusal(): string | false {
  if (!fs.existsSync(SSHD)) return `${SSHD} not installed: run as root with apt (openssh-server), or .ci/run installs it`;
  if (process.getuid?.() !== 0) return 'sshd for tests needs root (privilege separation); run the tests as root';
  for (const tool of ['ssh', 'ssh-keygen', 'rsync']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} not installed: run as root with apt, or .ci/run installs it`;
  }
  return false;
}

/** Pids of every descendant of `pid` (read from /proc), deepest last. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

export function killTree(pid: number): void {
  for (const p of [...descendants(pid), pid]) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export function keygen(file: string): { key: string; pub: string } {
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', path.basename(file), '-f', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen: ${r.stderr}`);
  return { key: file, pub: fs.readFileSync(`${file}.pub`, 'utf8').trim() };
}

export interface Sshd {
  port: number;
  dir: string;
  authorizedKeys: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** ssh options a client of this server needs (host key not checked: it is made fresh per test). */
  clientOptions: string[];
}

function waitPort(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > until) reject(new Error(`sshd did not listen on ${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/**
 * `hideLoginScripts`: run sshd in a private mount namespace where the login user's ~/.bashrc is empty.
 * bash sources it for every ssh command; on a development machine it may start version managers that
 * cost more than a push's own work (benchmarks use this; a mirror's push user has no such setup).
 */
export function makeSshd(dir: string, port: number, opts: { hideLoginScripts?: boolean } = {}): Sshd {
  fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = path.join(dir, 'host_ed25519');
  if (!fs.existsSync(hostKey)) keygen(hostKey);
  const authorizedKeys = path.join(dir, 'authorized_keys');
  if (!fs.existsSync(authorizedKeys)) fs.writeFileSync(authorizedKeys, '');
  const config = path.join(dir, 'sshd_config');
  fs.writeFileSync(
    config,
    [
      'ListenAddress 127.0.0.1',
      `Port ${port}`,
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      'StrictModes no',
      'MaxStartups 100',
      'MaxSessions 100',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  let log = '';
  const sshd: Sshd = {
    port,
    dir,
    authorizedKeys,
    clientOptions: ['StrictHostKeyChecking=no', 'UserKnownHostsFile=/dev/null', 'LogLevel=ERROR'],
    async start() {
      if (child && child.exitCode === null && child.signalCode === null) return;
      const bashrc = path.join(process.env.HOME ?? '/root', '.bashrc');
      child =
        opts.hideLoginScripts && fs.existsSync(bashrc)
          ? spawn('unshare', ['-m', 'sh', '-c', `mount --bind /dev/null "$1" && exec "$2" -D -e -f "$3"`, 'sh', bashrc, SSHD, config], { stdio: ['ignore', 'ignore', 'pipe'] })
          : spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
      const exited = new Promise<never>((_, reject) => child!.once('exit', (code) => reject(new Error(`sshd exited (${code}): ${log}`))));
      await Promise.race([waitPort(port, 10_000), exited]);
      exited.catch(() => undefined);
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise<void>((r) => c.once('exit', () => r()));
      // The per-connection sshd processes outlive the listener: end them (and what they run) first.
      for (const p of descendants(c.pid!)) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(t);
    },
  };
  return sshd;
}
