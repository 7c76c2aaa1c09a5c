/** Small real filesystems for limit tests: a tmpfs (ENOSPC) or a loop-mounted ext4 image (EMLINK). */
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cliIn } from './cli.js';
import { isAlive } from './children.js';

export interface Mount {
  dir: string;
  unmount(): void;
}

function sh(cmd: string, args: string[]): { ok: boolean; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, err: (r.stderr || r.error?.message || '').trim() };
}

/** Returns the mount, or a string saying why mounting is not possible here (for the test's skip reason). */
export function mountTmpfs(parent: string, size: string): Mount | string {
  const dir = fs.mkdtempSync(path.join(parent, 'tmpfs-'));
  const r = sh('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  if (!r.ok) return `mounting a tmpfs was refused (${r.err}); run as root on a machine that allows mounts`;
  return { dir, unmount: () => void sh('umount', ['-l', dir]) };
}

export function mountExt4(parent: string, sizeMb: number, inodes = 4096): Mount | string {
  const img = path.join(parent, `ext4-${process.pid}.img`);
  const dir = fs.mkdtempSync(path.join(parent, 'ext4-'));
  fs.writeFileSync(img, '');
  fs.truncateSync(img, sizeMb * 1024 * 1024);
  const mk = sh('mkfs.ext4', ['-q', '-F', '-N', String(inodes), img]);
  if (!mk.ok) return `mkfs.ext4 failed (${mk.err})`;
  const r = sh('mount', ['-o', 'loop', img, dir]);
  if (!r.ok) return `loop-mounting an ext4 image was refused (${r.err}); run as root on a machine that allows loop mounts`;
  return {
    dir,
    unmount: () => {
      sh('umount', ['-l', dir]);
      fs.rmSync(img, { force: true });
    },
  };
}

/** Probe once so a test can declare `{ skip: reason }` up front. */
export function mountRefusal(parent: string): string | false {
  const m = mountTmpfs(parent, '1m');
  if (typeof m === 'string') return m;
  m.unmount();
  return false;
}

/** Probe a loop-mounted ext4 once (mkfs and loop devices may be missing where tmpfs works). */
export function loopRefusal(parent: string): string | false {
  const m = mountExt4(parent, 8);
  if (typeof m === 'string') return m;
  m.unmount();
  return false;
}

/**
 * Runs `body` on a mount made by mountTmpfs/mountExt4 and unmounts it afterwards, also when `body` fails.
 * A mount that was refused (a string) fails the test with its reason: callers skip up front with the
 * *Refusal probes, so reaching here with a refusal is a fault of the machine, not a skip.
 */
export function onMount(mount: Mount | string, body: (dir: string) => void): void {
  assert.ok(typeof mount !== 'string', String(mount));
  try {
    body(mount.dir);
  } finally {
    mount.unmount();
  }
}

/**
 * An initialised base at `<dir>/base` with one repository, each `config` setting applied in order
 * (e.g. ['gcAfterPublish', 'false']), once the first generation's background children are done. Returns
 * the base and a CLI bound to it.
 */
export function repoOn(dir: string, repo: string, config: [string, string][] = []): { base: string; cli: ReturnType<typeof cliIn> } {
  const base = path.join(dir, 'base');
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  assert.equal(cli.sync(['create-repo', repo]).code, 0);
  for (const [key, value] of config) assert.equal(cli.sync(['config', repo, key, value]).code, 0);
  awaitReactions(base, repo);
  return { base, cli };
}

/**
 * Waits (synchronously, at most `ms`) until no after-publish background child of `repo` is alive: none
 * named by a pending marker (meta/pending/*) nor announced as a spare maker (spare/maker-<pid>). A limit
 * test fills a filesystem to the last inode or byte: a child still at work then would fail or free space
 * at a moment of its own, and the command under test would see a different filesystem from run to run.
 */
export function awaitReactions(base: string, repo: string, ms = 30000): void {
  const dir = path.join(base, 'repos', repo);
  const pidsIn = (folder: string, name: RegExp, fromContent: boolean): number[] => {
    const names = fs.existsSync(folder) ? fs.readdirSync(folder) : [];
    return names.flatMap((n) => {
      const m = name.exec(n);
      if (!m) return [];
      const text = fromContent ? fs.readFileSync(path.join(folder, n), 'utf8').trim() : m[1]!;
      return /^\d+$/.test(text) ? [Number(text)] : [];
    });
  };
  const deadline = Date.now() + ms;
  for (;;) {
    const busy = [...pidsIn(path.join(dir, 'meta/pending'), /^[^.].*$/, true), ...pidsIn(path.join(dir, 'spare'), /^maker-(\d+)$/, false)].filter(isAlive);
    if (busy.length === 0) return;
    assert.ok(Date.now() < deadline, `background children of ${repo} still at work after ${ms} ms: pids ${busy.join(', ')}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}
