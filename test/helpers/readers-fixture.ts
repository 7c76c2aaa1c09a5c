/** Fixtures for the readers tests: a base with a published repository, servers as child processes. */
import { track } from './children.js';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { BIN, cliIn, tempDir } from './cli.js';

export const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** A base with repository `name` holding `files` (relative path -> bytes). */
export function makeRepo(name = 'r', files: Record<string, Uint8Array | string> = {}) {
  const dir = tempDir('rcurepo-readers-');
  const base = path.join(dir, 'base');
  const cli = cliIn(base);
  must(cli.sync(['init']));
  must(cli.sync(['create-repo', name]));
  // Tests decide when gc runs; the automatic background gc after each publish would race with them.
  must(cli.sync(['config', name, 'gcAfterPublish', 'false']));
  const inputs = path.join(dir, 'in');
  let n = 0;
  const publish = (add: Record<string, Uint8Array | string>) => {
    const src = path.join(inputs, String(n++));
    for (const [p, b] of Object.entries(add)) {
      fs.mkdirSync(path.dirname(path.join(src, p)), { recursive: true });
      fs.writeFileSync(path.join(src, p), b);
    }
    must(cli.sync(['import', name, src]));
    fs.rmSync(src, { recursive: true, force: true });
  };
  if (Object.keys(files).length) publish(files);
  return { dir, base, cli, name, publish, repoDir: path.join(base, 'repos', name) };
}

export function must(r: { code: number | null; stderr: string; stdout: string }) {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
}

export function current(repoDir: string): number {
  return Number(/([0-9]+)$/.exec(fs.readlinkSync(path.join(repoDir, 'current')))![1]);
}

export function snapshots(repoDir: string): number[] {
  return fs.readdirSync(path.join(repoDir, 'snapshots')).filter((n) => /^[0-9]+$/.test(n)).map(Number).sort((a, b) => a - b);
}

/**
 * Lease records under `repoDir/leases` (generation folder / file name, and the record), leaving out the
 * spare maker's: it leases `current` while it clones in the background, and a publish that kills a slow
 * maker leaves that lease holder-dead until gc. Tests asserting "no reader holds anything" mean readers.
 */
export function readerLeases(repoDir: string): Array<{ file: string; pid: number | null; holder: string }> {
  const root = path.join(repoDir, 'leases');
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .flatMap((g) => fs.readdirSync(path.join(root, g)).map((f) => ({ file: `${g}/${f}`, ...(JSON.parse(fs.readFileSync(path.join(root, g, f), 'utf8')) as { pid: number | null; holder: string }) })))
    .filter((l) => l.holder !== 'spare-clone')
    .map(({ file, pid, holder }) => ({ file, pid, holder }))
    .sort((a, b) => (a.file < b.file ? -1 : 1));
}

export const randomFile = (size: number) => randomBytes(size);

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export interface Served {
  url: string;
  proc: ChildProcess;
  stop(): Promise<number | null>;
  stderr(): string;
}

/** `rcurepo serve` on a free loopback port; resolves once it says where it listens. */
export function startServe(base: string, extra: string[] = []): Promise<Served> {
  return new Promise((resolve, reject) => {
    const log = extra.includes('--access-log') ? [] : ['--access-log', 'off'];
    const proc = track(spawn(process.execPath, [BIN, '--base', base, 'serve', '--listen', '127.0.0.1:0', ...log, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] }));
    let err = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`serve did not start: ${err}`));
    }, 10_000);
    proc.once('error', (e) => reject(e));
    proc.stderr!.on('data', (d) => {
      err += d;
      const m = /serving on (http:\/\/\S+)/.exec(err);
      if (m && timer) {
        clearTimeout(timer);
        resolve({
          url: m[1]!,
          proc,
          stderr: () => err,
          stop: () =>
            new Promise((r) => {
              if (proc.exitCode !== null) return r(proc.exitCode);
              proc.once('exit', (c) => r(c));
              proc.kill('SIGTERM');
            }),
        });
      }
    });
    proc.stdout!.resume();
    proc.once('exit', (c) => reject(new Error(`serve exited ${c}: ${err}`)));
  });
}

/** An rsync daemon (child, --no-detach) configured by `rcurepo rsyncd-conf`. */
export async function startRsyncd(base: string, dir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const conf = path.join(dir, 'rsyncd.conf');
  must(cliIn(base).sync(['rsyncd-conf', '--port', String(port), '--address', '127.0.0.1', '--out', conf]));
  const proc = track(spawn('rsync', ['--daemon', '--no-detach', `--config=${conf}`, `--log-file=${path.join(dir, 'rsyncd.log')}`], { stdio: 'ignore' }));
  let spawnError: Error | undefined;
  proc.once('error', (e) => (spawnError = e));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (spawnError) throw new Error(`rsyncd did not start: ${spawnError.message}`);
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) break;
    if (Date.now() > deadline || proc.exitCode !== null) {
      proc.kill('SIGKILL');
      throw new Error('rsyncd did not start');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `rsync://127.0.0.1:${port}`,
    stop: () =>
      new Promise((r) => {
        if (proc.exitCode !== null) return r();
        proc.once('exit', () => r());
        proc.kill('SIGTERM');
      }),
  };
}

/** Parse a SHA256SUMS body: path -> sha256. */
export function parseSums(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    m.set(line.slice(66), line.slice(0, 64));
  }
  return m;
}
