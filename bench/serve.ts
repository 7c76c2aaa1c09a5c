/**
 * HTTP serving: `rcurepo serve` vs nginx (worker_processes 1) on the same snapshot, same wrk load, same
 * run, while the repository publishes 5 times a second. Small (1 KiB) and large (1 MiB) files.
 * Run: npm run build && node --import tsx bench/serve.ts [seconds] [runs]
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

const rcuPort = await port();
const rcu: ChildProcess = spawn(process.execPath, [BIN, '--base', base, 'serve', '--listen', `127.0.0.1:${rcuPort}`, '--access-log', path.join(dir, 'rcurepo-access.log')], { stdio: 'ignore' });
const ngxPort = await port();
const ngxConf = path.join(dir, 'nginx.conf');
fs.writeFileSync(ngxConf, `daemon off;\nuser root;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/nginx-error.log;\nevents { worker_connections 1024; }\nhttp {\n  access_log ${dir}/nginx-access.log;\n  sendfile on;\n  server {\n    listen 127.0.0.1:${ngxPort};\n    location /r/ { alias ${base}/repos/r/current/; etag on; }\n  }\n}\n`);
const ngx: ChildProcess = spawn('/usr/sbin/nginx', ['-c', ngxConf, '-p', dir], { stdio: 'ignore' });
await waitPort(rcuPort);
await waitPort(ngxPort);

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

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
try {
  for (const [label, p] of [['small 1 KiB', 'small/s7.eopkg'], ['large 1 MiB', 'large/l3.eopkg']] as const) {
    const res: Record<string, Array<{ rps: number; p99ms: number; errors: number }>> = { rcurepo: [], nginx: [] };
    for (let r = 0; r < RUNS; r++) {
      res.nginx!.push(await wrk(`http://127.0.0.1:${ngxPort}/r/${p}`));
      res.rcurepo!.push(await wrk(`http://127.0.0.1:${rcuPort}/r/${p}`));
    }
    const s = (k: string) => ({ rps: median(res[k]!.map((x) => x.rps)), p99: median(res[k]!.map((x) => x.p99ms)), errors: res[k]!.reduce((a, x) => a + x.errors, 0) });
    const a = s('rcurepo');
    const b = s('nginx');
    console.log(`${label}: rcurepo ${a.rps.toFixed(0)} req/s p99 ${a.p99.toFixed(2)} ms errors ${a.errors} | nginx ${b.rps.toFixed(0)} req/s p99 ${b.p99.toFixed(2)} ms errors ${b.errors} | ratio ${(a.rps / b.rps).toFixed(2)} (target >= 0.5)`);
  }
} finally {
  publishing = false;
  await publisher;
  console.log(`published ${published} generations during the benchmark (${RUNS} runs x ${SECONDS} s per server and size, wrk -t1 -c32)`);
  rcu.kill('SIGTERM');
  ngx.kill('SIGQUIT');
  await new Promise((r) => setTimeout(r, 500));
  fs.rmSync(dir, { recursive: true, force: true });
}
