/**
 * Issue 15 benchmark: delta packages made by `rcurepo deltas`, through the real CLI.
 *
 * 1. One pair with ~100 MiB of payload (about half text-like, half incompressible; install.tar.xz really
 *    compressed) where 10% of the files changed: the command's wall time against `xz -6` over a tar of the
 *    changed files alone, measured in the same run (target <= 1.5 x), and the command's peak RSS (target
 *    <= 256 MB). Each run starts from a fresh repository and an empty pair cache, so the delta is computed.
 * 2. The time to make every delta of a 1,000-package update of a 10,000-package repository (small payloads).
 *
 * CPU seconds (user + system, the command's children included) are reported beside wall times: on a
 * shared machine they say more than wall times about the work done.
 *
 *   npm run build && node --import tsx bench/deltas.ts [--runs=3] [--files=1000] [--mean-kib=100] [--repo=10000] [--updates=1000] [--payload-kib=32] [--skip-big] [--skip-repo] [--pair-dir=DIR]
 *
 * --pair-dir keeps the generated pair (two packages and changed.tar) in DIR and reuses it on the next run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generatePair } from '../fixtures/gen-eopkg-pairs.js';
import { tar } from '../fixtures/archives.js';
import { entryHash, generatePackages } from '../fixtures/gen-eopkg.js';
import { BIN, machine, median, oldAndNewBuilds, runCli, runsFromArgs } from './lib.js';

const runs = runsFromArgs(3);
const num = (flag: string, def: number) => Number(process.argv.find((a) => a.startsWith(`--${flag}=`))?.slice(flag.length + 3) ?? def);
const files = num('files', 1000);
const meanKiB = num('mean-kib', 100);
const repoSize = num('repo', 10_000);
const updates = num('updates', 1000);
const payloadKiB = num('payload-kib', 32);
const pairDir = process.argv.find((a) => a.startsWith('--pair-dir='))?.slice(11);

/** Wall seconds, CPU seconds (user + sys, waited-for children included) and peak RSS of one command. */
function measured(cmd: string, args: string[]): { wall: number; cpu: number; rssMb: number; stdout: string } {
  const t = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', 'RSS_KB=%M CPU=%U %S', cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const wall = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  const m = /RSS_KB=(\d+) CPU=([\d.]+) ([\d.]+)/.exec(r.stderr)!;
  return { wall, cpu: Number(m[2]) + Number(m[3]), rssMb: Number(m[1]) / 1024, stdout: r.stdout };
}

/** Forget every pair decision, so the next `deltas` computes again (the pool-level cache is pool/meta/*.delta-from-*). */
function clearPairCache(base: string): number {
  let n = 0;
  const meta = path.join(base, 'pool/meta');
  for (const pre of fs.existsSync(meta) ? fs.readdirSync(meta) : []) {
    for (const f of fs.readdirSync(path.join(meta, pre))) {
      if (f.includes('.delta-from-')) {
        fs.rmSync(path.join(meta, pre, f));
        n++;
      }
    }
  }
  return n;
}

function cli(base: string, args: string[]): void {
  execFileSync(process.execPath, [BIN, '--base', base, ...args], { stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 1 << 28 });
}

console.log(`# deltas benchmark, ${new Date().toISOString()}\n# ${machine()}\n# runs per figure: ${runs} (medians)`);

if (!process.argv.includes('--skip-big')) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rcurepo-deltas-'));
  try {
    const t0 = Date.now();
    let oldFile: string;
    let newFile: string;
    let changedTar: string;
    const kept = pairDir && fs.existsSync(path.join(pairDir, 'changed.tar')) ? fs.readdirSync(pairDir).filter((f) => f.endsWith('.eopkg')).sort() : [];
    if (kept.length === 2) {
      // Kept from an earlier run: same options, same bytes (the generator is deterministic).
      [oldFile, newFile] = kept.map((f) => path.join(pairDir!, f)) as [string, string];
      changedTar = path.join(pairDir!, 'changed.tar');
      console.log(`# pair kept in ${pairDir}: packages ${(fs.statSync(oldFile).size / 2 ** 20).toFixed(1)} / ${(fs.statSync(newFile).size / 2 ** 20).toFixed(1)} MiB, changed files ${(fs.statSync(changedTar).size / 2 ** 20).toFixed(1)} MiB as tar`);
    } else {
      const out = pairDir ?? path.join(work, 'pkgs');
      const pair = generatePair({ seed: 'bench', name: 'bigpkg', files, meanSize: meanKiB * 1024, changedFraction: 0.1, compress: 'xz', out });
      const payload = pair.new.entries.reduce((s, e) => s + e.content.length, 0);
      // The baseline's input: exactly the entries the delta carries, as a tar.
      const oldHashes = new Set(pair.old.entries.map(entryHash));
      const changed = pair.new.entries.filter((e) => !oldHashes.has(entryHash(e)));
      changedTar = path.join(out, 'changed.tar');
      fs.writeFileSync(changedTar, tar(changed, 0));
      [oldFile, newFile] = [pair.old.file!, pair.new.file!];
      console.log(`# pair: ${files} files, ${(payload / 2 ** 20).toFixed(1)} MiB payload, ${changed.length} changed (${(fs.statSync(changedTar).size / 2 ** 20).toFixed(1)} MiB as tar); packages ${(pair.old.bytes.length / 2 ** 20).toFixed(1)} / ${(pair.new.bytes.length / 2 ** 20).toFixed(1)} MiB; generated in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    const base = path.join(work, 'base');
    cli(base, ['init']);
    console.log('run\txz6_s\tmake_s\tmake/xz6\tcommand_s\tcommand/xz6\txz6_cpu_s\tcommand_cpu_s\tcpu_ratio\tRSS_MB\tdelta_bytes');
    const rows: number[][] = [];
    for (let i = 0; i < runs; i++) {
      const repo = `r${i}`;
      cli(base, ['create-repo', repo, '--format', 'eopkg']);
      cli(base, ['import', repo, oldFile, newFile]);
      clearPairCache(base);
      execFileSync('sync');
      const x = measured('sh', ['-c', `xz -6 -T1 -c '${changedTar}' > /dev/null`]);
      const d = measured(process.execPath, [BIN, '--base', base, '--json', 'deltas', repo]);
      const out = JSON.parse(d.stdout) as { counts: { made: number }; deltas: Array<{ size?: number }>; seconds: { make: number } };
      if (out.counts.made !== 1) throw new Error(`expected one delta made: ${d.stdout}`);
      const m = out.seconds.make;
      const row = [x.wall, m, m / x.wall, d.wall, d.wall / x.wall, x.cpu, d.cpu, d.cpu / x.cpu, d.rssMb];
      rows.push(row);
      console.log(`${i + 1}\t${row.map((v) => v.toFixed(2)).join('\t')}\t${out.deltas[0]!.size}`);
    }
    const col = (k: number) => median(rows.map((r) => r[k]!));
    console.log(`median\t${[0, 1, 2, 3, 4, 5, 6, 7].map((k) => col(k).toFixed(2)).join('\t')}\t${Math.max(...rows.map((r) => r[8]!)).toFixed(0)} (max)`);
  } finally {
    // Background reactions of the last publishes (spare clone, gc) may still be writing: retry.
    fs.rmSync(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 300 });
  }
}

if (!process.argv.includes('--skip-repo')) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rcurepo-deltas-repo-'));
  try {
    const all = generatePackages({ count: repoSize, seed: `deltas-${repoSize}`, buildsPerName: 2, payloadKiB });
    const { oldDir, newDir, updated: u } = oldAndNewBuilds(work, all, updates);
    const base = path.join(work, 'base');
    cli(base, ['init']);
    cli(base, ['create-repo', 'src', '--format', 'eopkg']);
    cli(base, ['import', 'src', oldDir]);
    cli(base, ['import', 'src', newDir]);
    console.log(`# repository: ${repoSize} packages, ${u} updated (main packages carry ~${payloadKiB} KiB of incompressible payload each; -devel and -dbginfo change every file, so no delta)`);
    console.log('run\tcommand_s\tmake_s\tper_update_ms\tRSS_MB\tmade\tpointless');
    const ds: number[] = [];
    for (let i = 0; i < runs; i++) {
      const repo = `c${i}`;
      cli(base, ['clone', 'src', repo, '--full']);
      clearPairCache(base);
      execFileSync('sync');
      const d = runCli(base, ['--json', 'deltas', repo]);
      const out = JSON.parse(d.stdout) as { counts: { made: number; pointless: number }; seconds: { make: number } };
      ds.push(d.seconds);
      console.log(`${i + 1}\t${d.seconds.toFixed(2)}\t${out.seconds.make.toFixed(2)}\t${((d.seconds * 1000) / u).toFixed(1)}\t${d.maxRssMb.toFixed(0)}\t${out.counts.made}\t${out.counts.pointless}`);
    }
    console.log(`median\t${median(ds).toFixed(2)}`);
  } finally {
    // Background reactions of the last publishes (spare clone, gc) may still be writing: retry.
    fs.rmSync(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 300 });
  }
}
