/**
 * Group-commit benchmark (issue 5): 50 concurrent `rcurepo import` processes of one eopkg package each
 * into a 10,000-package eopkg repository, against ONE `import` of the same number of packages in a single call,
 * measured in the same run. Target: concurrent wall time <= 3 x the single-call wall time.
 *
 *   npm run build && node --import tsx bench/group-commit.ts [--packages 10000] [--callers 50] [--rounds 3]
 *
 * Both sides spawn the real CLI, so both pay process start-up; the concurrent side pays it 50 times.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatePackages } from '../fixtures/gen-eopkg.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'rcurepo.js');

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const PACKAGES = arg('packages', 10_000);
const CALLERS = arg('callers', 50);
const ROUNDS = arg('rounds', 3);

function cli(base: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, '--base', base, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, out, err }));
  });
}

function nodeNothing(): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    c.on('error', reject);
    c.on('close', () => resolve());
  });
}

async function must(base: string, args: string[]): Promise<string> {
  const r = await cli(base, args);
  if (r.code !== 0) throw new Error(`rcurepo ${args.join(' ')} exited ${r.code}: ${r.err}`);
  return r.out;
}

/** Synthetic eopkg packages (fixtures/gen-eopkg.ts), distinct names per prefix. */
function makeFiles(dir: string, prefix: string, n: number): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const out: string[] = [];
  const seen = new Set<string>();
  for (let k = 0; out.length < n; k++) {
    for (const p of generatePackages({ count: n, seed: `${prefix}-${k}` })) {
      if (out.length >= n || seen.has(p.name) || taken.has(p.name)) continue;
      seen.add(p.name);
      taken.add(p.name);
      const f = path.join(dir, p.basename);
      fs.writeFileSync(f, p.bytes);
      out.push(f);
    }
  }
  return out;
}
/** Package names already used anywhere in this run: every import adds new packages. */
const taken = new Set<string>();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function generation(base: string): Promise<number> {
  const s = JSON.parse(await must(base, ['--json', 'list-repos'])) as Array<{ name: string; current: number }>;
  return s.find((r) => r.name === 'bench')!.current;
}

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rcurepo-bench-gc-'));
  const base = path.join(work, 'base');
  try {
    await must(base, ['init']);
    await must(base, ['create-repo', 'bench', '--format', 'eopkg']);
    await must(base, ['config', 'bench', 'gcAfterPublish', 'false']); // no background deletions mid-measurement
    makeFiles(path.join(work, 'seed'), 'seed', PACKAGES);
    let t = performance.now();
    await must(base, ['import', 'bench', path.join(work, 'seed')]);
    console.log(`setup: ${PACKAGES} packages imported in ${((performance.now() - t) / 1000).toFixed(2)} s`);

    // Start-up floors: the same number of concurrent CLI processes doing nothing but start and exit, and
    // of bare Node processes (what any Node CLI pays on this machine).
    t = performance.now();
    await Promise.all(Array.from({ length: CALLERS }, () => must(base, ['--version'])));
    const floor = performance.now() - t;
    console.log(`start-up floor: ${CALLERS} concurrent 'rcurepo --version' in ${(floor / 1000).toFixed(2)} s`);
    t = performance.now();
    await Promise.all(Array.from({ length: CALLERS }, () => nodeNothing()));
    const nodeFloor = performance.now() - t;
    console.log(`node floor: ${CALLERS} concurrent 'node -e 0' in ${(nodeFloor / 1000).toFixed(2)} s`);

    const single: number[] = [];
    const concurrent: number[] = [];
    const gens: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const dir1 = path.join(work, `single-${round}`);
      makeFiles(dir1, `single${round}`, CALLERS);
      t = performance.now();
      await must(base, ['import', 'bench', dir1]);
      single.push(performance.now() - t);

      const files = makeFiles(path.join(work, `conc-${round}`), `conc${round}`, CALLERS);
      const before = await generation(base);
      t = performance.now();
      const results = await Promise.all(files.map((f) => cli(base, ['import', 'bench', f])));
      concurrent.push(performance.now() - t);
      const failed = results.filter((r) => r.code !== 0);
      if (failed.length) throw new Error(`${failed.length} concurrent imports failed: exit ${failed[0]!.code} ${failed[0]!.err} ${failed[0]!.out}`);
      gens.push((await generation(base)) - before);
      console.log(`round ${round + 1}: single call ${(single[round]! / 1000).toFixed(2)} s, ${CALLERS} concurrent ${(concurrent[round]! / 1000).toFixed(2)} s in ${gens[round]} generation(s)`);
    }
    // The same burst through the resident watcher (`rcurepo watch`): each upload is a package and its
    // .tram manifest, as ferryd's build servers send; timed from the first upload to the last 'accepted'.
    const incoming = path.join(work, 'incoming');
    fs.mkdirSync(incoming);
    const watcher = spawn(process.execPath, [BIN, '--base', base, 'watch', '--incoming', incoming, '--settle', '0.2', '--poll', '0.05'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let accepted = 0;
    let onAccepted: (() => void) | undefined;
    let started: () => void = () => undefined;
    const ready = new Promise<void>((r) => (started = r));
    let buf = '';
    watcher.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.includes('"start"')) started();
        if (line.includes('"accepted"')) {
          accepted++;
          onAccepted?.();
        }
      }
    });
    const viaWatcher: number[] = [];
    try {
      await ready;
      for (let round = 0; round < ROUNDS; round++) {
        const files = makeFiles(path.join(work, `watch-src-${round}`), `watch${round}`, CALLERS);
        const want = accepted + files.length;
        const done = new Promise<void>((r) => (onAccepted = () => accepted >= want && r()));
        t = performance.now();
        for (const [i, f] of files.entries()) {
          const name = path.basename(f);
          const bytes = fs.readFileSync(f);
          fs.writeFileSync(path.join(incoming, `.${name}.part`), bytes);
          fs.renameSync(path.join(incoming, `.${name}.part`), path.join(incoming, name));
          const tram = `[manifest]\nversion = "1.0"\ntarget = "bench"\n\n[[file]]\npath = "${name}"\nsha256 = "${createHash('sha256').update(bytes).digest('hex')}"\n`;
          fs.writeFileSync(path.join(incoming, `.u${round}-${i}.tram.part`), tram);
          fs.renameSync(path.join(incoming, `.u${round}-${i}.tram.part`), path.join(incoming, `u${round}-${i}.tram`));
        }
        await done;
        viaWatcher.push(performance.now() - t);
        console.log(`watcher round ${round + 1}: ${CALLERS} uploads published in ${(viaWatcher[round]! / 1000).toFixed(2)} s`);
      }
    } finally {
      watcher.kill('SIGTERM');
    }

    const s = median(single);
    const c = median(concurrent);
    const w = median(viaWatcher);
    console.log('');
    console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${os.platform()} ${os.release()}, node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
    console.log(`repository: ${PACKAGES} packages; ${CALLERS} packages per round; ${ROUNDS} rounds`);
    console.log(`single call (${CALLERS} packages, 1 process): median ${(s / 1000).toFixed(2)} s`);
    console.log(`concurrent (${CALLERS} processes x 1 package): median ${(c / 1000).toFixed(2)} s, generations per round: ${gens.join(', ')}`);
    console.log(`ratio concurrent / single: ${(c / s).toFixed(2)} (target <= 3.00) ${c / s <= 3 ? 'PASS' : 'FAIL'}`);
    console.log(`start-up floor (${CALLERS} x 'rcurepo --version'): ${(floor / 1000).toFixed(2)} s; concurrent minus floor: ${((c - floor) / 1000).toFixed(2)} s = ${((c - floor) / s).toFixed(2)} x single`);
    console.log(`node floor (${CALLERS} x 'node -e 0'): ${(nodeFloor / 1000).toFixed(2)} s = ${(nodeFloor / s).toFixed(2)} x single`);
    console.log(`through the watcher (${CALLERS} uploads with manifests, settle 0.2 s): median ${(w / 1000).toFixed(2)} s = ${(w / s).toFixed(2)} x single`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

await main();
