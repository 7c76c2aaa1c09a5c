/**
 * HTTP serving: `rcurepo serve --workers N` vs nginx `worker_processes N` (N = 1 and 2) on the same
 * snapshot, same wrk load (-t1 -c32), same run, while the repository publishes 5 times a second. Small
 * (1 KiB) and large (1 MiB) files, plus large files through the streaming path (no in-memory copy).
 * Prints medians of RUNS runs per server and the ratio, the machine and the load average. The metrics
 * endpoint is always on (every response is counted); the bench scrapes it during the load.
 * Then a listing of a folder of LISTING_ENTRIES (50,000) files: time to the first byte and to the last,
 * rcurepo's HTML and JSON listings against nginx autoindex of the same folder.
 * Run: npm run build && node --import tsx bench/serve.ts [seconds] [runs] [--workers=1,2] [--listing-only|--small-only]
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { importFiles } from '../src/commands/import.js';
import { machine, median } from './lib.js';

const SECONDS = Number(process.argv[2] ?? 5);
const RUNS = Number(process.argv[3] ?? 3);
const BIN = path.resolve(import.meta.dirname, '..', 'bin', 'rcurepo.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rcurepo-bench-serve-'));
const base = path.join(dir, 'base');
const cli = (...a: string[]) => execFileSync(process.execPath, [BIN, '--base', base, ...a], { stdio: 'pipe' });

const port = () =>
  new Promise<number>((r) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => r(p));
    });
  });
const waitPort = async (p: number) => {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((r) => net.connect(p, '127.0.0.1', function (this: net.Socket) { this.destroy(); r(true); }).once('error', () => r(false)));
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${p} never opened`);
};

cli('init');
cli('create-repo', 'r');
const src = path.join(dir, 'src');
for (let i = 0; i < 200; i++) fs.mkdirSync(path.join(src, 'small'), { recursive: true }), fs.writeFileSync(path.join(src, 'small', `s${i}.eopkg`), randomBytes(1024));
for (let i = 0; i < 10; i++) fs.mkdirSync(path.join(src, 'large'), { recursive: true }), fs.writeFileSync(path.join(src, 'large', `l${i}.eopkg`), randomBytes(1 << 20));
cli('import', 'r', src);
cli('config', 'r', 'gcAfterPublish', 'false');

// A second repository with one folder of 50,000 files, for the listing timings.
const LISTING_ENTRIES = 50_000;
const bigSrc = path.join(dir, 'bigsrc', 'pkgs');
fs.mkdirSync(bigSrc, { recursive: true });
for (let i = 0; i < LISTING_ENTRIES; i++) fs.writeFileSync(path.join(bigSrc, `package-${String(i).padStart(5, '0')}-1.0-1-1-x86_64.eopkg`), `p${i}\n`);
cli('create-repo', 'big');
cli('config', 'big', 'gcAfterPublish', 'false');
await importFiles({ base, repo: 'big', paths: [path.dirname(bigSrc)], cwd: dir });
fs.rmSync(path.dirname(bigSrc), { recursive: true, force: true });
const LISTING_ONLY = process.argv.includes('--listing-only');
/** Only the 1 KiB rows (and the listing): a short check of the small-file path. */
const SMALL_ONLY = process.argv.includes('--small-only');

/** Milliseconds to the first byte and to the end of a GET on a fresh connection. */
function timedGet(p: number, urlPath: string, headers: string[] = []): Promise<{ firstMs: number; totalMs: number; bytes: number; status: number }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(p, '127.0.0.1');
    let t0 = 0;
    let first = 0;
    let bytes = 0;
    let head = '';
    s.on('connect', () => {
      t0 = performance.now();
      s.write(`GET ${urlPath} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`);
    });
    s.on('data', (d: Buffer) => {
      if (!first) first = performance.now();
      if (head.length < 64) head += d.subarray(0, 64).toString('latin1');
      bytes += d.length;
    });
    s.on('error', reject);
    s.on('close', () => resolve({ firstMs: first - t0, totalMs: performance.now() - t0, bytes, status: Number(head.split(' ')[1]) }));
  });
}

/** Worker process counts compared: rcurepo --workers N against nginx worker_processes N. */
const WORKERS = (process.argv.find((a) => a.startsWith('--workers='))?.slice(10) ?? '1,2').split(',').map(Number);
const children: ChildProcess[] = [];
const rcuPorts = new Map<string, number>();
const ngxPorts = new Map<number, number>();
/** rcurepo with N processes; N > 1 spreads connections round robin (wrk has one client address). */
async function startRcu(key: string, n: number, extra: string[] = []): Promise<void> {
  const p = await port();
  const args = [BIN, '--base', base, 'serve', '--listen', `127.0.0.1:${p}`, '--access-log', path.join(dir, `rcurepo-${key}-access.log`), ...extra];
  if (n > 1) args.push('--workers', String(n), '--balance', 'connection');
  children.push(spawn(process.execPath, args, { stdio: 'ignore' }));
  rcuPorts.set(key, p);
}
async function startNginx(n: number): Promise<void> {
  const p = await port();
  const conf = path.join(dir, `nginx-${n}.conf`);
  fs.writeFileSync(conf, `daemon off;\nuser root;\nworker_processes ${n};\npid ${dir}/nginx-${n}.pid;\nerror_log ${dir}/nginx-${n}-error.log;\nevents { worker_connections 1024; }\nhttp {\n  access_log ${dir}/nginx-${n}-access.log;\n  sendfile on;\n  server {\n    listen 127.0.0.1:${p};\n    location /r/ { alias ${base}/repos/r/current/; etag on; }
    location /big/ { alias ${base}/repos/big/current/; autoindex on; }\n  }\n}\n`);
  children.push(spawn('/usr/sbin/nginx', ['-c', conf, '-p', dir], { stdio: 'ignore' }));
  ngxPorts.set(n, p);
}
for (const n of LISTING_ONLY ? [1] : WORKERS) {
  await startRcu(`w${n}`, n);
  await startNginx(n);
}
// The streaming path (no in-memory copies), one process: what a file above the cache limit costs.
await startRcu('w1-nocache', 1, ['--cache-mb', '0']);
for (const p of [...rcuPorts.values(), ...ngxPorts.values()]) await waitPort(p);

// Publisher: 5 publishes a second for the whole benchmark.
let publishing = true;
let published = 0;
const pubDir = path.join(dir, 'pub');
fs.mkdirSync(pubDir);
const publisher = (async () => {
  while (publishing) {
    const t = Date.now();
    fs.writeFileSync(path.join(pubDir, 'stamp.txt'), `${t} ${published}\n`);
    await importFiles({ base, repo: 'r', paths: [pubDir], cwd: dir, replace: true });
    published++;
    await new Promise((r) => setTimeout(r, Math.max(0, 200 - (Date.now() - t))));
  }
})();

// Async: a blocking call would stall the in-process publisher.
async function wrk(url: string): Promise<{ rps: number; p99ms: number; errors: number }> {
  const { stdout: out } = await promisify(execFile)('wrk', ['-t1', '-c32', `-d${SECONDS}s`, '--latency', url], { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([0-9.]+)/.exec(out)![1]);
  const m = /99%\s+([0-9.]+)(us|ms|s)/.exec(out)!;
  const p99ms = Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
  const errs = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return { rps, p99ms, errors: Number(errs?.[1] ?? 0) + (sock ? Number(sock[1]) + Number(sock[2]) + Number(sock[3]) + Number(sock[4]) : 0) };
}

type Run = { rps: number; p99ms: number; errors: number };
console.log(machine());
console.log(`load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} at start; medians of ${RUNS} runs x ${SECONDS} s, wrk -t1 -c32, servers measured alternately, publishing 5/s`);
try {
  // Listing of the 50,000-entry folder: several runs each, servers alternately, medians.
  {
    const LRUNS = Math.max(RUNS, 5);
    const rcuPort = rcuPorts.get('w1')!;
    const ngxPort = ngxPorts.get(1)!;
    await timedGet(rcuPort, '/big/pkgs/'); // lease and directory cache warm, like nginx's first request below
    await timedGet(ngxPort, '/big/pkgs/');
    const res: Record<string, Array<{ firstMs: number; totalMs: number; bytes: number; status: number }>> = { html: [], json: [], nginx: [] };
    for (let r = 0; r < LRUNS; r++) {
      res.nginx!.push(await timedGet(ngxPort, '/big/pkgs/'));
      res.html!.push(await timedGet(rcuPort, '/big/pkgs/'));
      res.json!.push(await timedGet(rcuPort, '/big/pkgs/', ['Accept: application/json']));
    }
    console.log(`\nlisting of a folder of ${LISTING_ENTRIES} files, medians of ${LRUNS} runs (fresh connection each), publishing 5/s into another repository`);
    console.log('| server | first byte ms | complete ms | bytes | status | target |');
    console.log('|---|---|---|---|---|---|');
    for (const [k, label] of [['html', 'rcurepo HTML'], ['json', 'rcurepo JSON'], ['nginx', 'nginx autoindex (names, sizes, dates)']] as const) {
      const xs = res[k]!;
      console.log(`| ${label} | ${median(xs.map((x) => x.firstMs)).toFixed(1)} | ${median(xs.map((x) => x.totalMs)).toFixed(1)} | ${median(xs.map((x) => x.bytes))} | ${xs.map((x) => x.status).join(',')} | ${k === 'nginx' ? 'baseline' : 'first byte < 200 ms'} |`);
    }
    console.log('');
  }
  console.log('| files | processes | rcurepo req/s | p99 ms | errors | nginx req/s | p99 ms | errors | ratio | paired ratio | runs (rcurepo / nginx req/s) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  // The scrape goes to the server being measured (with --workers, to one of its workers), as Prometheus would.
  const scrape = async (key: string) => (await timedGet(rcuPorts.get(key)!, '/metrics')).status;
  const rows: Array<[string, string, string, number]> = [];
  for (const n of LISTING_ONLY ? [] : WORKERS) {
    rows.push(['small 1 KiB', 'small/s7.eopkg', `w${n}`, n]);
    if (!SMALL_ONLY) rows.push(['large 1 MiB', 'large/l3.eopkg', `w${n}`, n]);
  }
  if (!LISTING_ONLY && !SMALL_ONLY) rows.push(['large 1 MiB, --cache-mb 0 (streamed)', 'large/l3.eopkg', 'w1-nocache', 1]);
  for (const [label, p, key, n] of rows) {
    const res: { rcurepo: Run[]; nginx: Run[] } = { rcurepo: [], nginx: [] };
    for (let r = 0; r < RUNS; r++) {
      res.nginx.push(await wrk(`http://127.0.0.1:${ngxPorts.get(n)}/r/${p}`));
      // A Prometheus scrape in the middle of the load, as a server with metrics on would see.
      const scraped = new Promise((r) => setTimeout(r, (SECONDS * 1000) / 2)).then(() => scrape(key));
      res.rcurepo.push(await wrk(`http://127.0.0.1:${rcuPorts.get(key)}/r/${p}`));
      if ((await scraped) !== 200) throw new Error('metrics scrape failed');
    }
    const s = (xs: Run[]) => ({ rps: median(xs.map((x) => x.rps)), p99: median(xs.map((x) => x.p99ms)), errors: xs.reduce((a, x) => a + x.errors, 0) });
    const a = s(res.rcurepo);
    const b = s(res.nginx);
    const runs = res.rcurepo.map((x, i) => `${x.rps.toFixed(0)}/${res.nginx[i]!.rps.toFixed(0)}`).join(' ');
    // Each rcurepo run right after its nginx run: the median of the pairs' ratios cancels slow drifts in load.
    const paired = median(res.rcurepo.map((x, i) => x.rps / res.nginx[i]!.rps));
    const procs = n > 1 ? `${n} (--balance connection)` : '1';
    console.log(`| ${label} | ${procs} | ${a.rps.toFixed(0)} | ${a.p99.toFixed(2)} | ${a.errors} | ${b.rps.toFixed(0)} | ${b.p99.toFixed(2)} | ${b.errors} | ${(a.rps / b.rps).toFixed(2)} | ${paired.toFixed(2)} | ${runs} |`);
  }
} finally {
  publishing = false;
  await publisher;
  console.log(`published ${published} generations during the benchmark; load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} at the end; target: ratio >= 0.5, zero errors`);
  for (const c of children) c.kill(c.spawnargs[0] === '/usr/sbin/nginx' ? 'SIGQUIT' : 'SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
  fs.rmSync(dir, { recursive: true, force: true });
}
