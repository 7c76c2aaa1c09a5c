/**
 * Issue 2 benchmark: a `files` repository of N small files.
 *   - cp -al of the current snapshot tree: the physical floor of a hard-link clone (baseline)
 *   - the clone step alone (cloneTree, in-process)            target <= 1.2 x cp -al
 *   - publishing a one-file import (whole CLI process)         target median <= 1.5 x cp -al
 *   - a no-op import (identical content)                       target < 0.2 s
 *   - peak RSS of the import process                           target <= 256 MB
 * Usage: node --import tsx bench/files-import.ts [--sizes=1000,10000,100000] [--runs=5]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cloneTree } from '../src/engine/tree.js';
import { initRepo, machine, median, runCli, runsFromArgs, sizesFromArgs, timeAsync, timeIt, writeSmallFiles } from './lib.js';

const sizes = sizesFromArgs([1000, 10_000, 100_000]);
const runs = runsFromArgs(5);
console.log(`# files-import benchmark, ${new Date().toISOString()}\n# ${machine()}\n# runs per figure: ${runs} (medians)`);
console.log('size\tcp-al_s\tclone_s\tclone/cp\tpublish_s\tpublish/cp\tnoop_s\tpeakRSS_MB');

for (const n of sizes) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rcurepo-bench-'));
  try {
    const base = path.join(dir, 'base');
    // gc runs between measurements, not concurrently with them (after a publish it would otherwise
    // delete the superseded 100,000-link tree while the next figure is being taken).
    initRepo(base, 'bench', [], [['gcAfterPublish', 'false'], ['graceSeconds', '0']]);
    const input = path.join(dir, 'input');
    writeSmallFiles(input, n);
    runCli(base, ['import', 'bench', input, '--prefix', 'data']);
    fs.rmSync(input, { recursive: true });
    const current = () => fs.realpathSync(path.join(base, 'repos/bench/current'));
    const cp: number[] = [];
    const clone: number[] = [];
    const publish: number[] = [];
    const noop: number[] = [];
    let rss = 0;
    for (let r = 0; r < runs; r++) {
      execFileSync('sync');
      const cpDst = path.join(dir, `cp-${r}`);
      cp.push(timeIt(() => execFileSync('cp', ['-al', current(), cpDst])));
      fs.rmSync(cpDst, { recursive: true });
      const cloneDst = path.join(dir, `clone-${r}`);
      clone.push(await timeAsync(() => cloneTree(current(), cloneDst)));
      fs.rmSync(cloneDst, { recursive: true });
      const one = path.join(dir, `one-${r}.txt`);
      fs.writeFileSync(one, `one more file ${r}`);
      execFileSync('sync');
      const p = runCli(base, ['import', 'bench', one]);
      publish.push(p.seconds);
      rss = Math.max(rss, p.maxRssMb);
      execFileSync('sync'); // the publish's writeback is its own cost, not the no-op's
      const q = runCli(base, ['import', 'bench', one]);
      if (!q.stdout.includes('nothing to publish')) throw new Error('no-op import published something');
      noop.push(q.seconds);
      rss = Math.max(rss, q.maxRssMb);
      runCli(base, ['gc', 'bench']);
    }
    const c = median(cp);
    console.log([n, c.toFixed(3), median(clone).toFixed(3), (median(clone) / c).toFixed(2), median(publish).toFixed(3), (median(publish) / c).toFixed(2), median(noop).toFixed(3), rss.toFixed(0)].join('\t'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
