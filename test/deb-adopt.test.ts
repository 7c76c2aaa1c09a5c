/**
 * `create-repo NAME --format deb --adopt PATH` against trees published by the real tools: aptly
 * (`publish repo`) and reprepro (`includedeb`), and a flat repository made with apt-ftparchive. Every
 * package comes over with the same bytes, a clean tree shows no differences, a tree that does not match
 * its own Release or Packages is refused with nothing created, field drift and source indexes are
 * reported, and real apt updates from and downloads out of the adopted repository through rcurepo serve.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, it } from 'node:test';
import { makeDeb } from '../fixtures/gen-deb.js';
import { AptClient, hasApt } from './helpers/apt-client.js';
import { cliIn, tempDir } from './helpers/cli.js';
import { startServe } from './helpers/readers-fixture.js';
import { toolMissing } from './helpers/children.js';

const missing = (tool: string, pkg: string) => `${tool} not installed: run as root with apt (package ${pkg}), or .ci/run installs it`;
const hasAptly = () => spawnSync('aptly', ['version']).status === 0;
const hasReprepro = () => spawnSync('reprepro', ['--version']).status === 0;
const hasFtparchive = () => spawnSync('apt-ftparchive', ['--version']).status === 0;
const sha256 = (b: Buffer | string) => createHash('sha256').update(typeof b === 'string' ? fs.readFileSync(b) : b).digest('hex');

interface Adopted {
  generation: number;
  imported: number;
  differences: string[];
  notImported: string[];
  moved: string[];
  notes: string[];
  dryRun: boolean;
  wouldImport: string[];
  distributions: Array<{ codename: string; suite: string; components: string[]; architectures: string[]; origin?: string; label?: string }>;
}

const control = (pkg: string, version: string, arch: string, extra = '') =>
  `Package: ${pkg}\nVersion: ${version}\nArchitecture: ${arch}\nMaintainer: T <t@example.invalid>\nInstalled-Size: 12\nSection: utils\nPriority: optional\n${extra}Description: ${pkg} for adopt tests\n A longer description.\n .\n Its second paragraph.\n`;

/** A few .debs: several versions, two architectures, an `all` package, a lib* package with a Source. */
function makeDebs(dir: string): Record<string, string> {
  fs.mkdirSync(dir, { recursive: true });
  const out: Record<string, string> = {};
  const deb = (pkg: string, version: string, arch: string, extra = '') => {
    const f = path.join(dir, `${pkg}_${version.replace(/^[0-9]+:/, '')}_${arch}.deb`);
    fs.writeFileSync(f, makeDeb(control(pkg, version, arch, extra), { payload: Buffer.from(`${pkg} ${version} ${arch}\n`), docName: pkg }));
    out[`${pkg} ${version} ${arch}`] = f;
  };
  deb('hello', '1.0-1', 'amd64', 'Depends: hello-data\n');
  deb('hello', '1.0-1', 'arm64', 'Depends: hello-data\n');
  deb('hello', '1.1-1', 'amd64', 'Depends: hello-data (>= 1:0.9~)\n');
  deb('hello-data', '1:0.9~rc1-1', 'all');
  deb('libfoo1', '2.0-3', 'amd64', 'Source: libfoo\n');
  return out;
}

function tool(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, cwd });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed (${r.status} ${r.signal ?? ''}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** aptly with a private configuration: a local repository published (unsigned) under <dir>/aptly/public. */
function aptlyTree(dir: string, debs: string[]): string {
  const cfg = path.join(dir, 'aptly.conf');
  fs.writeFileSync(cfg, JSON.stringify({ rootDir: path.join(dir, 'aptly'), architectures: [], gpgDisableSign: true, gpgDisableVerify: true, skipContentsPublishing: false }));
  const aptly = (...args: string[]) => tool('aptly', [`-config=${cfg}`, ...args]);
  aptly('repo', 'create', '-distribution=bookworm', '-component=main', 'adoptme');
  aptly('repo', 'add', 'adoptme', ...debs);
  aptly('-architectures=amd64,arm64', 'publish', 'repo', '-skip-signing', '-distribution=bookworm', '-origin=AptlyOrigin', '-label=AptlyLabel', 'adoptme');
  return path.join(dir, 'aptly', 'public');
}

/** reprepro 5.3 keeps one version of a package per architecture in a distribution: the older hello goes. */
const kept = (debs: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(debs).filter(([id]) => id !== 'hello 1.0-1 amd64'));

/** reprepro: codename bookworm with suite stable, components main and contrib (libfoo1 in contrib). */
function repreproTree(dir: string, debs: Record<string, string>): string {
  const b = path.join(dir, 'reprepro');
  fs.mkdirSync(path.join(b, 'conf'), { recursive: true });
  fs.writeFileSync(path.join(b, 'conf', 'distributions'), 'Codename: bookworm\nSuite: stable\nOrigin: RepOrigin\nLabel: RepLabel\nArchitectures: amd64 arm64\nComponents: main contrib\nDescription: adopt test\n');
  for (const [id, f] of Object.entries(debs)) tool('reprepro', ['-b', b, '-C', id.startsWith('libfoo') ? 'contrib' : 'main', 'includedeb', 'bookworm', f]);
  return b;
}

function setup() {
  const dir = tempDir('rcurepo-adopt-');
  const base = path.join(dir, 'base');
  const cli = cliIn(base);
  const r = cli.sync(['init']);
  assert.equal(r.code, 0, r.stderr);
  return { dir, base, cli, debs: makeDebs(path.join(dir, 'debs')) };
}

/** Every file under the base's pool and repositories, for "nothing changed". */
function listing(base: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(base, p));
    }
  };
  for (const d of ['pool', 'repos']) if (fs.existsSync(path.join(base, d))) walk(path.join(base, d));
  return out.sort();
}

/** Every original package is in the adopted snapshot, at the path its stanza names, with the same bytes. */
function assertSameBytes(base: string, repo: string, debs: Record<string, string>): void {
  const snap = fs.realpathSync(path.join(base, 'repos', repo, 'current'));
  const files = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.deb')) files.set(sha256(p), path.relative(snap, p));
    }
  };
  walk(path.join(snap, 'pool'));
  assert.equal(files.size, Object.keys(debs).length, `packages in the adopted tree: ${[...files.values()].join(', ')}`);
  for (const [id, f] of Object.entries(debs)) assert.ok(files.has(sha256(f)), `${id} (${f}) is in the adopted repository with the same bytes`);
}

/** Recompute a Release's MD5Sum/SHA1/SHA256/SHA512 lines for `rel` (added when absent) after an edit. */
function relist(releaseFile: string, rel: string, bytes: Buffer): void {
  const ALGOS: Record<string, string> = { MD5Sum: 'md5', SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' };
  const out: string[] = [];
  let algo: string | undefined;
  let seen = false;
  const entry = (a: string) => ` ${createHash(a).update(bytes).digest('hex')} ${bytes.length} ${rel}`;
  const close = () => {
    if (algo && !seen) out.push(entry(algo));
  };
  for (const l of fs.readFileSync(releaseFile, 'utf8').split('\n')) {
    if (l === '') continue;
    if (!l.startsWith(' ')) {
      close();
      algo = ALGOS[l.slice(0, l.indexOf(':'))];
      seen = false;
      out.push(l);
    } else if (algo && l.trim().split(/\s+/)[2] === rel) {
      out.push(entry(algo));
      seen = true;
    } else out.push(l);
  }
  close();
  fs.writeFileSync(releaseFile, out.join('\n') + '\n');
}

describe('adopt an apt tree', () => {
  it('aptly publish: every package with the same bytes, no differences, apt-get through rcurepo serve', async (t) => {
    if (!hasAptly()) return toolMissing(t, missing('aptly', 'aptly'));
    const { dir, base, cli, debs } = setup();
    const tree = aptlyTree(dir, Object.values(debs));
    const r = cli.json<Adopted>(['create-repo', 'apt', '--format', 'deb', '--adopt', tree]);
    t.diagnostic(`notes: ${JSON.stringify(r.notes)}; not imported: ${JSON.stringify(r.notImported)}`);
    assert.equal(r.imported, 5);
    assert.deepEqual(r.differences, []);
    assert.deepEqual(r.moved, []);
    assert.deepEqual(r.distributions.map((d) => [d.codename, d.components, d.architectures, d.origin, d.label]), [['bookworm', ['main'], ['amd64', 'arm64'], 'AptlyOrigin', 'AptlyLabel']]);
    assertSameBytes(base, 'apt', debs);
    const v = cli.sync(['verify', 'apt']);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    if (!hasApt()) return toolMissing(t, missing('apt', 'apt'));
    const served = await startServe(base);
    try {
      const apt = new AptClient(`deb [trusted=yes] ${served.url}/apt/ bookworm main`, ['amd64', 'arm64']);
      apt.update();
      assert.equal(apt.candidate('hello'), '1.1-1');
      assert.equal(apt.candidate('hello:arm64'), '1.0-1');
      assert.equal(apt.candidate('hello-data'), '1:0.9~rc1-1');
      assert.equal(sha256(apt.download('hello')), sha256(debs['hello 1.1-1 amd64']!));
      assert.equal(sha256(apt.download('hello:arm64')), sha256(debs['hello 1.0-1 arm64']!));
      assert.equal(sha256(apt.download('libfoo1')), sha256(debs['libfoo1 2.0-3 amd64']!));
      if (spawnSync('gpg', ['--version']).status !== 0) return toolMissing(t, missing('gpg', 'gnupg'));
      // Signed with the repository's own key: a key, a resign, and apt checks it through signed-by.
      const home = path.join(dir, 'gnupg');
      fs.mkdirSync(home, { mode: 0o700 });
      try {
        for (const args of [['keys', 'init-key', 'apt', '--name', 'Adopted Archive', '--email', 'archive@example.invalid', '--gnupg-home', home, '--expire', 'never'], ['resign', 'apt'], ['keys', 'export', 'apt', '--out', dir]]) {
          const k = cli.sync(args);
          assert.equal(k.code, 0, `rcurepo ${args.join(' ')}: ${k.stdout}${k.stderr}`);
        }
        const signed = new AptClient(`deb [signed-by=${path.join(dir, 'apt-keyring.gpg')}] ${served.url}/apt/ bookworm main`, ['amd64', 'arm64']);
        signed.update();
        assert.equal(sha256(signed.download('hello-data')), sha256(debs['hello-data 1:0.9~rc1-1 all']!));
      } finally {
        spawnSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: home } });
      }
    } finally {
      await served.stop();
    }
  });

  it('reprepro outdir: Release fields kept, two components, the suite folder, dry run first', (t) => {
    if (!hasReprepro()) return toolMissing(t, missing('reprepro', 'reprepro'));
    const { dir, base, cli, debs } = setup();
    const tree = repreproTree(dir, debs);
    const before = listing(base);
    const dry = cli.json<Adopted>(['create-repo', 'rep', '--format', 'deb', '--adopt', tree, '--dry-run']);
    assert.equal(dry.dryRun, true);
    assert.equal(dry.imported, 4);
    assert.ok(dry.wouldImport.includes('pool/contrib/libf/libfoo/libfoo1_2.0-3_amd64.deb (libfoo1 2.0-3 amd64)'), dry.wouldImport.join('\n'));
    assert.deepEqual(listing(base), before, 'a dry run changes nothing');
    const r = cli.json<Adopted>(['create-repo', 'rep', '--format', 'deb', '--adopt', tree]);
    assert.deepEqual(r.differences, []);
    assert.equal(r.imported, 4);
    assert.deepEqual(r.distributions, [{ codename: 'bookworm', suite: 'stable', components: ['main', 'contrib'], architectures: ['amd64', 'arm64'], origin: 'RepOrigin', label: 'RepLabel' }]);
    assert.ok(r.notImported.some((n) => n.startsWith('conf/distributions: ')), `reprepro's configuration is reported: ${r.notImported.join(' | ')}`);
    assertSameBytes(base, 'rep', kept(debs));
    const snap = fs.realpathSync(path.join(base, 'repos', 'rep', 'current'));
    const release = fs.readFileSync(path.join(snap, 'dists/bookworm/Release'), 'utf8');
    for (const l of ['Origin: RepOrigin', 'Label: RepLabel', 'Suite: stable', 'Codename: bookworm', 'Components: main contrib']) assert.ok(release.includes(`${l}\n`), `Release has ${l}`);
    assert.ok(fs.existsSync(path.join(snap, 'dists/stable/main/binary-amd64/Packages.xz')), 'dists/<suite> is published too');
    assert.ok(fs.existsSync(path.join(snap, 'pool/contrib/libf/libfoo/libfoo1_2.0-3_amd64.deb')));
  });

  it('a tree that does not match its own Release or Packages is refused, naming the file; nothing is created', (t) => {
    if (!hasReprepro()) return toolMissing(t, missing('reprepro', 'reprepro'));
    const { dir, base, cli, debs } = setup();
    const good = repreproTree(dir, debs);
    const before = listing(base);
    const copy = (name: string) => {
      const d = path.join(dir, name);
      fs.cpSync(good, d, { recursive: true, verbatimSymlinks: true });
      return d;
    };
    const refused = (tree: string, re: RegExp) => {
      const r = cli.sync(['create-repo', 'bad', '--format', 'deb', '--adopt', tree]);
      assert.equal(r.code, 3, r.stdout + r.stderr);
      assert.match(r.stderr, re);
      assert.deepEqual(listing(base), before, 'nothing changed');
      const dry = cli.sync(['create-repo', 'bad', '--format', 'deb', '--adopt', tree, '--dry-run']);
      assert.equal(dry.code, 3, 'a dry run finds the same fault');
    };
    // A Packages entry edited after the Release was written.
    const edited = copy('edited');
    const pk = path.join(edited, 'dists/bookworm/main/binary-amd64/Packages');
    fs.writeFileSync(pk, fs.readFileSync(pk, 'utf8').replace('Installed-Size: 12', 'Installed-Size: 13'));
    refused(edited, /dists\/bookworm\/main\/binary-amd64\/Packages: SHA256 differs from dists\/bookworm\/Release/);
    // A pool file deleted.
    const gone = copy('gone');
    fs.rmSync(path.join(gone, 'pool/main/h/hello/hello_1.1-1_amd64.deb'));
    refused(gone, /pool\/main\/h\/hello\/hello_1\.1-1_amd64\.deb: listed by dists\/bookworm\/main\/binary-amd64\/Packages(\.gz)? \(hello 1\.1-1 amd64\) but missing/);
    // A pool file with other bytes of the same size.
    const swapped = copy('swapped');
    const victim = path.join(swapped, 'pool/main/h/hello/hello_1.0-1_arm64.deb');
    const bytes = fs.readFileSync(victim);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    fs.writeFileSync(victim, bytes);
    refused(swapped, /pool\/main\/h\/hello\/hello_1\.0-1_arm64\.deb: SHA256 [0-9a-f]{64}, dists\/bookworm\/main\/binary-arm64\/Packages(\.gz)? says [0-9a-f]{64}/);
    assert.equal(fs.existsSync(path.join(base, 'repos', 'bad')), false);
  });

  it('drift between a stanza and its package is reported field by field; Sources are reported as not adopted', (t) => {
    if (!hasReprepro()) return toolMissing(t, missing('reprepro', 'reprepro'));
    const { dir, cli, debs } = setup();
    const tree = repreproTree(dir, debs);
    const dist = path.join(tree, 'dists/bookworm');
    // An operator edited a stanza by hand and re-wrote the Release for it (the .gz variant dropped).
    const pk = path.join(dist, 'main/binary-amd64/Packages');
    const stanzas = fs.readFileSync(pk, 'utf8').split('\n\n');
    const i = stanzas.findIndex((st) => /^Package: hello$/m.test(st) && /^Version: 1\.1-1$/m.test(st));
    assert.ok(i >= 0 && stanzas[i]!.includes('Maintainer: T <'), 'the stanza to edit is there');
    stanzas[i] = stanzas[i]!.replace('Maintainer: T <', 'Maintainer: Someone Else <');
    const text = stanzas.join('\n\n');
    fs.writeFileSync(pk, text);
    fs.rmSync(`${pk}.gz`, { force: true });
    fs.rmSync(`${pk}.xz`, { force: true });
    relist(path.join(dist, 'Release'), 'main/binary-amd64/Packages', Buffer.from(text));
    // A source index, listed in Release.
    const sources = zlib.gzipSync('Package: hello\nBinary: hello\nVersion: 1.1-1\nDirectory: pool/main/h/hello\nFiles:\n 0123456789abcdef0123456789abcdef 10 hello_1.1-1.dsc\n\n');
    fs.mkdirSync(path.join(dist, 'main/source'), { recursive: true });
    fs.writeFileSync(path.join(dist, 'main/source/Sources.gz'), sources);
    relist(path.join(dist, 'Release'), 'main/source/Sources.gz', sources);
    fs.writeFileSync(path.join(tree, 'pool/main/h/hello/hello_1.1-1.dsc'), 'Format: 3.0 (native)\n');
    const r = cli.json<Adopted>(['create-repo', 'drift', '--format', 'deb', '--adopt', tree]);
    assert.equal(r.imported, 4);
    assert.equal(r.differences.length, 1, r.differences.join('\n'));
    assert.match(r.differences[0]!, /^dists\/bookworm\/main\/binary-amd64: hello 1\.1-1 amd64: Maintainer: original "Someone Else <t@example\.invalid>", regenerated "T <t@example\.invalid>"$/);
    assert.ok(r.notImported.includes('dists/bookworm/main/source/Sources.gz: 1 source package(s) not adopted (adopt takes binary packages; their .dsc and source files are listed below as not imported)'), r.notImported.join('\n'));
    assert.ok(r.notImported.some((n) => n.startsWith('pool/main/h/hello/hello_1.1-1.dsc: a source package file')));
  });

  it('two distributions: --dist picks one; adopting both reports what one component shared by both changes', (t) => {
    if (!hasReprepro()) return toolMissing(t, missing('reprepro', 'reprepro'));
    const { dir, cli, debs } = setup();
    const b = path.join(dir, 'two');
    fs.mkdirSync(path.join(b, 'conf'), { recursive: true });
    const dist = (codename: string, suite: string) => `Codename: ${codename}\nSuite: ${suite}\nOrigin: Two\nLabel: Two\nArchitectures: amd64 arm64\nComponents: main\n`;
    fs.writeFileSync(path.join(b, 'conf', 'distributions'), `${dist('bookworm', 'stable')}\n${dist('trixie', 'testing')}`);
    for (const f of Object.values(debs)) tool('reprepro', ['-b', b, 'includedeb', 'bookworm', f]);
    tool('reprepro', ['-b', b, 'includedeb', 'trixie', debs['hello-data 1:0.9~rc1-1 all']!]);
    const one = cli.json<Adopted>(['create-repo', 'one', '--format', 'deb', '--adopt', b, '--dist', 'testing']);
    assert.deepEqual(one.distributions.map((d) => d.codename), ['trixie']);
    assert.equal(one.imported, 1);
    assert.deepEqual(one.differences, []);
    assert.ok(one.notImported.includes('dists/bookworm: distribution not adopted (not named by --dist)'), one.notImported.join('\n'));
    assert.ok(one.notImported.includes('pool/main/h/hello/hello_1.1-1_amd64.deb: a package no adopted Packages index lists'), one.notImported.join('\n'));
    const both = cli.json<Adopted>(['create-repo', 'both', '--format', 'deb', '--adopt', b]);
    assert.deepEqual(both.distributions.map((d) => d.codename), ['bookworm', 'trixie']);
    assert.equal(both.imported, 4);
    // rcurepo lists a component's packages in every distribution with that component: trixie gains them.
    assert.ok(both.differences.length > 0 && both.differences.every((d) => /^dists\/trixie\/main\/binary-(amd64|arm64): .*: in the regenerated index, not in the original one$/.test(d)), both.differences.join('\n'));
    assert.ok(both.differences.includes('dists/trixie/main/binary-amd64: hello 1.1-1 amd64: in the regenerated index, not in the original one'));
    assert.ok(both.notes.some((n) => /^component main: distributions bookworm, trixie list different packages; .* so trixie \([0-9]+ more\) will list packages they did not .* adopt each distribution into a repository of its own \(--dist\)$/.test(n)), both.notes.join('\n'));
    const bad = cli.sync(['create-repo', 'none', '--format', 'deb', '--adopt', b, '--dist', 'sid']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--dist sid: .* has no such distribution \(it has bookworm, trixie\)/);
  });

  it('a flat repository (apt-ftparchive): packages placed in the pool, moves reported, no differences', (t) => {
    if (!hasFtparchive()) return toolMissing(t, missing('apt-ftparchive', 'apt-utils'));
    const { dir, base, cli, debs } = setup();
    const tree = path.join(dir, 'flat');
    fs.mkdirSync(tree);
    for (const f of Object.values(debs)) fs.copyFileSync(f, path.join(tree, path.basename(f)));
    fs.writeFileSync(path.join(tree, 'Packages'), tool('apt-ftparchive', ['packages', '.'], tree));
    fs.writeFileSync(path.join(tree, 'Release'), tool('apt-ftparchive', ['-o', 'APT::FTPArchive::Release::Codename=flatland', '-o', 'APT::FTPArchive::Release::Architectures=amd64 arm64', 'release', '.'], tree));
    const r = cli.json<Adopted>(['create-repo', 'flat', '--format', 'deb', '--adopt', tree]);
    assert.deepEqual(r.differences, []);
    assert.equal(r.imported, 5);
    assert.equal(r.distributions[0]!.codename, 'flatland');
    assert.ok(r.moved.includes('hello_1.1-1_amd64.deb -> pool/main/h/hello/hello_1.1-1_amd64.deb'), r.moved.join('\n'));
    assertSameBytes(base, 'flat', debs);
    const snap = fs.realpathSync(path.join(base, 'repos', 'flat', 'current'));
    assert.ok(fs.existsSync(path.join(snap, 'Packages.xz')) && fs.existsSync(path.join(snap, 'Release')), 'published flat');
  });
});
