/**
 * Issue 6 benchmark: `pull SRC DST` of U updated packages from an N-package eopkg repository into
 * another, through the real CLI, against `cp -al` of DST's snapshot tree measured in the same run.
 * Target: median <= 2 x cp -al (N = 50,000, U = 1,000).
 *
 *   npm run build && node --import tsx bench/lifecycle-pull.ts [--sizes=10000,50000] [--updates=1000] [--runs=5] [--xz-presets=3,6] [--keep] [--trace]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generatePackages } from '../fixtures/gen-eopkg.js';
import { DEFAULT_XZ_PRESET } from '../src/formats/shared/xz-blocks.js';
import { initRepo, machine, median, oldAndNewBuilds, runCli, runsFromArgs, sizesFromArgs, timeIt } from './lib.js';

const sizes = sizesFromArgs([10_000, 50_000]);
const runs = runsFromArgs(5);
/** Keep the work directory (to trace a pull by hand: RCUREPO_TRACE=1 rcurepo --base DIR/base pull ...). */
const keep = process.argv.includes('--keep');
/** Print each timed pull's step trace (RCUREPO_TRACE) under its figures. */
const showTrace = process.argv.includes('--trace');
const updates = Number(process.argv.find((a) => a.startsWith('--updates='))?.slice(10) ?? '1000');
/** The target's index xz levels to measure (repo setting indexXzPreset); 6 is the default. */
const presets = (process.argv.find((a) => a.startsWith('--xz-presets='))?.slice(13) ?? String(DEFAULT_XZ_PRESET)).split(',');

console.log(`# lifecycle pull benchmark, ${new Date().toISOString()}\n# ${machine()}\n# runs per figure: ${runs} (medians), ${updates} updated packages, target index xz presets ${presets.join(', ')}`);
console.log('packages\txz_preset\tcp-al_s\tpull_s\tpull/cp\tpull_RSS_MB\tadded\tindex_xz_bytes');

for (const n of sizes) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rcurepo-pull-'));
  try {
    const base = path.join(work, 'base');
    // Two builds of every name: the older ones make the repositories, `updates` of the newer ones are
    // the week's work that the pull brings over.
    const all = generatePackages({ count: n, seed: `pull-${n}`, buildsPerName: 2 });
    const { oldDir, newDir, byName } = oldAndNewBuilds(work, all, updates);
    initRepo(base, 'unstable', ['--format', 'eopkg'], [['gcAfterPublish', 'false']]);
    runCli(base, ['import', 'unstable', oldDir]);
    runCli(base, ['clone', 'unstable', 'base-stable']); // the target's starting point, kept for every run
    runCli(base, ['import', 'unstable', newDir]);
    // One package of a name neither repository has, to warm a target's index cache at a non-default level.
    let warmUp = '';
    for (let k = 0; !warmUp; k++) {
      const [p] = generatePackages({ count: 1, seed: `pull-warm-up-${k}` });
      if (!p || byName.has(p.name)) continue;
      warmUp = path.join(work, p.basename);
      fs.writeFileSync(warmUp, p.bytes);
    }
    const leftovers: string[] = [];
    for (const preset of presets) {
      const cp: number[] = [];
      const pull: number[] = [];
      let rss = 0;
      let added = 0;
      let xzBytes = 0;
      for (let r = 0; r < runs; r++) {
        const dst = `stable-${preset}-${r}`;
        runCli(base, ['clone', 'base-stable', dst, '--full']);
        runCli(base, ['config', dst, 'gcAfterPublish', 'false']);
        runCli(base, ['config', dst, 'indexXzPreset', preset]);
        // The clone built its index cache at the default level: an operator who chose another level did
        // so long ago, so publish (and take back) one package first to fill the cache at this level.
        if (Number(preset) !== DEFAULT_XZ_PRESET) {
          runCli(base, ['import', dst, warmUp]);
          runCli(base, ['remove', dst, `**/${path.basename(warmUp)}`]);
        }
        const tree = fs.realpathSync(path.join(base, 'repos', dst, 'current'));
        execFileSync('sync');
        const cpDst = path.join(work, `cp-${preset}-${r}`);
        cp.push(timeIt(() => execFileSync('cp', ['-al', tree, cpDst])));
        // Nothing is deleted between timed commands: on this kind of machine file operations slow down
        // for a while after large deletions, and runs would measure the previous run's cleanup.
        leftovers.push(cpDst);
        execFileSync('sync');
        const res = runCli(base, ['--json', 'pull', 'unstable', dst], showTrace ? { RCUREPO_TRACE: '1' } : {});
        pull.push(res.seconds);
        if (showTrace) {
          console.log(`# run ${r}: cp -al ${cp[r]!.toFixed(3)} s, pull ${res.seconds.toFixed(3)} s`);
          for (const line of res.stderr.split('\n')) if (line.startsWith('[trace]')) console.log(`#   ${line}`);
        }
        rss = Math.max(rss, res.maxRssMb);
        added = (JSON.parse(res.stdout) as { added: string[] }).added.length;
        xzBytes = fs.statSync(path.join(base, 'repos', dst, 'current', 'eopkg-index.xml.xz')).size;
      }
      const c = median(cp);
      console.log([n, preset, c.toFixed(3), median(pull).toFixed(3), (median(pull) / c).toFixed(2), rss.toFixed(0), added, xzBytes].join('\t'));
    }
    for (const d of leftovers) fs.rmSync(d, { recursive: true, force: true });
  } finally {
    if (keep) console.log(`# kept: ${work} (repositories unstable and base-stable; pull into a clone of base-stable)`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}
