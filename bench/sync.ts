/**
 * Issue 14 benchmark: `rcurepo sync` of a files-format upstream of N files served by a real rsync daemon
 * on 127.0.0.1, where U files (and SHA256SUMS) changed since the last sync, against the same update done
 * by hand in the same run: `rsync -a --link-dest=PREV` of the upstream into a fresh folder (PREV being
 * the previous hand copy), then `sha256sum --quiet -c SHA256SUMS` as the format check. Also the sync of
 * an unchanged upstream (the probe alone), next to `rcurepo --version` (the cost of starting any CLI call
 * at that moment). Targets: sync <= 2 x (rsync + check); no-change sync < 1 s.
 *
 *   npm run build && node --import tsx bench/sync.ts [--sizes=10000,50000] [--changes=100] [--runs=5] [--keep]
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { initRepo, machine, median, runCli, runsFromArgs, sizesFromArgs, timeIt } from './lib.js';

const sizes = sizesFromArgs([50_000]);
const runs = runsFromArgs(5);
const changes = Number(process.argv.find((a) => a.startsWith('--changes='))?.slice(10) ?? '100');
const keep = process.argv.includes('--keep');

const sha = (b: string) => createHash('sha256').update(b).digest('hex');
const fileName = (i: number) => `d${String(Math.floor(i / 100)).padStart(4, '0')}/file-${i}.dat`;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

async function rsyncd(dir: string, upstream: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const conf = path.join(dir, 'rsyncd.conf');
  fs.writeFileSync(conf, `use chroot = no\nread only = yes\n[up]\n    path = ${upstream}\n`);
  const proc = spawn('rsync', ['--daemon', '--no-detach', `--config=${conf}`, `--port=${port}`, '--address=127.0.0.1'], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((r) => net.connect(port, '127.0.0.1', function (this: net.Socket) { this.destroy(); r(true); }).once('error', () => r(false)));
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `rsync://127.0.0.1:${port}/up`, proc };
}

function sh(cmd: string, args: string[], cwd?: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

const syncFs = () => spawnSync('sync');

console.log(`# upstream sync benchmark, ${new Date().toISOString()}\n# ${machine()}\n# runs per figure: ${runs} (medians), ${changes} changed files per run, upstream served by rsync --daemon on 127.0.0.1`);
console.log('files\trsync_s\tcheck_s\thand_s\tsync_s\tsync/hand\tsync/rsync\tnochange_s\tversion_s\tsync_RSS_MB\tfirst_sync_s');

for (const n of sizes) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rcurepo-sync-bench-'));
  const up = path.join(work, 'upstream');
  const hashes = new Map<string, string>();
  const write = (i: number, salt: string) => {
    const body = `${salt}file ${i} `.repeat(20);
    fs.writeFileSync(path.join(up, fileName(i)), body);
    hashes.set(fileName(i), sha(body));
  };
  const writeSums = () => {
    const lines = [...hashes.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([p, h]) => `${h}  ${p}\n`);
    fs.writeFileSync(path.join(up, 'SHA256SUMS'), lines.join(''));
  };
  for (let i = 0; i < n; i++) {
    if (i % 100 === 0) fs.mkdirSync(path.join(up, path.dirname(fileName(i))), { recursive: true });
    write(i, '');
  }
  writeSums();
  const d = await rsyncd(work, up);
  try {
    const base = path.join(work, 'base');
    initRepo(base, 'mir', ['--upstream', d.url], [['gcAfterPublish', 'false']]);
    syncFs();
    const first = runCli(base, ['sync', 'mir']);
    // The hand-kept mirror: a chain of rsync -a copies, each linked to the one before.
    const hand = path.join(work, 'hand');
    fs.mkdirSync(hand);
    sh('rsync', ['-a', `${d.url}/`, path.join(hand, '0') + '/']);
    const figures: Array<{ rsync: number; check: number; sync: number; rss: number; nochange: number; version: number }> = [];
    for (let run = 1; run <= runs; run++) {
      for (let k = 0; k < changes; k++) write(Math.floor(((run * 7919 + k * 104729) % n)), `run ${run} `);
      writeSums();
      syncFs();
      let rsyncS = 0;
      let checkS = 0;
      let syncS = 0;
      let rss = 0;
      const byHand = () => {
        const dest = path.join(hand, String(run));
        rsyncS = timeIt(() => sh('rsync', ['-a', `--link-dest=${path.join(hand, String(run - 1))}`, `${d.url}/`, dest + '/']));
        checkS = timeIt(() => sh('sha256sum', ['--quiet', '--strict', '-c', 'SHA256SUMS'], dest));
      };
      const bySync = () => {
        const r = runCli(base, ['sync', 'mir', '--json']);
        const j = JSON.parse(r.stdout) as { published: boolean; replaced: number };
        if (!j.published || j.replaced < changes / 2) throw new Error(`sync did not publish the change: ${r.stdout}`);
        syncS = r.seconds;
        rss = r.maxRssMb;
      };
      // Alternate which goes first: the second profits from a warm upstream page cache.
      if (run % 2) {
        byHand();
        syncFs();
        bySync();
      } else {
        bySync();
        syncFs();
        byHand();
      }
      syncFs();
      // The floor of any CLI call on this machine right now: starting Node and the bundle.
      const version = runCli(base, ['--version']).seconds;
      const nc = runCli(base, ['sync', 'mir', '--json']);
      if ((JSON.parse(nc.stdout) as { probe: string }).probe !== 'unchanged') throw new Error(`no-change sync was not decided by the probe: ${nc.stdout}`);
      figures.push({ rsync: rsyncS, check: checkS, sync: syncS, rss, nochange: nc.seconds, version });
      console.error(`  run ${run}: rsync ${rsyncS.toFixed(2)} s + check ${checkS.toFixed(2)} s, sync ${syncS.toFixed(2)} s, no-change ${nc.seconds.toFixed(2)} s (--version ${version.toFixed(2)} s)`);
    }
    const m = (f: (x: (typeof figures)[number]) => number) => median(figures.map(f));
    const handS = m((x) => x.rsync + x.check);
    console.log([n, m((x) => x.rsync).toFixed(2), m((x) => x.check).toFixed(2), handS.toFixed(2), m((x) => x.sync).toFixed(2), (m((x) => x.sync) / handS).toFixed(2), (m((x) => x.sync) / m((x) => x.rsync)).toFixed(2), m((x) => x.nochange).toFixed(2), m((x) => x.version).toFixed(2), m((x) => x.rss).toFixed(0), first.seconds.toFixed(1)].join('\t'));
  } finally {
    d.proc.kill('SIGTERM');
    if (!keep) fs.rmSync(work, { recursive: true, force: true });
    else console.log(`# kept ${work}`);
  }
}
