/**
 * The pool figures of a /metrics scrape right after a publish (with publishes every few seconds, every
 * scrape is one): CPU time and wall time of counting a pool of N blobs, against the baseline of stat-ing
 * every blob through the promise API (what the count did before it kept per-folder figures), in the same
 * run. The count runs in the serving process, so its CPU is taken from the requests being answered.
 * Run: node --import tsx bench/metrics-scrape.ts [blobs=50000] [runs=5]
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { importFiles } from '../src/commands/import.js';
import { openBase } from '../src/engine/repo.js';
import { Pool } from '../src/engine/pool.js';
import { PoolCounter } from '../src/readers/pool-count.js';
import { machine, median, runCli } from './lib.js';

const BLOBS = Number(process.argv[2] ?? 50_000);
const RUNS = Number(process.argv[3] ?? 5);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rcurepo-bench-scrape-'));
const base = path.join(dir, 'base');
const cli = (...a: string[]) => runCli(base, a); // throws on failure

async function measure(fn: () => Promise<unknown>): Promise<{ cpuMs: number; wallMs: number; value: unknown }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { cpuMs: (c.user + c.system) / 1000, wallMs, value };
}

try {
  cli('init');
  cli('create-repo', 'big');
  cli('config', 'big', 'gcAfterPublish', 'false');
  const src = path.join(dir, 'src', 'pkgs');
  fs.mkdirSync(src, { recursive: true });
  for (let i = 0; i < BLOBS; i++) fs.writeFileSync(path.join(src, `p${i}.bin`), `blob ${i}\n`);
  await importFiles({ base, repo: 'big', paths: [path.dirname(src)], cwd: dir });
  fs.rmSync(path.dirname(src), { recursive: true, force: true });
  const layout = await openBase(base);

  const fullStat = async () => {
    let blobs = 0;
    let bytes = 0;
    for await (const b of new Pool(layout).walk()) {
      const st = await fsp.stat(b.path).catch(() => undefined);
      if (!st) continue;
      blobs++;
      bytes += st.size;
    }
    return { blobs, bytes };
  };
  // A folder changed less than 2 s before a count is read again at the next one (pool-count.ts): let the
  // import settle, as the pool of a server running for a while has.
  await new Promise((r) => setTimeout(r, 2500));
  const counter = new PoolCounter(layout.blobsDir);
  const first = await measure(() => counter.count());
  const pub = path.join(dir, 'pub');
  fs.mkdirSync(pub);
  const rows: Array<{ base: { cpuMs: number; wallMs: number }; inc: { cpuMs: number; wallMs: number } }> = [];
  for (let r = 0; r < RUNS; r++) {
    // A publish of one new file, then the scrape: both counts must agree.
    fs.writeFileSync(path.join(pub, 'stamp.txt'), `${Date.now()} ${r}\n`);
    await importFiles({ base, repo: 'big', paths: [pub], cwd: dir, replace: true });
    const b = await measure(fullStat);
    const i = await measure(() => counter.count());
    const bv = b.value as { blobs: number; bytes: number };
    const iv = i.value as { blobs: number; bytes: number };
    if (bv.blobs !== iv.blobs || bv.bytes !== iv.bytes) throw new Error(`counts differ: ${JSON.stringify(bv)} vs ${JSON.stringify(iv)}`);
    rows.push({ base: b, inc: i });
  }
  console.log(machine());
  console.log(`load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; pool of ${BLOBS + RUNS} blobs; medians of ${RUNS} scrapes, each right after a one-file publish`);
  console.log('| count | CPU ms | wall ms |');
  console.log('|---|---|---|');
  console.log(`| every blob stat-ed (baseline) | ${median(rows.map((x) => x.base.cpuMs)).toFixed(1)} | ${median(rows.map((x) => x.base.wallMs)).toFixed(1)} |`);
  console.log(`| changed folders only | ${median(rows.map((x) => x.inc.cpuMs)).toFixed(1)} | ${median(rows.map((x) => x.inc.wallMs)).toFixed(1)} |`);
  console.log(`| (first count of a fresh server: every folder) | ${first.cpuMs.toFixed(1)} | ${first.wallMs.toFixed(1)} |`);
  console.log(`ratio (CPU, changed folders / baseline): ${(median(rows.map((x) => x.inc.cpuMs)) / median(rows.map((x) => x.base.cpuMs))).toFixed(3)}`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
