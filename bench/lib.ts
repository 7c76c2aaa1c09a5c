/**
 * Shared benchmark helpers: timing, medians, child processes with peak RSS, machine description, the
 * repository set-ups several benches start from and the eopkg whole-index anchor.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Layout } from '../src/engine/layout.js';
import { Pool } from '../src/engine/pool.js';
import { readCurrent } from '../src/engine/generations.js';
import { readRepoConfig } from '../src/engine/repo.js';
import { listSpares } from '../src/engine/spare.js';
import { renderIndexXml } from '../src/formats/eopkg/index.js';
import type { TreeEntry } from '../src/formats/format.js';
import { runXz } from '../src/formats/shared/xz-blocks.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = path.join(ROOT, 'bin', 'rcurepo.js');

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function timeIt(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

export async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

export interface ChildRun {
  seconds: number;
  maxRssMb: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI under /usr/bin/time to get wall time and peak RSS (kB -> MB). */
export function runCli(base: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildRun {
  const t = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', 'RSS_KB=%M', process.execPath, BIN, '--base', base, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 28 });
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`rcurepo ${args.join(' ')} failed: ${r.stderr}`);
  const m = /RSS_KB=(\d+)/.exec(r.stderr);
  return { seconds, maxRssMb: m ? Number(m[1]) / 1024 : NaN, stdout: r.stdout, stderr: r.stderr };
}

export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  let fsType = '';
  try {
    fsType = execFileSync('stat', ['-f', '-c', '%T', os.tmpdir()], { encoding: 'utf8' }).trim();
  } catch {
    /* not important */
  }
  return `${os.cpus().length} x ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, ${os.type()} ${os.release()}, ${fsType} at ${os.tmpdir()}`;
}

/** Write `n` small files (a few hundred bytes each) in folders of 100. */
export function writeSmallFiles(dir: string, n: number, salt = ''): void {
  for (let i = 0; i < n; i++) {
    const sub = path.join(dir, `d${String(Math.floor(i / 100)).padStart(4, '0')}`);
    if (i % 100 === 0) fs.mkdirSync(sub, { recursive: true });
    fs.writeFileSync(path.join(sub, `file-${i}.dat`), `${salt}file ${i} `.repeat(20));
  }
}

export function sizesFromArgs(defaults: number[]): number[] {
  const arg = process.argv.find((a) => a.startsWith('--sizes='));
  return arg ? arg.slice(8).split(',').map(Number) : defaults;
}

export function runsFromArgs(def: number): number {
  const arg = process.argv.find((a) => a.startsWith('--runs='));
  return arg ? Number(arg.slice(7)) : def;
}

/** Wall seconds of one system command (its output discarded); a failure stops the bench with its stderr. */
export function timeCmd(cmd: string, args: string[]): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t) / 1e9;
}

/** Seconds as the figures print them. */
export const s = (x: number): string => `${x.toFixed(3)} s`;

/**
 * A fresh base with one repository: `init`, `create-repo <repo> ...createArgs`, then each `config` setting
 * in order. Benches turn gcAfterPublish off here so that no background deletion runs while a figure is taken.
 */
export function initRepo(base: string, repo: string, createArgs: string[], config: [string, string][]): void {
  runCli(base, ['init']);
  runCli(base, ['create-repo', repo, ...createArgs]);
  for (const [key, value] of config) runCli(base, ['config', repo, key, value]);
}

/** What the package generator gives back (fixtures/gen-eopkg.ts), as far as the split below needs it. */
interface Build {
  name: string;
  release: number;
  basename: string;
  bytes: Buffer;
}

/**
 * Packages made with two builds per name, split into `<work>/old` (the oldest build of every name: the
 * starting repository) and `<work>/new` (the next build of the first `updates` names: the new work).
 * Returns both folders, how many updates were written and the builds by name.
 */
export function oldAndNewBuilds<P extends Build>(work: string, all: P[], updates: number): { oldDir: string; newDir: string; updated: number; byName: Map<string, P[]> } {
  const byName = new Map<string, P[]>();
  for (const p of all) (byName.get(p.name) ?? byName.set(p.name, []).get(p.name)!).push(p);
  const oldDir = path.join(work, 'old');
  const newDir = path.join(work, 'new');
  fs.mkdirSync(oldDir);
  fs.mkdirSync(newDir);
  let updated = 0;
  for (const builds of byName.values()) {
    builds.sort((a, b) => a.release - b.release);
    fs.writeFileSync(path.join(oldDir, builds[0]!.basename), builds[0]!.bytes);
    if (updated < updates && builds[1]) {
      fs.writeFileSync(path.join(newDir, builds[1].basename), builds[1].bytes);
      updated++;
    }
  }
  return { oldDir, newDir, updated, byName };
}

/**
 * The anchor's way of publishing one eopkg package, timed `runs` times: load every package's metadata
 * from the pool, render the whole index, `xz -6` it and sha1 both. One Pool serves every run, as one
 * long-lived process would. Returns the median seconds and the index's size in bytes.
 */
export async function timeWholeIndex(layout: Layout, entries: readonly TreeEntry[], runs: number): Promise<{ seconds: number; indexBytes: number }> {
  const pool = new Pool(layout);
  const times: number[] = [];
  let indexBytes = 0;
  for (let i = 0; i < runs; i++) {
    times.push(
      await timeAsync(async () => {
        const xml = await renderIndexXml(entries, (sha) => layout.blobPath(sha), (e) => pool.readMeta(e.sha256, 'eopkg'));
        const xz = await runXz(['-z', '-c', '-6', '-T1'], xml);
        createHash('sha1').update(xml).digest('hex');
        createHash('sha1').update(xz).digest('hex');
        indexBytes = xml.length;
      }),
    );
  }
  return { seconds: median(times), indexBytes };
}

/** Seconds until `current` of `repo` has its spare (and twin, unless `spareTwin` is off) ready. */
export async function spareReady(layout: Layout, repo: string, ms = 120_000): Promise<number> {
  const r = layout.repo(repo);
  const trees = (await readRepoConfig(r)).settings.spareTwin === false ? 1 : 2;
  const t0 = Date.now();
  for (;;) {
    const cur = await readCurrent(r);
    if ((await listSpares(r)).filter((x) => x.generation === cur && x.state === 'ready').length >= trees) return (Date.now() - t0) / 1000;
    if (Date.now() - t0 > ms) throw new Error('no spare clone became ready');
    await new Promise((res) => setTimeout(res, 50));
  }
}
