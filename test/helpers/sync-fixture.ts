/** Fixtures for the upstream sync tests: plain rsync daemons, upstream trees, throwaway OpenPGP keys. */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from './readers-fixture.js';

export const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

async function waitPort(port: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline || !alive()) throw new Error('rsyncd did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A plain rsync daemon on 127.0.0.1 serving `modules` (name -> folder). */
export async function startPlainRsyncd(dir: string, modules: Record<string, string>): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const conf = path.join(dir, `rsyncd-${port}.conf`);
  const lines = ['use chroot = no', 'read only = yes', `pid file = ${path.join(dir, `rsyncd-${port}.pid`)}`];
  for (const [name, p] of Object.entries(modules)) lines.push(`[${name}]`, `    path = ${p}`);
  fs.writeFileSync(conf, lines.join('\n') + '\n');
  const proc = spawn('rsync', ['--daemon', '--no-detach', `--config=${conf}`, `--port=${port}`, '--address=127.0.0.1', `--log-file=${path.join(dir, `rsyncd-${port}.log`)}`], { stdio: 'ignore' });
  await waitPort(port, () => proc.exitCode === null);
  return {
    url: `rsync://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise((r) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return r();
        proc.once('exit', () => r());
        proc.kill('SIGTERM');
      }),
  };
}

/** Write files (relative path -> content) under root. */
export function writeTree(root: string, files: Record<string, string | Buffer>): void {
  for (const [p, b] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    // Replace by rename, like a real publisher: a transfer never reads a half-written file.
    const tmp = path.join(root, `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
    fs.writeFileSync(tmp, b);
    fs.renameSync(tmp, path.join(root, p));
  }
}

/** Every regular file under root: relative path -> bytes. */
export function readTree(root: string, rel = '', out = new Map<string, Buffer>()): Map<string, Buffer> {
  for (const d of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) readTree(root, r, out);
    else if (d.isFile()) out.set(r, fs.readFileSync(path.join(root, r)));
  }
  return out;
}

/** SHA256SUMS text for every file under root except the index and its signatures. */
export function sumsOf(root: string): string {
  const files = [...readTree(root).entries()].filter(([p]) => !p.startsWith('SHA256SUMS')).sort(([a], [b]) => (a < b ? -1 : 1));
  return files.map(([p, b]) => `${sha256(b)}  ${p}\n`).join('');
}

/** Check a served files tree by its SHA256SUMS; returns the faults (empty = complete). */
export function checkFilesTree(root: string): string[] {
  const faults: string[] = [];
  const sums = fs.readFileSync(path.join(root, 'SHA256SUMS'), 'utf8');
  for (const line of sums.split('\n')) {
    if (!line) continue;
    const p = line.slice(66);
    const f = path.join(root, p);
    if (!fs.existsSync(f)) faults.push(`${p} missing`);
    else if (sha256(fs.readFileSync(f)) !== line.slice(0, 64)) faults.push(`${p} differs`);
  }
  return faults;
}

/** A throwaway signing key in its own GNUPGHOME; `stop` ends its agent. */
export function makeKey(dir: string, name: string): { home: string; keyring: string; signDetached(file: string, out: string): void; clearsign(file: string, out: string): void; stop(): void } {
  const home = path.join(dir, `gnupg-${name}`);
  fs.mkdirSync(home, { mode: 0o700 });
  const env = { ...process.env, GNUPGHOME: home };
  const gpg = (args: string[]) => {
    const r = spawnSync('gpg', ['--batch', '--quiet', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gpg ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  gpg(['--quick-gen-key', `${name} <${name}@example.invalid>`, 'ed25519', 'sign', 'never']);
  const keyring = path.join(dir, `${name}.gpg`);
  fs.writeFileSync(keyring, spawnSync('gpg', ['--export'], { env }).stdout);
  return {
    home,
    keyring,
    signDetached: (file, out) => gpg(['--yes', '--detach-sign', '--output', out, file]),
    clearsign: (file, out) => gpg(['--yes', '--clearsign', '--output', out, file]),
    stop: () => void spawnSync('gpgconf', ['--kill', 'gpg-agent'], { env }),
  };
}

/** An sshd on 127.0.0.1 accepting one throwaway key (mirrors.md, "An sshd for tests"); undefined when sshd is missing. */
export async function startSshd(dir: string): Promise<{ port: number; rsh: string; stop(): Promise<void> } | undefined> {
  if (!fs.existsSync('/usr/sbin/sshd') || !hasTool('ssh-keygen')) return undefined;
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  const clientKey = path.join(dir, 'client_key');
  for (const k of [hostKey, clientKey]) spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', k]);
  fs.copyFileSync(`${clientKey}.pub`, path.join(dir, 'authorized_keys'));
  const port = await freePort();
  const conf = path.join(dir, 'sshd_config');
  fs.writeFileSync(conf, [`ListenAddress 127.0.0.1`, `Port ${port}`, `HostKey ${hostKey}`, `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`, 'PasswordAuthentication no', 'UsePAM no', `PidFile ${path.join(dir, 'sshd.pid')}`, 'StrictModes no', ''].join('\n'));
  const proc = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', conf], { stdio: 'ignore' });
  await waitPort(port, () => proc.exitCode === null);
  return {
    port,
    rsh: `ssh -i ${clientKey} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR`,
    stop: () =>
      new Promise((r) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return r();
        proc.once('exit', () => r());
        proc.kill('SIGTERM');
      }),
  };
}
