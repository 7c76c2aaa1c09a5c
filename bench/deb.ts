/**
 * deb publishing through the real CLI against aptly and reprepro on the same generated .deb files
 * (fixtures/gen-deb.ts), in one run:
 *   - bulk import of N packages: rcurepo `import` vs `aptly repo add` + `aptly publish repo` and reprepro
 *     `includedeb` (target: >= 2 x faster than aptly);
 *   - add one package and publish (gz + xz + by-hash + signing when gpg is present), each with the
 *     previous publish's spare clone ready: median vs
 *     `aptly publish update` (target >= 5 x faster; <= 0.5 s) and reprepro `includedeb` exporting `. .gz .xz`;
 *     The same through a resident watcher: bin/rcurepo-upload (no Node start per call) into `rcurepo watch`
 *     with its default --settle and --poll, timed from the client's start to its verdict;
 *   - no-op import (the same file again): target < 0.2 s;
 *   - at the larger size: one-package publish vs `cp -al` of the snapshot tree (<= 1.5 x), peak RSS (<= 256 MB).
 *
 *   npm run build && node --import tsx bench/deb.ts [--sizes=10000,50000] [--runs=5] [--anchors-max=10000] [--no-anchors]
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateDebs, makeDeb } from '../fixtures/gen-deb.js';
import { Layout } from '../src/engine/layout.js';
import { BIN, initRepo, machine, median, ROOT, runCli, runsFromArgs, s, sizesFromArgs, spareReady } from './lib.js';

const sizes = sizesFromArgs([10000, 50000]);
const runs = runsFromArgs(5);
const anchorsMax = Number(process.argv.find((a) => a.startsWith('--anchors-max='))?.slice(14) ?? '10000');
const noAnchors = process.argv.includes('--no-anchors');
const tmpRoot = fs.mkdtempSync(path.join(process.env.BENCH_TMP ?? os.tmpdir(), 'deb-bench-'));

function timed(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 4).join(' ')} failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t) / 1e9;
}
const has = (cmd: string, args = ['--version']): boolean => spawnSync(cmd, args).status === 0;

/** One package new to the repository (so each publish adds exactly one file). */
function fresh(dir: string, i: number): string {
  const name = `benchextra${i}`;
  const f = path.join(dir, `${name}_1.0-1_amd64.deb`);
  fs.writeFileSync(f, makeDeb(`Package: ${name}\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: B <b@example.invalid>\nSection: utils\nPriority: optional\nDescription: bench package ${i}\n`, { docName: name }));
  return f;
}

function throwawayKey(dir: string): { home: string; fpr: string } | undefined {
  if (!has('gpg')) return undefined;
  const home = path.join(dir, 'gnupg');
  fs.mkdirSync(home, { mode: 0o700 });
  const r = spawnSync('gpg', ['--homedir', home, '--batch', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', '', '--status-fd', '1', '--quick-gen-key', 'Bench <b@example.invalid>', 'ed25519', 'sign', 'never']);
  if (r.status !== 0) return undefined;
  const line = r.stdout.toString().split('\n').find((l) => l.startsWith('[GNUPG:] KEY_CREATED '))!;
  return { home, fpr: line.split(' ')[3]!.trim() };
}

/**
 * One-package publishes through `rcurepo watch` and bin/rcurepo-upload, each into a repository at rest
 * (spare ready), timed from the client's start to its exit (it exits on the watcher's verdict).
 */
async function throughWatcher(base: string, dir: string, extra: string): Promise<number[]> {
  const incoming = path.join(dir, 'incoming');
  fs.mkdirSync(incoming, { recursive: true });
  const w = spawn(process.execPath, [BIN, '--base', base, 'watch', '--incoming', incoming], { stdio: ['ignore', 'pipe', 'inherit'] });
  const killWatcher = () => w.kill('SIGKILL');
  process.once('exit', killWatcher);
  let out = '';
  w.stdout.on('data', (d) => (out += d));
  try {
    for (let t = 0; !out.includes('"event":"start"'); t++) {
      if (t > 600 || w.exitCode !== null) throw new Error(`the watcher did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const f = fresh(extra, 300 + i);
      await spareReady(new Layout(base), 'apt');
      spawnSync('sync');
      times.push(timed('sh', [path.join(ROOT, 'bin', 'rcurepo-upload'), '-r', 'apt', '-q', incoming, f]));
    }
    return times;
  } finally {
    w.kill('SIGTERM');
    await new Promise((r) => (w.exitCode !== null ? r(undefined) : w.once('exit', r)));
    process.removeListener('exit', killWatcher);
  }
}

async function main(): Promise<void> {
  console.log(`deb bench: ${machine()}; runs=${runs}`);
  const key = throwawayKey(tmpRoot);
  for (const n of sizes) {
    const dir = path.join(tmpRoot, `n${n}`);
    const input = path.join(dir, 'in');
    const extra = path.join(dir, 'extra');
    fs.mkdirSync(extra, { recursive: true });
    const t0 = Date.now();
    const debs = generateDebs({ out: input, count: n, seed: `bench-${n}`, archs: ['amd64'], control: 'xz' });
    const files = debs.map((d) => path.join(input, d.file));
    console.log(`\n== ${n} packages (${debs.length} files, generated in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    // ---- rcurepo
    const base = path.join(dir, 'rcurepo');
    initRepo(base, 'apt', ['--format', 'deb', '--dist', 'bench', '--architectures', 'amd64'], [['gcAfterPublish', 'false']]);
    if (key) {
      runCli(base, ['config', 'apt', 'signGnupgHome', key.home]);
      runCli(base, ['config', 'apt', 'signKeys', key.fpr]);
    }
    spawnSync('sync');
    const bulk = runCli(base, ['import', 'apt', input]);
    console.log(`rcurepo bulk import: ${s(bulk.seconds)}, peak RSS ${bulk.maxRssMb.toFixed(0)} MB${key ? ' (signed)' : ' (UNSIGNED: gpg missing)'}`);
    const one: number[] = [];
    const rss: number[] = [];
    const noop: number[] = [];
    const cp: number[] = [];
    let last = '';
    const waits: number[] = [];
    for (let i = 0; i < runs; i++) {
      const f = fresh(extra, i);
      // A publish into a repository at rest: the background work of the previous one (its spare and
      // twin clones) is done, as it is on a repository that is not receiving a burst.
      waits.push(await spareReady(new Layout(base), 'apt'));
      spawnSync('sync');
      const r = runCli(base, ['import', 'apt', f]);
      one.push(r.seconds);
      rss.push(r.maxRssMb);
      last = f;
      noop.push(runCli(base, ['import', 'apt', last]).seconds);
      const snap = fs.realpathSync(path.join(base, 'repos/apt/current'));
      const dst = path.join(dir, `cp-${i}`);
      spawnSync('sync');
      cp.push(timed('cp', ['-al', snap, dst]));
      fs.rmSync(dst, { recursive: true, force: true });
    }
    const oneM = median(one);
    console.log(`rcurepo add 1 + publish, spare ready: median ${s(oneM)} (runs ${one.map((x) => x.toFixed(2)).join(', ')}), peak RSS ${Math.max(...rss).toFixed(0)} MB; waited for the spare ${waits.map((x) => x.toFixed(2)).join(', ')} s before them`);
    console.log(`rcurepo no-op import: median ${s(median(noop))}`);
    console.log(`cp -al of the snapshot: median ${s(median(cp))}; one-package publish = ${(oneM / median(cp)).toFixed(2)} x cp -al`);
    const uploaded = await throughWatcher(base, dir, extra);
    const upM = median(uploaded);
    console.log(`rcurepo-upload into a running watcher (add 1 + publish + verdict), spare ready: median ${s(upM)} (runs ${uploaded.map((x) => x.toFixed(2)).join(', ')})`);
    if (noAnchors || n > anchorsMax) continue;
    // ---- aptly (no signing: -skip-signing; it would only add time to aptly)
    if (has('aptly', ['version'])) {
      const root = path.join(dir, 'aptly');
      const conf = path.join(dir, 'aptly.conf');
      fs.writeFileSync(conf, JSON.stringify({ rootDir: root, architectures: ['amd64'], gpgDisableSign: true, gpgDisableVerify: true }));
      const a = (args: string[]) => timed('aptly', [`-config=${conf}`, ...args]);
      a(['repo', 'create', '-distribution=bench', '-component=main', 'r']);
      spawnSync('sync');
      const add = a(['repo', 'add', 'r', input]);
      const pub = a(['publish', 'repo', '-skip-signing', '-architectures=amd64', 'r']);
      console.log(`aptly bulk: repo add ${s(add)} + publish ${s(pub)} = ${s(add + pub)}; rcurepo is ${((add + pub) / bulk.seconds).toFixed(2)} x faster`);
      const upd: number[] = [];
      for (let i = 0; i < runs; i++) {
        const f = fresh(extra, 100 + i);
        a(['repo', 'add', 'r', f]);
        spawnSync('sync');
        upd.push(a(['publish', 'update', '-skip-signing', 'bench']));
      }
      console.log(`aptly publish update (add 1): median ${s(median(upd))}; rcurepo add 1 + publish is ${(median(upd) / oneM).toFixed(2)} x faster (import), ${(median(upd) / upM).toFixed(2)} x (rcurepo-upload + watch)`);
    } else console.log('aptly not installed: skipped');
    // ---- reprepro exporting . .gz .xz
    if (has('reprepro')) {
      const rb = path.join(dir, 'reprepro');
      fs.mkdirSync(path.join(rb, 'conf'), { recursive: true });
      fs.writeFileSync(path.join(rb, 'conf/distributions'), 'Codename: bench\nArchitectures: amd64\nComponents: main\nDebIndices: Packages Release . .gz .xz\n');
      fs.writeFileSync(path.join(rb, 'conf/options'), 'basedir ' + rb + '\n');
      spawnSync('sync');
      const bulkR = timed('reprepro', ['-b', rb, 'includedeb', 'bench', ...files]);
      console.log(`reprepro bulk includedeb (. .gz .xz): ${s(bulkR)}; rcurepo is ${(bulkR / bulk.seconds).toFixed(2)} x faster`);
      const upd: number[] = [];
      for (let i = 0; i < runs; i++) {
        const f = fresh(extra, 200 + i);
        spawnSync('sync');
        upd.push(timed('reprepro', ['-b', rb, 'includedeb', 'bench', f]));
      }
      console.log(`reprepro includedeb (add 1, export . .gz .xz): median ${s(median(upd))}; rcurepo is ${(median(upd) / oneM).toFixed(2)} x faster (import), ${(median(upd) / upM).toFixed(2)} x (rcurepo-upload + watch)`);
    } else console.log('reprepro not installed: skipped');
  }
  if (key) spawnSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: key.home } });
  fs.rmSync(tmpRoot, { recursive: true, force: true });
}

await main();
