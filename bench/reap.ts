/**
 * Reaping a snapshot of N hard links (default 100,000) vs `rm -rf` of an identical tree, same run.
 * Run: npm run build && node --import tsx bench/reap.ts [N] [runs]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deleteTree } from '../src/readers/delete-tree.js';

const N = Number(process.argv[2] ?? 100_000);
const RUNS = Number(process.argv[3] ?? 5);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rcurepo-bench-reap-'));
const tree = path.join(dir, 'tree');
// 100 folders of N/100 links (real package trees are a few deep folders of many files).
// One blob per folder: ext4 allows 65,000 links per inode.
for (let d = 0; d < 100; d++) {
  const blob = path.join(dir, `blob${d}`);
  fs.writeFileSync(blob, `x${d}`);
  fs.mkdirSync(path.join(tree, `d${d}`), { recursive: true });
  for (let i = 0; i < N / 100; i++) fs.linkSync(blob, path.join(tree, `d${d}`, `f${i}.eopkg`));
}
const copy = (to: string) => execFileSync('cp', ['-al', tree, to]);
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const ours: number[] = [];
const rm: number[] = [];
for (let r = 0; r < RUNS; r++) {
  copy(path.join(dir, 'a'));
  copy(path.join(dir, 'b'));
  execFileSync('sync');
  let t = process.hrtime.bigint();
  execFileSync('rm', ['-rf', path.join(dir, 'b')]);
  rm.push(Number(process.hrtime.bigint() - t) / 1e6);
  t = process.hrtime.bigint();
  fs.renameSync(path.join(dir, 'a'), path.join(dir, 'trash-a')); // the reaper's rename into trash
  await deleteTree(path.join(dir, 'trash-a'));
  ours.push(Number(process.hrtime.bigint() - t) / 1e6);
}
fs.rmSync(dir, { recursive: true, force: true });
console.log(`reap ${N} links: rcurepo median ${median(ours).toFixed(0)} ms, rm -rf median ${median(rm).toFixed(0)} ms, ratio ${(median(ours) / median(rm)).toFixed(2)} (target <= 1.2); runs ${RUNS}`);
console.log(`  rcurepo: ${ours.map((x) => x.toFixed(0)).join(' ')}; rm -rf: ${rm.map((x) => x.toFixed(0)).join(' ')}`);
