/**
 * Upstream sync and adopt through the built CLI, against real rsync daemons on 127.0.0.1: first sync,
 * the no-change probe, half-updated upstreams (never published), readers during syncs, an rcurepo host
 * as upstream, kill -9 mid-transfer, the eopkg and deb checks, signatures, and adopt.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { BIN, cliIn, ROOT, tempDir } from './helpers/cli.js';
import { current, must, snapshots, startRsyncd } from './helpers/readers-fixture.js';
import { checkFilesTree, hasTool, makeKey, readTree, sha256, startPlainRsyncd, startSshd, sumsOf, writeTree } from './helpers/sync-fixture.js';
import { toolMissing } from './helpers/children.js';
import { generatePackages } from '../fixtures/gen-eopkg.js';

const SAMPLES = path.resolve(ROOT, '../shared/upstream-samples/eopkg');
const stops: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const s of stops.reverse()) await s();
});

function mirrorBase() {
  const dir = tempDir('rcurepo-sync-');
  const base = path.join(dir, 'base');
  const cli = cliIn(base);
  must(cli.sync(['init']));
  return { dir, base, cli, repoDir: (name: string) => path.join(base, 'repos', name) };
}

function filesUpstream(root: string, n: number, tag = 'v1'): void {
  const files: Record<string, string> = {};
  for (let i = 0; i < n; i++) files[`pkgs/${i % 7}/file-${i}.bin`] = `${tag} content of file ${i}\n`.repeat(1 + (i % 5));
  writeTree(root, files);
  writeTree(root, { SHA256SUMS: sumsOf(root), lastupdate: `${Date.now()}\n` });
}

test('files mirror over an rsync daemon: first sync, byte-for-byte tree, no-change probe, history, verify', async () => {
  const m = mirrorBase();
  const up = path.join(m.dir, 'upstream');
  filesUpstream(up, 60);
  const d = await startPlainRsyncd(m.dir, { up });
  stops.push(d.stop);
  must(m.cli.sync(['create-repo', 'mir', '--upstream', `${d.url}/up`]));
  assert.equal(m.cli.sync(['import', 'mir', path.join(up, 'lastupdate')]).code, 2, 'a mirror refuses imports');
  const r1 = m.cli.json<{ published: boolean; added: number; arrived: number; generation: number }>(['sync', 'mir']);
  assert.equal(r1.published, true);
  assert.equal(r1.added, 62);
  assert.equal(r1.arrived, 62);
  const served = path.join(m.repoDir('mir'), 'current');
  assert.deepEqual(readTree(served), readTree(up), 'the mirror serves the upstream tree byte for byte (its own SHA256SUMS included)');
  for (const [p] of readTree(served)) assert.equal(fs.statSync(path.join(served, p)).mode & 0o777, 0o444, `${p} is a read-only pool blob`);
  // Nothing changed upstream: the probe (marker + index checksums) decides, nothing else is listed.
  const r2 = m.cli.json<{ published: boolean; probe: string }>(['sync', 'mir']);
  assert.equal(r2.probe, 'unchanged');
  assert.equal(r2.published, false);
  // One file and the index change: only that file is received; everything else is a hard link.
  writeTree(up, { 'pkgs/1/file-1.bin': 'new bytes\n' });
  writeTree(up, { SHA256SUMS: sumsOf(up) });
  const dry = m.cli.json<{ dryRun: boolean; replaced: number; changes: { replaced: string[] } }>(['sync', 'mir', '--dry-run']);
  assert.deepEqual(dry.changes.replaced.sort(), ['SHA256SUMS', 'pkgs/1/file-1.bin']);
  assert.equal(current(m.repoDir('mir')), r1.generation, 'dry run publishes nothing');
  const r3 = m.cli.json<{ published: boolean; replaced: number; arrived: number; generation: number }>(['sync', 'mir']);
  assert.deepEqual([r3.published, r3.replaced, r3.arrived], [true, 2, 2]);
  const a = fs.statSync(path.join(m.repoDir('mir'), 'snapshots', String(r1.generation), 'pkgs/2/file-2.bin'));
  const b = fs.statSync(path.join(m.repoDir('mir'), 'snapshots', String(r3.generation), 'pkgs/2/file-2.bin'));
  assert.equal(a.ino, b.ino, 'unchanged files are shared between generations');
  const hist = m.cli.json<Array<{ generation: number; operation: string; replaced: number; args: string[] }>>(['history', 'mir']);
  assert.deepEqual([hist[0]!.operation, hist[0]!.replaced, hist[0]!.args[0]], ['sync', 2, `${d.url}/up`]);
  // A marker that disappears upstream is a change too; removals are published.
  fs.rmSync(path.join(up, 'lastupdate'));
  writeTree(up, { SHA256SUMS: sumsOf(up) });
  const dry2 = m.cli.json<{ probe: string; changes: { removed: string[] } }>(['sync', 'mir', '--dry-run']);
  assert.deepEqual([dry2.probe, dry2.changes.removed], ['changed', ['lastupdate']]);
  const r4 = m.cli.json<{ published: boolean; removed: number }>(['sync', 'mir']);
  assert.deepEqual([r4.published, r4.removed], [true, 1]);
  assert.equal(fs.existsSync(path.join(served, 'lastupdate')), false);
  must(m.cli.sync(['verify']));
  // verify of a mirror runs the upstream checks: a snapshot whose file no longer matches is a fault.
  const st = m.cli.sync(['verify', 'mir', '--json']);
  assert.equal(st.code, 0, st.stderr);
});

test('bad input: unreachable upstream, unknown module, missing folder, wrong format, bad signature: clear errors, nothing published', async (t) => {
  const m = mirrorBase();
  const up = path.join(m.dir, 'upstream');
  filesUpstream(up, 10);
  const d = await startPlainRsyncd(m.dir, { up });
  stops.push(d.stop);
  const closed = await (await import('./helpers/readers-fixture.js')).freePort();
  const cases: Array<[string, string, string, number, RegExp]> = [
    ['down', `rsync://127.0.0.1:${closed}/up`, 'files', 69, /unreachable.*Connection refused/],
    ['nomod', `${d.url}/nosuchmodule`, 'files', 69, /Unknown module 'nosuchmodule'/],
    ['nodir', `${d.url}/up/no/such/folder`, 'files', 69, /no such folder/],
    ['local', path.join(m.dir, 'absent'), 'files', 69, /no such folder/],
    ['wrong', `${d.url}/up`, 'eopkg', 8, /eopkg-index\.xml\.xz is missing: the upstream is not an eopkg repository/],
  ];
  for (const [name, url, format, code, msg] of cases) {
    must(m.cli.sync(['create-repo', name, '--format', format, '--upstream', url]));
    const r = m.cli.sync(['sync', name]);
    assert.equal(r.code, code, `${name}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.deepEqual(snapshots(m.repoDir(name)), [1], `${name}: nothing published`);
    assert.equal(current(m.repoDir(name)), 1);
  }
  assert.equal(m.cli.sync(['create-repo', 'x', '--upstream', 'ftp://example.org/x']).code, 2);
  assert.equal(m.cli.sync(['create-repo', 'y', '--upstream', 'relative/path']).code, 2);
  assert.equal(m.cli.sync(['create-repo', 'z', '--format', 'nope', '--upstream', up]).code, 2);
  assert.equal(fs.existsSync(m.repoDir('x')), false);
  // sync --all reports every mirror's outcome and exits with the first failure's status.
  const all = m.cli.sync(['sync', '--all', '--json']);
  assert.equal(all.code, 69);
  const allR = JSON.parse(all.stdout) as { results: unknown[]; failures: Array<{ repo: string }> };
  assert.equal(allR.failures.length, 5);

  if (!hasTool('gpg') || !hasTool('gpgv')) {
    toolMissing(t, 'gpg/gpgv not installed: run as root with apt (gnupg, gpgv), or .ci/run installs it');
    return;
  }
  const good = makeKey(m.dir, 'upstream');
  const evil = makeKey(m.dir, 'other');
  stops.push(good.stop, evil.stop);
  evil.signDetached(path.join(up, 'SHA256SUMS'), path.join(up, 'SHA256SUMS.gpg'));
  must(m.cli.sync(['create-repo', 'signed', '--upstream', `${d.url}/up`, '--keyring', good.keyring]));
  const bad = m.cli.sync(['sync', 'signed']);
  assert.equal(bad.code, 8, bad.stderr);
  assert.match(bad.stderr, /SHA256SUMS\.gpg: bad signature/);
  assert.deepEqual(snapshots(m.repoDir('signed')), [1]);
  good.signDetached(path.join(up, 'SHA256SUMS'), path.join(up, 'SHA256SUMS.gpg'));
  const ok = m.cli.sync(['sync', 'signed']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(current(m.repoDir('signed')), 2);
  must(m.cli.sync(['verify', 'signed']));
});

test('half-updated upstream: never published; readers never see a mixed tree; the sync after it settles publishes it', async () => {
  const m = mirrorBase();
  const up = path.join(m.dir, 'upstream');
  filesUpstream(up, 150);
  const d = await startPlainRsyncd(m.dir, { up });
  stops.push(d.stop);
  must(m.cli.sync(['create-repo', 'mir', '--upstream', `${d.url}/up`]));
  must(m.cli.sync(['config', 'mir', 'graceSeconds', '0']));
  must(m.cli.sync(['sync', 'mir']));
  // Deterministic case first: the index is new, the packages are not there yet.
  const next: Record<string, string> = { 'pkgs/new/a.bin': 'new package a\n', 'pkgs/1/file-1.bin': 'rebuilt\n' };
  const pending = path.join(m.dir, 'pending');
  writeTree(pending, readTreeObj(up));
  writeTree(pending, next);
  writeTree(up, { SHA256SUMS: sumsOf(pending) });
  const half = m.cli.sync(['sync', 'mir']);
  assert.equal(half.code, 8, half.stderr);
  assert.match(half.stderr, /pkgs\/new\/a\.bin: listed in SHA256SUMS but missing/);
  assert.match(half.stderr, /current stays at generation 2/);
  assert.equal(current(m.repoDir('mir')), 2);
  assert.ok(fs.existsSync(path.join(m.repoDir('mir'), 'sync', 'work', 'SHA256SUMS')), 'the received files are kept for the next attempt');
  must(m.cli.sync(['verify']));
  writeTree(up, next);
  const settled = m.cli.json<{ published: boolean; generation: number; arrived: number; resumed: number }>(['sync', 'mir']);
  assert.equal(settled.published, true);
  assert.equal(settled.arrived, 2, 'the index received by the failed attempt was not transferred again');
  assert.equal(settled.resumed, 1);
  assert.deepEqual(checkFilesTree(path.join(m.repoDir('mir'), 'current')), []);

  // Then an upstream rewritten continuously (index first or packages first) while syncs and readers run.
  let stop = false;
  const readerFaults: string[] = [];
  let reads = 0;
  const reader = (async () => {
    while (!stop) {
      const snap = fs.realpathSync(path.join(m.repoDir('mir'), 'current')); // resolve once, then only the concrete path
      readerFaults.push(...checkFilesTree(snap).map((f) => `${path.basename(snap)}: ${f}`));
      reads++;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const updater = (async () => {
    for (let round = 0; !stop; round++) {
      const files: Record<string, string> = {};
      for (let i = 0; i < 25; i++) files[`pkgs/${i % 7}/file-${(round * 13 + i) % 150}.bin`] = `round ${round} file ${i}\n`.repeat(1 + (i % 4));
      const staged = path.join(m.dir, `round-${round}`);
      writeTree(staged, readTreeObj(up));
      writeTree(staged, files);
      const index = sumsOf(staged);
      fs.rmSync(staged, { recursive: true, force: true });
      if (round % 2 === 0) writeTree(up, { SHA256SUMS: index });
      for (const [p, b] of Object.entries(files)) {
        writeTree(up, { [p]: b });
        await new Promise((r) => setTimeout(r, 3));
      }
      if (round % 2 === 1) writeTree(up, { SHA256SUMS: index });
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const codes: number[] = [];
  const published: number[] = [];
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && codes.length < 12) {
    const r = await m.cli.async(['sync', 'mir', '--json']);
    codes.push(r.code ?? -1);
    if (r.code === 0 && JSON.parse(r.stdout).published) {
      const gen = current(m.repoDir('mir'));
      published.push(gen);
      assert.deepEqual(checkFilesTree(path.join(m.repoDir('mir'), 'snapshots', String(gen))), [], `generation ${gen} is complete by its SHA256SUMS`);
    }
  }
  stop = true;
  await Promise.all([reader, updater]);
  assert.ok(codes.every((c) => c === 0 || c === 8), `every sync published a checked tree or refused with INTEGRITY: ${codes.join(',')}`);
  assert.deepEqual(readerFaults, [], `readers saw a mixed tree (${reads} reads)`);
  assert.ok(reads > 10);
  // Settled: the next sync publishes exactly the upstream.
  must(m.cli.sync(['sync', 'mir']));
  assert.deepEqual(readTree(path.join(m.repoDir('mir'), 'current')), readTree(up));
  must(m.cli.sync(['verify']));
});

/** Real upstream packages where the samples are beside the repository, else generated ones (fixtures/gen-eopkg.ts). */
function eopkgInputs(dir: string): string[] {
  if (fs.existsSync(SAMPLES)) return fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.eopkg')).map((f) => path.join(SAMPLES, f));
  return generatePackages({ out: dir, count: 4, seed: 'sync-upstream' }).map((p) => p.file!);
}

function readTreeObj(root: string): Record<string, Buffer> {
  return Object.fromEntries(readTree(root));
}

test('an rcurepo host as upstream (its rsync modules): files and eopkg mirrors', async () => {
  const src = mirrorBase();
  must(src.cli.sync(['create-repo', 'pub']));
  const input = path.join(src.dir, 'in');
  writeTree(input, { 'rel/1.0/app.tar': 'app 1.0\n', 'rel/1.0/notes.txt': 'notes\n' });
  must(src.cli.sync(['import', 'pub', input]));
  must(src.cli.sync(['create-repo', 'epk', '--format', 'eopkg']));
  must(src.cli.sync(['import', 'epk', ...eopkgInputs(path.join(src.dir, 'generated'))]));
  const d = await startRsyncd(src.base, src.dir);
  stops.push(d.stop);
  const m = mirrorBase();
  must(m.cli.sync(['create-repo', 'pubm', '--upstream', `${d.url}/pub`]));
  must(m.cli.sync(['sync', 'pubm']));
  assert.deepEqual(readTree(path.join(m.repoDir('pubm'), 'current')), readTree(path.join(src.base, 'repos', 'pub', 'current')));
  fs.rmSync(input, { recursive: true });
  writeTree(input, { 'rel/1.1/app.tar': 'app 1.1\n' });
  must(src.cli.sync(['import', 'pub', input]));
  const r = m.cli.json<{ published: boolean; added: number; replaced: number }>(['sync', 'pubm']);
  assert.deepEqual([r.published, r.added, r.replaced], [true, 1, 1]);
  assert.deepEqual(readTree(path.join(m.repoDir('pubm'), 'current')), readTree(path.join(src.base, 'repos', 'pub', 'current')));
  must(m.cli.sync(['create-repo', 'epkm', '--format', 'eopkg', '--upstream', `${d.url}/epk`]));
  must(m.cli.sync(['sync', 'epkm']));
  assert.deepEqual(readTree(path.join(m.repoDir('epkm'), 'current')), readTree(path.join(src.base, 'repos', 'epk', 'current')), 'index and companions byte for byte');
  assert.equal(m.cli.json<{ probe: string }>(['sync', 'epkm']).probe, 'unchanged');
  must(m.cli.sync(['verify']));
});

test('ssh:// upstream: rsync over ssh (RSYNC_RSH) with the port from the URL', async (t) => {
  const m = mirrorBase();
  const sshd = await startSshd(m.dir);
  if (!sshd) {
    toolMissing(t, 'openssh-server not installed: run as root with apt (openssh-server), or .ci/run installs it');
    return;
  }
  stops.push(sshd.stop);
  const up = path.join(m.dir, 'upstream');
  filesUpstream(up, 20);
  const env = { RSYNC_RSH: sshd.rsh };
  must(m.cli.sync(['create-repo', 'viassh', '--upstream', `ssh://root@127.0.0.1:${sshd.port}${up}`]));
  const r = m.cli.sync(['sync', 'viassh', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readTree(path.join(m.repoDir('viassh'), 'current')), readTree(up));
  assert.equal(m.cli.json<{ probe: string }>(['sync', 'viassh'], { env }).probe, 'unchanged');
  must(m.cli.sync(['create-repo', 'sshdown', '--upstream', `ssh://root@127.0.0.1:${sshd.port}/no/such/dir`]));
  const bad = m.cli.sync(['sync', 'sshdown'], { env });
  assert.equal(bad.code, 69, bad.stderr);
});

test('kill -9 during a sync (and its orphaned rsync), then the next sync completes', async () => {
  const m = mirrorBase();
  const up = path.join(m.dir, 'upstream');
  const big: Record<string, Buffer> = {};
  for (let i = 0; i < 12; i++) big[`iso/part-${i}.img`] = Buffer.alloc(256 * 1024, i + 1);
  writeTree(up, big);
  writeTree(up, { SHA256SUMS: sumsOf(up) });
  const d = await startPlainRsyncd(m.dir, { up });
  stops.push(d.stop);
  must(m.cli.sync(['create-repo', 'mir', '--upstream', `${d.url}/up`]));
  // 3 MiB at 512 KiB/s: about 6 s of transfer to kill it in.
  const child = spawn(process.execPath, [BIN, '--base', m.base, 'sync', 'mir', '--bwlimit', '512'], { stdio: 'ignore' });
  stops.push(() => void child.kill('SIGKILL'));
  const work = path.join(m.repoDir('mir'), 'sync', 'work', 'iso');
  const until = Date.now() + 15_000;
  while (Date.now() < until && !(fs.existsSync(work) && fs.readdirSync(work).length >= 2)) await new Promise((r) => setTimeout(r, 50));
  assert.ok(fs.existsSync(work), 'the transfer started');
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.equal(current(m.repoDir('mir')), 1, 'nothing was published');
  const r = m.cli.sync(['sync', 'mir', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { published: boolean; arrived: number; resumed: number };
  assert.equal(res.published, true);
  assert.ok(res.resumed >= 2 && res.arrived + res.resumed === 13, `files received before the kill were kept (${res.arrived} arrived, ${res.resumed} resumed)`);
  assert.deepEqual(readTree(path.join(m.repoDir('mir'), 'current')), readTree(up));
  assert.equal(fs.existsSync(path.join(m.repoDir('mir'), 'sync', 'work')), false);
  const leftovers = fs.readdirSync('/proc').filter((n) => {
    try {
      return /^[0-9]+$/.test(n) && fs.readFileSync(`/proc/${n}/cmdline`, 'utf8').includes(path.join(m.repoDir('mir'), 'sync'));
    } catch {
      return false;
    }
  });
  assert.deepEqual(leftovers, [], 'the killed sync\'s rsync processes were stopped by the next sync');
  must(m.cli.sync(['verify']));
});

test('eopkg mirror checks: a package that disagrees with the index, a wrong index checksum', async (t) => {
  if (!fs.existsSync(SAMPLES)) {
    t.skip(`upstream samples not found at ${SAMPLES}: eopkg checks NOT tested`);
    return;
  }
  const src = mirrorBase();
  must(src.cli.sync(['create-repo', 'epk', '--format', 'eopkg']));
  must(src.cli.sync(['import', 'epk', ...fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.eopkg')).map((f) => path.join(SAMPLES, f))]));
  const up = path.join(src.dir, 'upstream');
  fs.cpSync(path.join(src.base, 'repos', 'epk', 'current') + '/', up, { recursive: true });
  for (const [p] of readTree(up)) fs.chmodSync(path.join(up, p), 0o644);
  const d = await startPlainRsyncd(src.dir, { up });
  stops.push(d.stop);
  const m = mirrorBase();
  must(m.cli.sync(['create-repo', 'e', '--format', 'eopkg', '--upstream', `${d.url}/up`]));
  const pkg = path.join(up, 'n/nano/nano-2.8.6-76-1-x86_64.eopkg');
  const good = fs.readFileSync(pkg);
  const bad = Buffer.from(good);
  bad[bad.length - 100] = bad[bad.length - 100]! ^ 0xff;
  writeTree(up, { 'n/nano/nano-2.8.6-76-1-x86_64.eopkg': bad });
  const r = m.cli.sync(['sync', 'e']);
  assert.equal(r.code, 8, r.stderr);
  assert.match(r.stderr, /n\/nano\/nano-2\.8\.6-76-1-x86_64\.eopkg: sha1 [0-9a-f]{40}, the index says/);
  assert.deepEqual(snapshots(m.repoDir('e')), [1]);
  writeTree(up, { 'n/nano/nano-2.8.6-76-1-x86_64.eopkg': good });
  must(m.cli.sync(['sync', 'e']));
  writeTree(up, { 'eopkg-index.xml.xz.sha1sum': '0'.repeat(40) });
  const r2 = m.cli.sync(['sync', 'e']);
  assert.equal(r2.code, 8);
  assert.match(r2.stderr, /eopkg-index\.xml\.xz: sha1 [0-9a-f]{40}, eopkg-index\.xml\.xz\.sha1sum says 0{40}/);
  assert.equal(current(m.repoDir('e')), 2);
});

test('deb mirror checks: InRelease signature, Release hashes, Packages hashes', async (t) => {
  if (!hasTool('gpg') || !hasTool('gpgv')) {
    toolMissing(t, 'gpg/gpgv not installed: run as root with apt (gnupg, gpgv), or .ci/run installs it');
    return;
  }
  const m = mirrorBase();
  const up = path.join(m.dir, 'upstream');
  const key = makeKey(m.dir, 'archive');
  const other = makeKey(m.dir, 'intruder');
  stops.push(key.stop, other.stop);
  const deb = Buffer.from('!<arch>\n(a package body for the test)\n');
  const stanza = (file: string, b: Buffer) => `Package: hello\nVersion: 1.0\nArchitecture: all\nDescription: test\n multi-line\nFilename: ${file}\nSize: ${b.length}\nSHA256: ${sha256(b)}\n`;
  const publish = (debBytes: Buffer, signer: ReturnType<typeof makeKey>) => {
    const packages = stanza('pool/main/h/hello/hello_1.0_all.deb', deb) + '\n';
    const gz = zlib.gzipSync(packages);
    const rel = [
      'Origin: Test', 'Suite: stable', 'Codename: stable', 'Architectures: amd64', 'Components: main', 'SHA256:',
      ` ${sha256(packages)} ${packages.length} main/binary-amd64/Packages`,
      ` ${sha256(gz)} ${gz.length} main/binary-amd64/Packages.gz`,
      ` ${'0'.repeat(64)} 10 main/binary-amd64/Packages.xz`, // listed, not shipped: allowed
    ].join('\n') + '\n';
    writeTree(up, {
      'pool/main/h/hello/hello_1.0_all.deb': debBytes,
      'dists/stable/main/binary-amd64/Packages': packages,
      'dists/stable/main/binary-amd64/Packages.gz': gz,
      'dists/stable/main/binary-amd64/Release': 'Archive: stable\nComponent: main\nArchitecture: amd64\n', // unsigned, no checksums: fine
      'dists/stable/Release': rel,
    });
    signer.clearsign(path.join(up, 'dists/stable/Release'), path.join(up, 'dists/stable/InRelease'));
  };
  publish(deb, key);
  const d = await startPlainRsyncd(m.dir, { up });
  stops.push(d.stop);
  must(m.cli.sync(['create-repo', 'deb', '--format', 'deb', '--upstream', `${d.url}/up`, '--keyring', key.keyring]));
  const ok = m.cli.sync(['sync', 'deb']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(readTree(path.join(m.repoDir('deb'), 'current')), readTree(up));
  must(m.cli.sync(['verify', 'deb']));
  // A package rewritten with the same size: its hash no longer matches Packages.
  const tampered = Buffer.from(deb);
  tampered[10] = tampered[10]! ^ 1;
  writeTree(up, { 'pool/main/h/hello/hello_1.0_all.deb': tampered, lastupdate: '2\n' });
  const r = m.cli.sync(['sync', 'deb']);
  assert.equal(r.code, 8, r.stderr);
  assert.match(r.stderr, /pool\/main\/h\/hello\/hello_1\.0_all\.deb: sha256 differs from dists\/stable\/main\/binary-amd64\/Packages/);
  // Signed by a key the keyring does not hold.
  publish(deb, other);
  const r2 = m.cli.sync(['sync', 'deb']);
  assert.equal(r2.code, 8);
  assert.match(r2.stderr, /dists\/stable\/InRelease: bad signature/);
  // A Packages index that does not match Release.
  publish(deb, key);
  writeTree(up, { 'dists/stable/main/binary-amd64/Packages': stanza('pool/main/h/hello/hello_1.0_all.deb', deb) + 'X: y\n\n' });
  const r3 = m.cli.sync(['sync', 'deb']);
  assert.equal(r3.code, 8);
  assert.match(r3.stderr, /dists\/stable\/main\/binary-amd64\/Packages: [0-9]+ bytes, Release says/);
  assert.equal(current(m.repoDir('deb')), 2);
});

test('adopt: an eopkg tree compared package by package; differences reported; wrong format refused with nothing created', async (t) => {
  const m = mirrorBase();
  const tree = path.join(m.dir, 'tree');
  writeTree(tree, { 'a/one.txt': 'one\n', 'b/two.txt': 'two\n' });
  writeTree(tree, { SHA256SUMS: sumsOf(tree) + `${'1'.repeat(64)}  gone.txt\n` });
  const f = m.cli.json<{ generation: number; imported: number; differences: string[] }>(['create-repo', 'plain', '--adopt', tree]);
  assert.equal(f.imported, 2);
  assert.deepEqual(f.differences, ['gone.txt: in the original SHA256SUMS, not in the adopted tree']);
  const bad = m.cli.sync(['create-repo', 'notepkg', '--format', 'eopkg', '--adopt', tree]);
  assert.equal(bad.code, 3);
  assert.match(bad.stderr, /not an eopkg repository \(no eopkg-index\.xml/);
  assert.equal(fs.existsSync(m.repoDir('notepkg')), false);
  if (!fs.existsSync(SAMPLES)) {
    t.skip(`eopkg adopt skipped LOUDLY: upstream samples not found at ${SAMPLES}`);
    return;
  }
  // A published eopkg tree (here: made by rcurepo itself, then edited the way a hand-run repository drifts).
  must(m.cli.sync(['create-repo', 'src', '--format', 'eopkg']));
  must(m.cli.sync(['import', 'src', ...fs.readdirSync(SAMPLES).filter((x) => x.endsWith('.eopkg')).map((x) => path.join(SAMPLES, x))]));
  const ferry = path.join(m.dir, 'ferryd-repo');
  fs.cpSync(path.join(m.repoDir('src'), 'current') + '/', ferry, { recursive: true });
  const same = m.cli.json<{ differences: string[]; imported: number }>(['create-repo', 'adopted', '--format', 'eopkg', '--adopt', ferry]);
  assert.deepEqual(same.differences, []);
  assert.equal(same.imported, 3);
  must(m.cli.sync(['verify']));
  const idx = path.join(ferry, 'eopkg-index.xml');
  fs.chmodSync(idx, 0o644);
  fs.writeFileSync(idx, fs.readFileSync(idx, 'utf8').replace(/<PackageSize>[0-9]+<\/PackageSize>/, '<PackageSize>1</PackageSize>'));
  const drift = m.cli.json<{ differences: string[] }>(['create-repo', 'drifted', '--format', 'eopkg', '--adopt', ferry]);
  assert.equal(drift.differences.length, 1);
  assert.match(drift.differences[0]!, /nano-2\.8\.6-76-1-x86_64\.eopkg: entry differs .*original '<PackageSize>1<\/PackageSize>'/);
});
