/**
 * Pool sweep over N blobs (10k and 100k by default), 10% unreferenced: time and growth.
 * Run: npm run build && node --import tsx bench/sweep.ts [runs]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Layout } from '../src/engine/layout.js';
import { sweepPool } from '../src/engine/sweep.js';

const RUNS = Number(process.argv[2] ?? 3);
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

function makePool(n: number): { layout: Layout; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rcurepo-bench-sweep-'));
  const layout = new Layout(dir);
  for (const d of [layout.blobsDir, layout.poolMetaDir, layout.poolTmpDir, layout.poolGuardDir, path.join(dir, 'refs')]) fs.mkdirSync(d, { recursive: true });
  for (let i = 0; i < n; i++) {
    const sha = i.toString(16).padStart(64, '0').split('').reverse().join('');
    const sub = path.join(layout.blobsDir, sha.slice(0, 2));
    if (i < 256) fs.mkdirSync(sub, { recursive: true });
    const p = path.join(sub, sha);
    fs.writeFileSync(p, 'b');
    fs.chmodSync(p, 0o444);
    if (i % 10 !== 0) fs.linkSync(p, path.join(dir, 'refs', sha)); // referenced: nlink 2
  }
  return { layout, dir };
}

const results: Array<{ n: number; ms: number }> = [];
for (const n of [10_000, 100_000]) {
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const { layout, dir } = makePool(n);
    execFileSync('sync');
    const t0 = process.hrtime.bigint();
    const res = await sweepPool(layout);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (res.removed !== n / 10) throw new Error(`swept ${res.removed}, expected ${n / 10}`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  results.push({ n, ms: median(times) });
  console.log(`sweep ${n} blobs (${n / 10} unreferenced): median ${median(times).toFixed(0)} ms (${times.map((x) => x.toFixed(0)).join(' ')})`);
}
console.log(`growth 10k -> 100k: x${(results[1]!.ms / results[0]!.ms).toFixed(1)} for x10 blobs`);
