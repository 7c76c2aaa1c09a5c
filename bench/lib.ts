/** Shared benchmark helpers: timing, medians, child processes with peak RSS, machine description. */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
