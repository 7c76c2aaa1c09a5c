/**
 * apt under continuous publishing: a publisher imports one new package and removes an old one as fast
 * as it can (several publishes a second on an idle machine), the reaper runs after every publish on a
 * short grace period, and a real apt client runs `apt-get update` + `apt-get download` of the newest
 * package back to back against `rcurepo serve`. Every failure is counted and shown.
 *
 *   npm run build && node --import tsx bench/deb-apt-loop.ts [--runs=300] [--grace=10]
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeDeb } from '../fixtures/gen-deb.js';
import { BIN, runCli } from './lib.js';

const runs = Number(process.argv.find((a) => a.startsWith('--runs='))?.slice(7) ?? '300');
const grace = Number(process.argv.find((a) => a.startsWith('--grace='))?.slice(8) ?? '10');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deb-apt-loop-'));
const base = path.join(dir, 'base');

function run(cmd: string, args: string[], cwd?: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd, env: { ...process.env, LC_ALL: 'C' } });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}

const pkgFile = (i: number): string => path.join(dir, 'in', `churn${i}_1.0-1_amd64.deb`);
function makePkg(i: number): string {
  const f = pkgFile(i);
  fs.writeFileSync(f, makeDeb(`Package: churn${i}\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: L <l@example.invalid>\nDescription: churn ${i}\n`, { docName: `churn${i}`, payload: Buffer.alloc(2048 + (i % 97), i % 251) }));
  return f;
}

async function main(): Promise<void> {
  fs.mkdirSync(path.join(dir, 'in'), { recursive: true });
  runCli(base, ['init']);
  runCli(base, ['create-repo', 'apt', '--format', 'deb', '--dist', 'loop', '--architectures', 'amd64']);
  runCli(base, ['config', 'apt', 'graceSeconds', String(grace)]);
  runCli(base, ['config', 'apt', 'keep', '2']);
  runCli(base, ['import', 'apt', ...[0, 1, 2, 3, 4].map(makePkg)]);
  const serve = spawn(process.execPath, [BIN, '--base', base, 'serve', '--listen', '127.0.0.1:0', '--access-log', 'off'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    serve.stderr.on('data', (d) => {
      err += d;
      const m = /serving on (http:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 15_000);
  });
  const A = path.join(dir, 'apt');
  for (const d of ['state/lists/partial', 'cache/archives/partial', 'etc/sources.list.d', 'etc/preferences.d', 'etc/apt.conf.d', 'log', 'dl']) fs.mkdirSync(path.join(A, d), { recursive: true });
  fs.writeFileSync(path.join(A, 'state/status'), '');
  fs.writeFileSync(path.join(A, 'etc/sources.list'), `deb [trusted=yes] ${url}/apt/ loop main\n`);
  const o = [`Dir::State=${A}/state`, `Dir::State::status=${A}/state/status`, `Dir::Cache=${A}/cache`, `Dir::Etc::SourceList=${A}/etc/sources.list`, `Dir::Etc::SourceParts=${A}/etc/sources.list.d`, `Dir::Etc::Parts=${A}/etc/apt.conf.d`, `Dir::Etc::Preferences=${A}/etc/preferences`, `Dir::Etc::PreferencesParts=${A}/etc/preferences.d`, `Dir::Log=${A}/log`, 'APT::Architecture=amd64', 'APT::Architectures::=amd64', 'Debug::NoLocking=1', 'APT::Sandbox::User=root', 'Acquire::Retries=0', 'Acquire::Languages=none'].flatMap((x) => ['-o', x]);
  let stop = false;
  let publishes = 0;
  let next = 5;
  const publisher = (async () => {
    while (!stop) {
      const i = next++;
      const r = await run(process.execPath, [BIN, '--base', base, 'import', 'apt', makePkg(i)]);
      if (r.code !== 0) console.log(`publisher: import failed: ${r.out}`);
      const old = i - 5;
      const rm = await run(process.execPath, [BIN, '--base', base, 'remove', 'apt', `pool/main/c/churn${old}/churn${old}_1.0-1_amd64.deb`]);
      if (rm.code !== 0) console.log(`publisher: remove failed: ${rm.out}`);
      publishes += 2;
    }
  })();
  const failures: string[] = [];
  const t0 = Date.now();
  for (let k = 1; k <= runs; k++) {
    const u = await run('apt-get', [...o, 'update']);
    if (u.code !== 0 || /^(E|W):/m.test(u.out)) {
      failures.push(`run ${k}: update: ${u.out.split('\n').filter((l) => /^(E|W|Err)/.test(l)).join(' | ')}`);
      continue;
    }
    const names = (await run('apt-cache', [...o, 'pkgnames', 'churn'])).out.split('\n').filter((l) => /^churn[0-9]+$/.test(l));
    const newest = names.map((n) => Number(n.slice(5))).sort((a, b) => b - a)[0];
    if (newest === undefined) {
      failures.push(`run ${k}: no churn package listed`);
      continue;
    }
    const dl = fs.mkdtempSync(path.join(A, 'dl', 'r'));
    const d = await run('apt-get', [...o, 'download', `churn${newest}`], dl);
    const files = fs.readdirSync(dl);
    if (d.code !== 0 || files.length !== 1) failures.push(`run ${k}: download churn${newest}: ${d.out.split('\n').filter((l) => /^(E|W|Err)/.test(l)).join(' | ')}`);
    else if (createHash('sha256').update(fs.readFileSync(path.join(dl, files[0]!))).digest('hex') !== createHash('sha256').update(fs.readFileSync(pkgFile(newest))).digest('hex')) failures.push(`run ${k}: churn${newest}: wrong bytes`);
    fs.rmSync(dl, { recursive: true, force: true });
    if (k % 25 === 0) console.log(`${k} runs, ${publishes} publishes, ${failures.length} failures, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  stop = true;
  await publisher;
  serve.kill('SIGTERM');
  const secs = (Date.now() - t0) / 1000;
  console.log(`\napt under continuous publishing: ${runs} update+download runs, ${publishes} publishes in ${secs.toFixed(0)} s (${(publishes / secs).toFixed(2)} publishes/s), grace ${grace} s: ${failures.length} failure(s)`);
  for (const f of failures.slice(0, 20)) console.log(`  ${f}`);
  fs.rmSync(dir, { recursive: true, force: true });
  if (failures.length) process.exitCode = 1;
}

await main();
