/**
 * Ways to make one hard-link clone of a snapshot-shaped tree, against `cp -al` of the same tree in the
 * same run (medians of --runs, variants alternated so a slow moment of the machine hits each alike):
 *   - cp -al;
 *   - cloneTree (src/engine/tree.ts) with 1 and with 2 worker threads (RCUREPO_CLONE_THREADS);
 *   - link(2) through libuv's threadpool: an asynchronous walk keeping --inflight links outstanding
 *     (UV_THREADPOOL_SIZE threads make them, 4 by default).
 * The tree is laid out as an eopkg repository: <letter>/<source>/<file>, about two files per source.
 *
 *   node --import tsx bench/clone-variants.ts [--files=50000] [--runs=5] [--inflight=64]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cloneTree } from '../src/engine/tree.js';
import { ROOT, machine, median, runsFromArgs } from './lib.js';

const arg = (name: string, def: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def);

/** Child mode: one clone by `variant`, its seconds on stdout. */
async function child(variant: string, src: string, dst: string): Promise<void> {
  const t = process.hrtime.bigint();
  if (variant === 'tree') await cloneTree(src, dst);
  else await libuvClone(src, dst, arg('inflight', 64));
  process.stdout.write(`${Number(process.hrtime.bigint() - t) / 1e9}\n`);
}

/** Walk with readdir, mkdir each folder before its files, keep up to `inflight` link() calls in the threadpool. */
async function libuvClone(src: string, dst: string, inflight: number): Promise<void> {
  const running = new Set<Promise<void>>();
  const link = async (from: string, to: string): Promise<void> => {
    while (running.size >= inflight) await Promise.race(running);
    const p = fsp.link(from, to).finally(() => running.delete(p));
    running.add(p);
  };
  const walk = async (s: string, d: string): Promise<void> => {
    await fsp.mkdir(d);
    for (const e of await fsp.readdir(s, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(path.join(s, e.name), path.join(d, e.name));
      else await link(path.join(s, e.name), path.join(d, e.name));
    }
  };
  await walk(src, dst);
  await Promise.all(running);
}

function makeTree(dir: string, files: number): void {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  for (let i = 0; i < files; i++) {
    const source = `src-${Math.floor(i / 2)}`;
    const d = path.join(dir, letters[Math.floor(i / 2) % 26]!, source);
    if (i % 2 === 0) fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, `${source}-${i}-1-x86_64.eopkg`), `package ${i}\n`);
  }
}

async function main(): Promise<void> {
  const variant = process.argv.find((a) => a.startsWith('--child='))?.slice(8);
  if (variant) return child(variant, process.argv.at(-2)!, process.argv.at(-1)!);
  const files = arg('files', 50000);
  const runs = runsFromArgs(5);
  const work = fs.mkdtempSync(path.join(process.env.BENCH_TMP ?? os.tmpdir(), 'clone-variants-'));
  try {
    const src = path.join(work, 'src');
    makeTree(src, files);
    execFileSync('sync');
    const variants: Record<string, (dst: string) => number> = {
      'cp -al': (dst) => {
        const t = process.hrtime.bigint();
        execFileSync('cp', ['-al', src, dst]);
        return Number(process.hrtime.bigint() - t) / 1e9;
      },
      'cloneTree, 1 thread': (dst) => runChild('tree', src, dst, { RCUREPO_CLONE_THREADS: '1' }),
      'cloneTree, 2 threads': (dst) => runChild('tree', src, dst, { RCUREPO_CLONE_THREADS: '2' }),
      'libuv threadpool (4)': (dst) => runChild('libuv', src, dst, {}),
    };
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
    let n = 0;
    for (let r = 0; r < runs; r++) {
      for (const [name, run] of Object.entries(variants)) {
        const dst = path.join(work, `dst-${n++}`);
        times[name]!.push(run(dst));
        fs.rmSync(dst, { recursive: true, force: true });
        execFileSync('sync');
      }
    }
    const cp = median(times['cp -al']!);
    console.log(`# clone variants — ${new Date().toISOString()}\n# ${machine()}\n# ${files} files, runs=${runs} (medians)`);
    for (const [name, t] of Object.entries(times)) console.log(`${name.padEnd(22)} ${median(t).toFixed(3)} s = ${(median(t) / cp).toFixed(2)} x cp -al   (${t.map((x) => x.toFixed(2)).join(' ')})`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The clone's own seconds, as timed inside the child (Node's start-up left out). */
function runChild(variant: string, src: string, dst: string, env: Record<string, string>): number {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'clone-variants.ts'), `--child=${variant}`, `--inflight=${arg('inflight', 64)}`, src, dst], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${variant}: ${r.stderr}`);
  return Number(r.stdout.trim().split('\n').at(-1));
}

await main();
