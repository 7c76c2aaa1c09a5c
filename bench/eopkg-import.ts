/**
 * eopkg import through the real CLI (issue 3's targets), on synthetic repositories of 1,000 / 10,000 /
 * 50,000 packages made with fixtures/gen-eopkg.ts and imported in ONE `import` call (the bulk measurement).
 * Ratios are measured in the same run:
 *   - one-package publish (`import R new.eopkg`): median vs `cp -al` of the same snapshot tree (<= 2x) and vs
 *     the anchor's way (load every package's metadata, render the whole index, `xz -c` it, sha1 both) (>= 20x);
 *   - no-op import (the same file again): < 0.3 s;
 *   - peak RSS of the import process (/usr/bin/time %M): <= 256 MB;
 *   - bulk import throughput (MB/s) vs `sha256sum` over the same files (>= 50%).
 *
 *   npm run build && node --import tsx bench/eopkg-import.ts [--sizes=1000,10000,50000] [--runs=5] [--trace] [--payload-kib=N]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generatePackages } from '../fixtures/gen-eopkg.js';
import { readCurrent, readManifest } from '../src/engine/generations.js';
import { Layout } from '../src/engine/layout.js';
import { initRepo, machine, median, runCli, runsFromArgs, s, sizesFromArgs, timeCmd, timeWholeIndex } from './lib.js';

const sizes = sizesFromArgs([1000, 10000, 50000]);
const runs = runsFromArgs(5);
const showTrace = process.argv.includes('--trace');
/** Mean payload of main packages in KiB (0 = tiny synthetic packages); real packages carry binaries. */
const payloadKiB = Number(process.argv.find((a) => a.startsWith('--payload-kib='))?.slice(14) ?? '0');
const tmpRoot = fs.mkdtempSync(path.join(process.env.BENCH_TMP ?? os.tmpdir(), 'eopkg-import-'));

const dirBytes = (files: string[]): number => files.reduce((n, f) => n + fs.statSync(f).size, 0);

/** One package whose name is new to the repository (so each publish adds exactly one file). */
function freshPackage(dir: string, taken: Set<string>, i: number): string {
  for (let k = 0; ; k++) {
    const [p] = generatePackages({ count: 1, seed: `extra-${i}-${k}` });
    if (!p || taken.has(p.name)) continue;
    taken.add(p.name);
    const f = path.join(dir, p.basename);
    fs.writeFileSync(f, p.bytes);
    return f;
  }
}

interface Row {
  n: number;
  files: number;
  indexMiB: number;
  bulkS: number;
  bulkMBs: number;
  sha256sumMBs: number;
  bulkRss: number;
  publish: number;
  publishRss: number;
  noop: number;
  noopRss: number;
  cpal: number;
  anchor: number;
}

async function one(n: number): Promise<Row> {
  const work = path.join(tmpRoot, String(n));
  const base = path.join(work, 'base');
  const pkgDir = path.join(work, 'pkgs');
  const gen = generatePackages({ out: pkgDir, count: n, seed: `bench-${n}`, payloadKiB });
  const files = gen.map((p) => p.file!);
  const taken = new Set(gen.map((p) => p.name));
  const bytes = dirBytes(files);
  // No gc during the measurements: after a publish the background gc would delete a superseded
  // 50,000-link tree while the next figure is taken. The work folder goes as a whole at the end.
  initRepo(base, 'R', ['--format', 'eopkg'], [['gcAfterPublish', 'false']]);
  // bulk: one import call of every file (a directory argument), vs sha256sum of the same files
  const bulk = runCli(base, ['import', 'R', pkgDir]);
  const shaS = timeCmd('sh', ['-c', `find "${pkgDir}" -name '*.eopkg' -print0 | xargs -0 sha256sum > /dev/null`]);
  const layout = new Layout(base);
  const repo = layout.repo('R');
  const publish: number[] = [];
  const publishRss: number[] = [];
  const noop: number[] = [];
  const noopRss: number[] = [];
  const cpal: number[] = [];
  const extra = path.join(work, 'extra');
  fs.mkdirSync(extra);
  for (let i = 0; i < runs; i++) {
    // cp -al of the current snapshot tree (what a clone costs at its floor), same run, same tree size
    const cur = repo.snapshotDir((await readCurrent(repo))!);
    const dst = path.join(work, `cpal-${i}`);
    // Each timed command starts with nothing left to write back, so it pays for its own writes only
    // (not for the previous run's deletions or the page cache of the generator).
    execFileSync('sync');
    cpal.push(timeCmd('cp', ['-al', cur, dst]));
    // Deleted only after the last run: on this kind of machine file operations slow down for a while
    // after large deletions, and the next timed command would measure this one's cleanup.
    const f = freshPackage(extra, taken, i);
    execFileSync('sync');
    const r = runCli(base, ['import', 'R', f], showTrace && i === runs - 1 ? { RCUREPO_TRACE: '1' } : {});
    publish.push(r.seconds);
    publishRss.push(r.maxRssMb);
    execFileSync('sync'); // the publish's writeback is its own cost, not the no-op's
    const z = runCli(base, ['import', 'R', f]);
    noop.push(z.seconds);
    noopRss.push(z.maxRssMb);
  }
  // Superseded snapshots and the cp -al copies are left in place until the runs are over (see above).
  for (let i = 0; i < runs; i++) fs.rmSync(path.join(work, `cpal-${i}`), { recursive: true, force: true });
  if (showTrace) {
    const f = freshPackage(extra, taken, 999);
    const r = spawnSync(process.execPath, [path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'bin', 'rcurepo.js'), '--base', base, 'import', 'R', f], { encoding: 'utf8', env: { ...process.env, RCUREPO_TRACE: '1' } });
    process.stdout.write(`\n--- RCUREPO_TRACE, one-package publish at ${n} packages ---\n${r.stderr}`);
  }
  // anchor: load every package's metadata from the pool, render the whole index, xz -c, sha1 both
  const gens = (await readCurrent(repo))!;
  const entries = (await readManifest(repo, gens))!;
  const anchorRuns = n >= 50000 ? Math.min(runs, 2) : Math.min(runs, 3);
  const { seconds: anchor, indexBytes } = await timeWholeIndex(layout, entries, anchorRuns);
  fs.rmSync(work, { recursive: true, force: true });
  return {
    n,
    files: files.length,
    indexMiB: indexBytes / 2 ** 20,
    bulkS: bulk.seconds,
    bulkMBs: bytes / 1e6 / bulk.seconds,
    sha256sumMBs: bytes / 1e6 / shaS,
    bulkRss: bulk.maxRssMb,
    publish: median(publish),
    publishRss: Math.max(...publishRss),
    noop: median(noop),
    noopRss: Math.max(...noopRss),
    cpal: median(cpal),
    anchor,
  };
}

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'dist', 'bundle', 'main.cjs'))) execFileSync('npm', ['run', 'build'], { stdio: 'inherit' });
  process.stdout.write(`# eopkg import bench — ${new Date().toISOString()}\n# ${machine()}\n# runs=${runs} (medians; anchor: up to 3 runs, 2 at 50k); payload ${payloadKiB} KiB mean per main package\n`);
  const rows: Row[] = [];
  try {
    for (const n of sizes) {
      const r = await one(n);
      rows.push(r);
      process.stdout.write(
        `${n}: bulk ${r.files} files ${s(r.bulkS)} = ${r.bulkMBs.toFixed(1)} MB/s vs sha256sum ${r.sha256sumMBs.toFixed(1)} MB/s (${((100 * r.bulkMBs) / r.sha256sumMBs).toFixed(0)}%), RSS ${r.bulkRss.toFixed(0)} MB; ` +
          `publish ${s(r.publish)} (RSS ${r.publishRss.toFixed(0)} MB) vs cp -al ${s(r.cpal)} = ${(r.publish / r.cpal).toFixed(2)}x, anchor ${s(r.anchor)} = ${(r.anchor / r.publish).toFixed(1)}x faster; ` +
          `no-op ${s(r.noop)} (RSS ${r.noopRss.toFixed(0)} MB); index ${r.indexMiB.toFixed(1)} MiB\n`,
      );
    }
  } finally {
    fs.rmSync(tmpRoot, { recursive: true, force: true });
  }
  process.stdout.write('\n| packages | files | index MiB | 1-pkg publish (median) | cp -al | publish/cp -al (<=2) | anchor full+xz | anchor/publish (>=20) | no-op (<0.3 s) | peak RSS publish / bulk (<=256 MB) | bulk MB/s | sha256sum MB/s | bulk/sha256sum (>=50%) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n');
  for (const r of rows) {
    process.stdout.write(
      `| ${r.n} | ${r.files} | ${r.indexMiB.toFixed(1)} | ${s(r.publish)} | ${s(r.cpal)} | ${(r.publish / r.cpal).toFixed(2)}x | ${s(r.anchor)} | ${(r.anchor / r.publish).toFixed(1)}x | ${s(r.noop)} | ${r.publishRss.toFixed(0)} / ${r.bulkRss.toFixed(0)} MB | ${r.bulkMBs.toFixed(1)} | ${r.sha256sumMBs.toFixed(1)} | ${((100 * r.bulkMBs) / r.sha256sumMBs).toFixed(0)}% |\n`,
    );
  }
}

await main();
