/**
 * Mirror push of a one-package change (issue 13's targets), on synthetic eopkg repositories of 1,000 /
 * 10,000 / 50,000 packages (fixtures/gen-eopkg.ts) already on the mirror. Same run, same tree:
 *   - bytes sent (rsync's own --stats) <= 2 x the changed bytes + rsync's file list, where the changed
 *     bytes are the sizes of the files whose content differs from the previous snapshot (new inode);
 *   - push wall time (the whole `rcurepo mirror push` process) <= 2 x `cp -al` of the snapshot on the
 *     mirror side.
 * The mirror is reached over a real sshd on 127.0.0.1 when this runs as root with openssh-server (the
 * test helper's server), else it is a local path (then rsync sends whole files: no delta over a pipe).
 * The sshd runs with root's ~/.bashrc hidden (a private mount namespace), as for a push user without
 * shell setup; --login-scripts keeps it (on this machine it starts pyenv: ~0.4 s per ssh command).
 *
 *   npm run build && node --import tsx bench/mirror-push.ts [--sizes=1000,10000,50000] [--runs=3] [--local] [--trace] [--login-scripts]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generatePackages } from '../fixtures/gen-eopkg.js';
import { keygen, makeSshd, sshdRefusal } from '../test/helpers/sshd.js';
import type { Sshd } from '../test/helpers/sshd.js';
import { freePort } from '../test/helpers/readers-fixture.js';
import { initRepo, machine, median, runCli, runsFromArgs, s, sizesFromArgs, timeCmd } from './lib.js';

const sizes = sizesFromArgs([1000, 10000, 50000]);
const runs = runsFromArgs(3);
const tmpRoot = fs.mkdtempSync(path.join(process.env.BENCH_TMP ?? os.tmpdir(), 'mirror-push-'));
const showTrace = process.argv.includes('--trace');
const useSsh = !process.argv.includes('--local') && sshdRefusal() === false;

const kib = (x: number) => `${(x / 1024).toFixed(1)} KiB`;

/** Files of `next` whose inode differs from the same path in `prev` (new content): count and bytes. */
function changedBytes(prev: string, next: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(next, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else {
        const st = fs.statSync(path.join(next, r));
        let same = false;
        try {
          same = fs.statSync(path.join(prev, r)).ino === st.ino;
        } catch {
          /* new path */
        }
        if (!same) {
          files++;
          bytes += st.size;
        }
      }
    }
  };
  walk('');
  return { files, bytes };
}

interface PushStats {
  bytesSent: number;
  literalBytes: number;
  fileListBytes: number;
  files: number;
}

interface Row {
  n: number;
  files: number;
  indexMiB: number;
  firstPush: number;
  firstSent: number;
  push: number;
  cpal: number;
  /** One `ssh HOST true` on a fresh connection: the floor of one round trip (handshake + login shell). */
  sshTrue: number;
  sent: number;
  changed: number;
  changedFiles: number;
  fileList: number;
  literal: number;
}

let sshd: Sshd | undefined;
let key = '';

async function one(n: number): Promise<Row> {
  const work = path.join(tmpRoot, String(n));
  const base = path.join(work, 'base');
  const mirror = path.join(work, 'mirror');
  const pkgDir = path.join(work, 'pkgs');
  const gen = generatePackages({ out: pkgDir, count: n, seed: `mirror-${n}` });
  const taken = new Set(gen.map((p) => p.name));
  // The bench times `mirror push` itself: no push started by the publishes.
  initRepo(base, 'R', ['--format', 'eopkg'], [['gcAfterPublish', 'false'], ['mirrorPushAfterPublish', 'false']]);
  runCli(base, ['import', 'R', pkgDir]);
  // No pruning on the mirror while measuring (deletions slow the next timed command on this machine).
  const to = useSsh ? ['--to', `ssh://root@127.0.0.1:${sshd!.port}${mirror}`, '--identity', key, ...sshd!.clientOptions.flatMap((o) => ['--ssh-option', o])] : ['--to', mirror];
  runCli(base, ['mirror', 'add', 'R', 'M', ...to, '--keep', '100', '--grace', '86400']);
  execFileSync('sync');
  const first = runCli(base, ['--json', 'mirror', 'push', 'R']);
  const firstStats = (JSON.parse(first.stdout) as { outcomes: Array<{ stats: PushStats }> }).outcomes[0]!.stats;
  const extra = path.join(work, 'extra');
  fs.mkdirSync(extra);
  const push: number[] = [];
  const cpal: number[] = [];
  const sshTrue: number[] = [];
  const sent: number[] = [];
  const changed: number[] = [];
  const changedFiles: number[] = [];
  const fileList: number[] = [];
  const literal: number[] = [];
  const repoDir = path.join(base, 'repos', 'R');
  const currentGen = () => Number(/([0-9]+)$/.exec(fs.readlinkSync(path.join(repoDir, 'current')))![1]);
  for (let i = 0; i < runs; i++) {
    const prevGen = currentGen();
    for (let k = 0; ; k++) {
      const [p] = generatePackages({ count: 1, seed: `extra-${n}-${i}-${k}` });
      if (!p || taken.has(p.name)) continue;
      taken.add(p.name);
      fs.writeFileSync(path.join(extra, p.basename), p.bytes);
      runCli(base, ['import', 'R', path.join(extra, p.basename)]);
      break;
    }
    const c = changedBytes(path.join(repoDir, 'snapshots', String(prevGen)), path.join(repoDir, 'snapshots', String(currentGen())));
    changed.push(c.bytes);
    changedFiles.push(c.files);
    // cp -al of the snapshot the mirror serves, on the mirror's filesystem (what a link-dest copy costs at its floor).
    execFileSync('sync');
    cpal.push(timeCmd('cp', ['-al', path.join(mirror, 'snapshots', String(prevGen)), path.join(work, `cpal-${i}`)]));
    if (useSsh) sshTrue.push(timeCmd('ssh', ['-p', String(sshd!.port), '-i', key, '-o', 'BatchMode=yes', ...sshd!.clientOptions.flatMap((o) => ['-o', o]), 'root@127.0.0.1', 'true']));
    execFileSync('sync');
    const r = runCli(base, ['--json', 'mirror', 'push', 'R'], showTrace ? { RCUREPO_TRACE: '1' } : {});
    if (showTrace) process.stdout.write(r.stderr.split('\n').filter((l) => l.includes('mirror')).join('\n') + '\n');
    push.push(r.seconds);
    const st = (JSON.parse(r.stdout) as { outcomes: Array<{ stats: PushStats }> }).outcomes[0]!.stats;
    sent.push(st.bytesSent);
    fileList.push(st.fileListBytes);
    literal.push(st.literalBytes);
  }
  const snap = path.join(repoDir, 'current');
  const files = Number(execFileSync('sh', ['-c', `find -L "${snap}" -type f | wc -l`], { encoding: 'utf8' }).trim());
  const indexMiB = fs.statSync(path.join(snap, 'eopkg-index.xml')).size / 2 ** 20;
  fs.rmSync(work, { recursive: true, force: true });
  return {
    n,
    files,
    indexMiB,
    firstPush: first.seconds,
    firstSent: firstStats.bytesSent,
    push: median(push),
    cpal: median(cpal),
    sshTrue: sshTrue.length ? median(sshTrue) : 0,
    sent: median(sent),
    changed: median(changed),
    changedFiles: median(changedFiles),
    fileList: median(fileList),
    literal: median(literal),
  };
}

async function main(): Promise<void> {
  console.log(`# mirror push bench: ${machine()}`);
  console.log(`# mirror over ${useSsh ? `ssh to a real sshd on 127.0.0.1${process.argv.includes('--login-scripts') ? '' : ' (login scripts hidden)'}` : 'a local path'}; ${runs} runs per size (medians)`);
  if (useSsh) {
    key = keygen(path.join(tmpRoot, 'push_ed25519')).key;
    sshd = makeSshd(path.join(tmpRoot, 'sshd'), await freePort(), { hideLoginScripts: !process.argv.includes('--login-scripts') });
    fs.writeFileSync(sshd.authorizedKeys, fs.readFileSync(`${key}.pub`));
    await sshd.start();
  }
  const rows: Row[] = [];
  try {
    for (const n of sizes) {
      const r = await one(n);
      rows.push(r);
      const bound = 2 * r.changed + r.fileList;
      console.log(
        `n=${n}: files ${r.files}, index ${r.indexMiB.toFixed(1)} MiB; first push ${s(r.firstPush)} (${kib(r.firstSent)}); ` +
          `one-package push ${s(r.push)} (one ssh round trip ${s(r.sshTrue)}) vs cp -al ${s(r.cpal)} = ${(r.push / r.cpal).toFixed(2)} x (target <= 2); ` +
          `sent ${kib(r.sent)} (literal ${kib(r.literal)}, file list ${kib(r.fileList)}) vs 2 x changed ${kib(r.changed)} in ${r.changedFiles} files + file list = ${kib(bound)}: ${(r.sent / bound).toFixed(3)} (target <= 1)`,
      );
    }
  } finally {
    await sshd?.stop();
    fs.rmSync(tmpRoot, { recursive: true, force: true });
  }
  console.log('\n| packages | files | index | push | ssh HOST true | cp -al (mirror) | push / cp -al | bytes sent | literal | file list | changed bytes (files) | sent / (2 x changed + list) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const bound = 2 * r.changed + r.fileList;
    console.log(
      `| ${r.n.toLocaleString('en')} | ${r.files.toLocaleString('en')} | ${r.indexMiB.toFixed(1)} MiB | ${s(r.push)} | ${s(r.sshTrue)} | ${s(r.cpal)} | **${(r.push / r.cpal).toFixed(2)} ${r.push <= 2 * r.cpal ? '✅' : '❌'}** | ${kib(r.sent)} | ${kib(r.literal)} | ${kib(r.fileList)} | ${kib(r.changed)} (${r.changedFiles}) | **${(r.sent / bound).toFixed(3)} ${r.sent <= bound ? '✅' : '❌'}** |`,
    );
  }
}

await main();
