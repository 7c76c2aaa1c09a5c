/**
 * Publish latency with the clone off the critical path (spare clones), the optional plain eopkg index,
 * and build-bot uploads through the shell client. Every ratio is against a baseline run in the same
 * process, medians of --runs:
 *   - eopkg, N packages: one-package publish with a spare ready vs `cp -al` of the snapshot (<= 1.0x) and
 *     vs the anchor's way (render the whole index and `xz -6` it: >= 20x), plainIndex on and off;
 *   - a burst of 20 one-package publishes back to back: total vs 20 x the single publish with a spare;
 *   - files, M files: one-file publish with a spare ready vs `cp -al` (<= 0.8x); no-op import (< 0.2 s);
 *   - 50 concurrent `rcurepo-upload` of one package each into U packages vs one 50-package import (<= 2x);
 *   - peak RSS of the bulk import of N eopkg packages (<= 256 MB).
 *
 *   npm run build && node --import tsx bench/publish-latency.ts [--eopkg=50000] [--files=100000] [--uploads=10000] [--runs=5] [--only=eopkg,files,uploads] [--settle=0.2]
 *
 * --settle is the watcher's --settle for the uploads figure (what the settle time costs: run with 0).
 * --only=bulk runs only the bulk import of --eopkg packages and prints its traced steps (where the peak
 * RSS is reached, with the heap and Buffer memory at each step): how the peak scales with the count.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generatePackages } from '../fixtures/gen-eopkg.js';
import { readCurrent, readManifest } from '../src/engine/generations.js';
import { Layout } from '../src/engine/layout.js';
import { BIN, ROOT, initRepo, machine, median, runCli, runsFromArgs, s, spareReady, timeAsync, timeCmd, timeWholeIndex, writeSmallFiles } from './lib.js';

const arg = (name: string, def: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def);
const runs = runsFromArgs(5);
const only = new Set((process.argv.find((a) => a.startsWith('--only='))?.slice(7) ?? 'eopkg,files,uploads').split(','));
const tmpRoot = fs.mkdtempSync(path.join(process.env.BENCH_TMP ?? os.tmpdir(), 'publish-latency-'));
const out: string[] = [];
const say = (line: string) => {
  out.push(line);
  process.stdout.write(line + '\n');
};

/** Seconds until the spare of `current` and its twin (when twins are on) are both ready. */
function freshPackage(dir: string, taken: Set<string>, tag: string): string {
  for (let k = 0; ; k++) {
    const [p] = generatePackages({ count: 1, seed: `${tag}-${k}` });
    if (!p || taken.has(p.name)) continue;
    taken.add(p.name);
    const f = path.join(dir, p.basename);
    fs.writeFileSync(f, p.bytes);
    return f;
  }
}

async function eopkg(n: number): Promise<void> {
  const work = path.join(tmpRoot, `eopkg-${n}`);
  const base = path.join(work, 'base');
  const pkgDir = path.join(work, 'pkgs');
  const gen = generatePackages({ out: pkgDir, count: n, seed: `latency-${n}` });
  const taken = new Set(gen.map((p) => p.name));
  initRepo(base, 'R', ['--format', 'eopkg'], [['gcAfterPublish', 'false']]); // deletions would slow every later figure
  execFileSync('sync');
  const bulk = runCli(base, ['import', 'R', pkgDir]);
  say(`eopkg ${n}: bulk import ${s(bulk.seconds)}, peak RSS ${bulk.maxRssMb.toFixed(0)} MB (target <= 256 MB)`);
  const layout = new Layout(base);
  const repo = layout.repo('R');
  const extra = path.join(work, 'extra');
  fs.mkdirSync(extra);
  const result: Record<string, { publish: number; cpal: number; spareWait: number }> = {};
  let i = 0;
  for (const plain of [true, false]) {
    runCli(base, ['config', 'R', 'plainIndex', String(plain)]);
    // One publish to settle the setting (and make a spare of its result) before timing.
    runCli(base, ['import', 'R', freshPackage(extra, taken, `warm-${plain}`)]);
    const publish: number[] = [];
    const cpal: number[] = [];
    const waits: number[] = [];
    for (let r = 0; r < runs; r++) {
      waits.push(await spareReady(layout, 'R'));
      const cur = repo.snapshotDir((await readCurrent(repo))!);
      execFileSync('sync');
      cpal.push(timeCmd('cp', ['-al', cur, path.join(work, `cpal-${i++}`)]));
      const f = freshPackage(extra, taken, `one-${plain}-${r}`);
      execFileSync('sync');
      const res = runCli(base, ['import', 'R', f], { RCUREPO_TRACE: '1' });
      if (!/spare-taken/.test(res.stderr)) throw new Error(`publish ${r} did not take the spare:\n${res.stderr}`);
      publish.push(res.seconds);
    }
    result[plain ? 'plain on' : 'plain off'] = { publish: median(publish), cpal: median(cpal), spareWait: median(waits) };
  }
  // Anchor: every package's metadata, the whole index rendered, xz -6, sha1 of both.
  const entries = (await readManifest(repo, (await readCurrent(repo))!))!;
  const a = (await timeWholeIndex(layout, entries, Math.min(runs, n >= 50000 ? 2 : 3))).seconds;
  for (const [k, v] of Object.entries(result)) {
    say(`eopkg ${n}, ${k}: one-package publish with a spare ${s(v.publish)} vs cp -al ${s(v.cpal)} = ${(v.publish / v.cpal).toFixed(2)}x (target <= 1.0); anchor ${s(a)} = ${(a / v.publish).toFixed(1)}x faster (target >= 20); spare ready ${s(v.spareWait)} after the previous publish returned`);
  }
  // Burst: 20 publishes back to back, plainIndex on (the default); with the twin (the default), then without.
  runCli(base, ['config', 'R', 'plainIndex', 'true']);
  const single = result['plain on']!.publish;
  for (const twin of [true, false]) {
    runCli(base, ['config', 'R', 'spareTwin', String(twin)]);
    runCli(base, ['import', 'R', freshPackage(extra, taken, `burst-warm-${twin}`)]);
    await spareReady(layout, 'R');
    const burstFiles = Array.from({ length: 20 }, (_, k) => freshPackage(extra, taken, `burst-${twin}-${k}`));
    execFileSync('sync');
    let spares = 0;
    let twins = 0;
    const burst = await timeAsync(async () => {
      for (const f of burstFiles) {
        const err = runCli(base, ['import', 'R', f], { RCUREPO_TRACE: '1' }).stderr;
        if (/spare-taken/.test(err)) spares++;
        if (/twin-carried/.test(err)) twins++;
      }
    });
    say(`eopkg ${n}: burst of 20 back-to-back publishes, spareTwin ${twin}: ${s(burst)} vs 20 x single-with-spare ${s(20 * single)} = ${(burst / (20 * single)).toFixed(2)}x (target <= 1.0); ${spares}/20 took a spare, ${twins}/20 carried its twin`);
  }
  runCli(base, ['config', 'R', 'spareTwin', 'true']);
  fs.rmSync(work, { recursive: true, force: true });
}

async function bulk(n: number): Promise<void> {
  const work = path.join(tmpRoot, `bulk-${n}`);
  const base = path.join(work, 'base');
  const pkgDir = path.join(work, 'pkgs');
  generatePackages({ out: pkgDir, count: n, seed: `latency-${n}` });
  runCli(base, ['init']);
  runCli(base, ['create-repo', 'R', '--format', 'eopkg']);
  execFileSync('sync');
  const r = runCli(base, ['import', 'R', pkgDir], { RCUREPO_TRACE: '1' });
  say(`eopkg ${n}: bulk import ${s(r.seconds)}, peak RSS ${r.maxRssMb.toFixed(0)} MB (target <= 256 MB at 50,000)`);
  for (const line of r.stderr.split('\n')) if (line.startsWith('[trace]')) say(`#   ${line}`);
  await spareReady(new Layout(base), 'R'); // the background maker writes into the base until then
  fs.rmSync(work, { recursive: true, force: true });
}

async function files(m: number): Promise<void> {
  const work = path.join(tmpRoot, `files-${m}`);
  const base = path.join(work, 'base');
  const src = path.join(work, 'src');
  writeSmallFiles(src, m);
  initRepo(base, 'F', [], [['gcAfterPublish', 'false']]);
  runCli(base, ['import', 'F', src]);
  const layout = new Layout(base);
  const repo = layout.repo('F');
  const publish: number[] = [];
  const cpal: number[] = [];
  const noop: number[] = [];
  for (let r = 0; r < runs; r++) {
    await spareReady(layout, 'F');
    const cur = repo.snapshotDir((await readCurrent(repo))!);
    execFileSync('sync');
    cpal.push(timeCmd('cp', ['-al', cur, path.join(work, `cpal-${r}`)]));
    const f = path.join(work, `one-${r}.dat`);
    fs.writeFileSync(f, `one more file ${r}\n`);
    execFileSync('sync');
    const res = runCli(base, ['import', 'F', f], { RCUREPO_TRACE: '1' });
    if (!/spare-taken/.test(res.stderr)) throw new Error(`files publish ${r} did not take the spare:\n${res.stderr}`);
    publish.push(res.seconds);
    execFileSync('sync');
    noop.push(runCli(base, ['import', 'F', f]).seconds);
  }
  say(`files ${m}: one-file publish with a spare ${s(median(publish))} vs cp -al ${s(median(cpal))} = ${(median(publish) / median(cpal)).toFixed(2)}x (target <= 0.8); no-op import ${s(median(noop))} (target < 0.2 s)`);
  fs.rmSync(work, { recursive: true, force: true });
}

async function uploads(u: number): Promise<void> {
  const work = path.join(tmpRoot, `uploads-${u}`);
  const base = path.join(work, 'base');
  const pkgDir = path.join(work, 'pkgs');
  const gen = generatePackages({ out: pkgDir, count: u, seed: `uploads-${u}` });
  const taken = new Set(gen.map((p) => p.name));
  initRepo(base, 'U', ['--format', 'eopkg'], [['gcAfterPublish', 'false']]);
  runCli(base, ['import', 'U', pkgDir]);
  const layout = new Layout(base);
  const inc = path.join(work, 'incoming');
  fs.mkdirSync(inc);
  const settle = String(arg('settle', 0.2));
  const watcher = spawn(process.execPath, [BIN, '--base', base, 'watch', '--incoming', inc, '--settle', settle, '--poll', '0.05'], { stdio: 'ignore' });
  try {
    const single: number[] = [];
    const burst: number[] = [];
    let lost = 0;
    let errors = 0;
    const publishes: number[] = [];
    for (let r = 0; r < Math.min(runs, 3); r++) {
      const batch = path.join(work, `batch-${r}`);
      fs.mkdirSync(batch);
      for (let k = 0; k < 50; k++) freshPackage(batch, taken, `single-${r}-${k}`);
      await spareReady(layout, 'U');
      execFileSync('sync');
      single.push(runCli(base, ['import', 'U', batch]).seconds);
      const ups = path.join(work, `ups-${r}`);
      fs.mkdirSync(ups);
      const upFiles = Array.from({ length: 50 }, (_, k) => freshPackage(ups, taken, `up-${r}-${k}`));
      await spareReady(layout, 'U');
      execFileSync('sync');
      const codes: number[] = [];
      const genBefore = (await readCurrent(layout.repo('U')))!;
      burst.push(
        await timeAsync(() =>
          Promise.all(
            upFiles.map(
              (f) =>
                new Promise<void>((resolve) => {
                  const p = spawn('sh', [path.join(ROOT, 'bin', 'rcurepo-upload'), '-q', '-r', 'U', '-t', '300', inc, f], { stdio: 'ignore' });
                  p.on('close', (code) => {
                    codes.push(code ?? 1);
                    resolve();
                  });
                }),
            ),
          ),
        ),
      );
      errors += codes.filter((c) => c !== 0).length;
      publishes.push((await readCurrent(layout.repo('U')))! - genBefore);
      const listed = new Set((await readManifest(layout.repo('U'), (await readCurrent(layout.repo('U')))!))!.map((e) => path.basename(e.path)));
      lost += upFiles.filter((f) => !listed.has(path.basename(f))).length;
    }
    say(`uploads into ${u}: 50 concurrent rcurepo-upload ${s(median(burst))} vs one 50-package import ${s(median(single))} = ${(median(burst) / median(single)).toFixed(2)}x (target <= 2); lost ${lost}, errors ${errors}; publishes per burst ${publishes.join(', ')} (watcher --settle ${settle})`);
  } finally {
    watcher.kill('SIGTERM');
  }
  fs.rmSync(work, { recursive: true, force: true });
}

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'bundle', 'main.cjs'))) execFileSync('npm', ['run', 'build'], { stdio: 'inherit' });
  say(`# publish latency bench — ${new Date().toISOString()}\n# ${machine()}\n# runs=${runs} (medians)`);
  try {
    if (only.has('bulk')) await bulk(arg('eopkg', 50000));
    if (only.has('eopkg')) await eopkg(arg('eopkg', 50000));
    if (only.has('files')) await files(arg('files', 100000));
    if (only.has('uploads')) await uploads(arg('uploads', 10000));
  } finally {
    fs.rmSync(tmpRoot, { recursive: true, force: true });
  }
}

await main();
