/**
 * Issue 12 benchmark: what signing adds to a publish.
 *   - a one-file import into a `files` repository of N files, unsigned (baseline) and signed (SHA256SUMS.gpg
 *     with one key; and with two keys + SHA256SUMS.asc), alternating, whole CLI process; medians
 *   - in-process: the pre-write check (one test signature) and signing SHA256SUMS (the gpg calls a
 *     publish adds), medians                                              target: signing < 50 ms per publish
 * Throwaway ed25519 keys in a temporary GNUPGHOME; its gpg-agent is stopped at the end.
 * Usage: node --import tsx bench/signing.ts [--sizes=1000,10000] [--runs=9]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkCanSign, signFiles } from '../src/signing/sign.js';
import type { SigningSettings } from '../src/signing/settings.js';
import { machine, median, runCli, runsFromArgs, sizesFromArgs, timeAsync, writeSmallFiles } from './lib.js';

const sizes = sizesFromArgs([1000, 10_000]);
const runs = runsFromArgs(9);
const ms = (s: number) => (s * 1000).toFixed(1);

function genKey(home: string, uid: string): string {
  const out = execFileSync('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--status-fd', '1', '--quick-gen-key', uid, 'ed25519', 'sign', 'never'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.split('\n').find((l) => l.startsWith('[GNUPG:] KEY_CREATED '))!.split(' ')[3]!.trim();
}

console.log(`# signing benchmark, ${new Date().toISOString()}\n# ${machine()}\n# runs per figure: ${runs} (medians)`);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rcurepo-bench-sign-'));
const home = path.join(dir, 'gnupg');
fs.mkdirSync(home, { mode: 0o700 });
try {
  const a = genKey(home, 'Bench A <a@example.invalid>');
  const b = genKey(home, 'Bench B <b@example.invalid>');
  console.log('size\tunsigned_publish_ms\tsigned_publish_ms\tdelta_ms\tratio\tsigned2+asc_publish_ms\tdelta2_ms\tcheck_ms\tsign_sums_ms\tsign_2keys+asc_ms');
  for (const n of sizes) {
    const base = path.join(dir, `base-${n}`);
    runCli(base, ['init']);
    const repos = { plain: 'plain', one: 'signed', two: 'signed2' } as const;
    const input = path.join(dir, `input-${n}`);
    writeSmallFiles(input, n);
    for (const r of Object.values(repos)) {
      runCli(base, ['create-repo', r]);
      runCli(base, ['config', r, 'gcAfterPublish', 'false']);
      runCli(base, ['import', r, input, '--prefix', 'data']);
    }
    fs.rmSync(input, { recursive: true });
    for (const r of [repos.one, repos.two]) runCli(base, ['config', r, 'signGnupgHome', home]);
    runCli(base, ['config', repos.one, 'signKeys', a]);
    runCli(base, ['config', repos.two, 'signKeys', `${a},${b}`]);
    runCli(base, ['config', repos.two, 'signSumsAsc', 'true']);
    const t: Record<string, number[]> = { plain: [], one: [], two: [] };
    for (let i = 0; i < runs; i++) {
      // Alternate, so drift on a shared machine touches all three alike.
      for (const k of ['plain', 'one', 'two'] as const) {
        const f = path.join(dir, `one-${n}-${k}-${i}.txt`);
        fs.writeFileSync(f, `one more file ${k} ${i}`);
        execFileSync('sync');
        t[k]!.push(runCli(base, ['import', repos[k], f]).seconds);
      }
    }
    // The gpg calls alone, in this process, on the repository's own SHA256SUMS.
    const sums = path.join(base, 'repos', repos.one, 'current', 'SHA256SUMS');
    const s1: SigningSettings = { keys: [a], gnupgHome: home, timeoutMs: 30_000, sumsAsc: false };
    const s2: SigningSettings = { keys: [a, b], gnupgHome: home, timeoutMs: 30_000, sumsAsc: true };
    const check: number[] = [];
    const sign1: number[] = [];
    const sign2: number[] = [];
    for (let i = 0; i < runs; i++) {
      check.push(await timeAsync(() => checkCanSign(s1)));
      sign1.push(await timeAsync(() => signFiles(s1, [{ source: sums, target: path.join(dir, 'x.gpg'), kind: 'detached' }])));
      sign2.push(
        await timeAsync(() =>
          signFiles(s2, [
            { source: sums, target: path.join(dir, 'y.gpg'), kind: 'detached' },
            { source: sums, target: path.join(dir, 'y.asc'), kind: 'detached-armored' },
          ]),
        ),
      );
    }
    const [p, o, w] = [median(t.plain!), median(t.one!), median(t.two!)];
    console.log([n, ms(p), ms(o), ms(o - p), (o / p).toFixed(3), ms(w), ms(w - p), ms(median(check)), ms(median(sign1)), ms(median(sign2))].join('\t'));
  }
} finally {
  spawnSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: home } });
  fs.rmSync(dir, { recursive: true, force: true });
}
