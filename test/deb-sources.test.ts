/**
 * Debian source packages: `import REPO pkg.dsc` takes the .dsc and the files it lists (checked against
 * its checksums), publishes Sources{,.gz,.xz} per component with by-hash and Release entries, with
 * stanzas equal to `apt-ftparchive sources`; a real `apt-get source --download-only` through a signed
 * `deb-src` line; refusals that change nothing; list/remove/verify of source packages.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { makeSourcePackage } from '../fixtures/gen-debsrc.js';
import { AptClient, hasApt } from './helpers/apt-client.js';
import { throwawayKey } from './helpers/gpg-keys.js';
import { cliIn, tempDir } from './helpers/cli.js';
import { startServe } from './helpers/readers-fixture.js';
import { toolMissing } from './helpers/children.js';

const FTPARCHIVE_MISSING = 'apt-ftparchive not installed: run as root with apt, or .ci/run installs it (package apt-utils)';
const APT_MISSING = 'apt not installed: run as root with apt, or .ci/run installs it (packages apt)';
const GPG_MISSING = 'gpg/gpgv not installed: run as root with apt (gnupg, gpgv), or .ci/run installs them';
const has = (cmd: string, args: string[] = ['--version']): boolean => spawnSync(cmd, args).status === 0;
const sha256 = (f: string): string => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
function setup(extra: string[] = []) {
  const base = tempDir('rcurepo-debsrc-');
  const cli = cliIn(base);
  const must = (args: string[]) => cli.must(args);
  must(['init']);
  must(['create-repo', 'apt', '--format', 'deb', '--dist', 'bookworm', '--components', 'main,contrib', '--architectures', 'amd64', ...extra]);
  must(['config', 'apt', 'serveWindowSeconds', '1']);
  const src = path.join(base, 'src');
  fs.mkdirSync(src);
  const repoDir = path.join(base, 'repos', 'apt');
  const snap = () => fs.realpathSync(path.join(repoDir, 'current'));
  /** What must not change when an import is refused: the current generation, the last number, pool/tmp. */
  const state = () => {
    const tmp = path.join(base, 'pool', 'tmp');
    return JSON.stringify([fs.readlinkSync(path.join(repoDir, 'current')), fs.readFileSync(path.join(repoDir, 'meta', 'last-generation'), 'utf8'), fs.existsSync(tmp) ? fs.readdirSync(tmp) : []]);
  };
  return { base, cli, must, src, repoDir, snap, state };
}

/** Stanzas of a Sources text as field maps keyed by Package. */
function stanzas(text: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const para of text.split(/\n\n+/)) {
    if (para.trim() === '') continue;
    const fields = new Map<string, string>();
    let last = '';
    for (const line of para.split('\n')) {
      if (/^\s/.test(line)) fields.set(last, (fields.get(last)! + '\n' + line.trimEnd()).trim());
      else {
        const i = line.indexOf(':');
        last = line.slice(0, i);
        fields.set(last, line.slice(i + 1).trim());
      }
    }
    out.set(`${fields.get('Package')} ${fields.get('Version')}`, fields);
  }
  return out;
}

const xzcat = (f: string): string => spawnSync('xz', ['-dc', f], { encoding: 'utf8' }).stdout;


describe('deb source packages', () => {
  it('import a .dsc: pool, Sources equal to apt-ftparchive, Release and by-hash, list, verify, remove', (t) => {
    if (!has('apt-ftparchive', ['--help'])) return toolMissing(t, FTPARCHIVE_MISSING);
    const { cli, must, src, snap } = setup();
    const hello = makeSourcePackage(src, { name: 'hello', version: '1.0', extra: 'Vcs-Git: https://example.invalid/hello.git\nTestsuite: autopkgtest\n' });
    const lib = makeSourcePackage(src, { name: 'libfoo', version: '2:0.9~rc1' });
    must(['import', 'apt', hello.dsc]);
    must(['import', 'apt', '--component', 'contrib', lib.dsc]);
    const s = snap();
    for (const f of [hello.dsc, ...hello.files]) assert.equal(sha256(path.join(s, 'pool/main/h/hello', path.basename(f))), sha256(f), f);
    for (const f of [lib.dsc, ...lib.files]) assert.equal(sha256(path.join(s, 'pool/contrib/libf/libfoo', path.basename(f))), sha256(f), f);
    // Sources per component, .gz and .xz with the same text; Release lists all three with by-hash files.
    const main = xzcat(path.join(s, 'dists/bookworm/main/source/Sources.xz'));
    assert.equal(spawnSync('gzip', ['-dc', path.join(s, 'dists/bookworm/main/source/Sources.gz')], { encoding: 'utf8' }).stdout, main);
    const release = fs.readFileSync(path.join(s, 'dists/bookworm/Release'), 'utf8');
    const plainHash = createHash('sha256').update(main).digest('hex');
    assert.match(release, new RegExp(` ${plainHash} +${Buffer.byteLength(main)} main/source/Sources$`, 'm'));
    for (const v of ['Sources.gz', 'Sources.xz']) {
      const h = sha256(path.join(s, 'dists/bookworm/main/source', v));
      assert.match(release, new RegExp(` ${h} +[0-9]+ main/source/${v.replace('.', '\\.')}$`, 'm'));
      assert.ok(fs.existsSync(path.join(s, 'dists/bookworm/main/source/by-hash/SHA256', h)), `${v} by hash`);
    }
    // Field by field against apt-ftparchive over the same pool folders.
    for (const [dir, text] of [['pool/main', main], ['pool/contrib', xzcat(path.join(s, 'dists/bookworm/contrib/source/Sources.xz'))]] as const) {
      const ref = spawnSync('apt-ftparchive', ['sources', dir], { cwd: s, encoding: 'utf8' });
      assert.equal(ref.status, 0, ref.stderr);
      const want = stanzas(ref.stdout);
      const got = stanzas(text);
      assert.deepEqual([...got.keys()], [...want.keys()]);
      for (const [k, w] of want) {
        const g = got.get(k)!;
        for (const [f, v] of w) if (f !== 'Priority' || v !== '') assert.equal(g.get(f), v, `${k}: field ${f}`);
        for (const f of g.keys()) assert.ok(w.has(f), `${k}: field ${f} is not in apt-ftparchive's stanza`);
      }
    }
    assert.equal(stanzas(main).get('hello 1.0')!.get('Directory'), 'pool/main/h/hello');
    // list shows source packages; verify regenerates and checks the Sources and the listed files.
    const listed = cli.json<{ packages: Array<{ name: string; version: string; arch: string; component: string; dists: string[] }> }>(['list', 'apt']).packages;
    assert.deepEqual(
      listed.map((p) => [p.name, p.version, p.arch, p.component, p.dists.join()]),
      [['libfoo', '2:0.9~rc1', 'source', 'contrib', 'bookworm'], ['hello', '1.0', 'source', 'main', 'bookworm']],
    );
    const v = cli.sync(['verify', 'apt']);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    // Removing a listed file while its .dsc stays is refused; removing the .dsc takes its files.
    const tarball = `pool/main/h/hello/${path.basename(hello.files[0]!)}`;
    const refused = cli.sync(['remove', 'apt', tarball]);
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /part of source package pool\/main\/h\/hello\/hello_1\.0\.dsc/);
    must(['remove', 'apt', 'pool/main/h/hello/hello_1.0.dsc']);
    const after = snap();
    assert.ok(!fs.existsSync(path.join(after, tarball)), 'the tarball went with its .dsc');
    assert.equal(xzcat(path.join(after, 'dists/bookworm/main/source/Sources.xz')), '');
    assert.equal(cli.sync(['verify', 'apt']).code, 0);
  });

  it('flat layout: Sources at the root, listed in Release; incremental Sources equal a from-scratch build', (t) => {
    const { base, cli, must, src } = setup();
    must(['create-repo', 'flat', '--format', 'deb', '--dist', 'local', '--flat']);
    must(['create-repo', 'scratch', '--format', 'deb', '--dist', 'local', '--flat']);
    const pkgs = ['alpha', 'beta', 'gamma', 'libdelta'].map((name, i) => makeSourcePackage(src, { name, version: `${i + 1}.0` }));
    for (const p of pkgs) must(['import', 'flat', p.dsc]);
    must(['remove', 'flat', 'pool/main/b/beta/beta_2.0.dsc']);
    must(['import', 'scratch', pkgs[0]!.dsc, pkgs[2]!.dsc, pkgs[3]!.dsc]);
    const a = fs.realpathSync(path.join(base, 'repos', 'flat', 'current'));
    const b = fs.realpathSync(path.join(base, 'repos', 'scratch', 'current'));
    for (const f of ['Sources.xz', 'Sources.gz']) assert.ok(fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f))), `${f} differs from a from-scratch build`);
    const text = xzcat(path.join(a, 'Sources.xz'));
    assert.deepEqual([...stanzas(text).keys()], ['alpha 1.0', 'gamma 3.0', 'libdelta 4.0']);
    assert.match(text, /^Directory: pool\/main\/libd\/libdelta$/m);
    assert.match(fs.readFileSync(path.join(a, 'Release'), 'utf8'), / [0-9a-f]{64} +[0-9]+ Sources$/m);
    assert.equal(cli.sync(['verify', 'flat']).code, 0);
  });

  it('refusals change nothing: listed file missing, other bytes, a wrong md5 or sha1 line, malformed .dsc, bad version', (t) => {
    const { cli, src, state } = setup();
    const refuse = (file: string, re: RegExp) => {
      const before = state();
      const r = cli.sync(['import', 'apt', file]);
      assert.equal(r.code, 3, `${file}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(state(), before, 'nothing changed');
    };
    const mk = (name: string) => {
      const dir = path.join(src, name);
      fs.mkdirSync(dir);
      return makeSourcePackage(dir, { name, version: '1.0' });
    };
    const missing = mk('gone');
    fs.rmSync(missing.files[0]!);
    refuse(missing.dsc, new RegExp(`gone_1\\.0\\.dsc: listed file 'gone_1\\.0\\.tar\\.xz' is missing`));
    const longer = mk('longer');
    fs.appendFileSync(longer.files[0]!, 'x');
    refuse(longer.dsc, /longer_1\.0\.dsc: listed file 'longer_1\.0\.tar\.xz' has [0-9]+ bytes, the listing says [0-9]+/);
    const other = mk('other');
    const bytes = fs.readFileSync(other.files[0]!);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    fs.writeFileSync(other.files[0]!, bytes);
    refuse(other.dsc, /other_1\.0\.dsc: listed file 'other_1\.0\.tar\.xz' has sha256 [0-9a-f]{64}, the listing says [0-9a-f]{64}/);
    // Right bytes by sha256, a wrong md5 (Files) or sha1 line: dpkg-source checks every list, so refused.
    const md5 = mk('md5');
    fs.writeFileSync(md5.dsc, fs.readFileSync(md5.dsc, 'utf8').replace(/^ [0-9a-f]{32}( [0-9]+ md5_1\.0\.tar\.xz)$/m, ` ${'0'.repeat(32)}$1`));
    refuse(md5.dsc, /md5_1\.0\.dsc: listed file 'md5_1\.0\.tar\.xz' has md5 [0-9a-f]{32}, the listing says 0{32}/);
    const sha1 = mk('sha1');
    fs.writeFileSync(sha1.dsc, fs.readFileSync(sha1.dsc, 'utf8').replace(/^ [0-9a-f]{40}( [0-9]+ sha1_1\.0\.tar\.xz)$/m, ` ${'f'.repeat(40)}$1`));
    refuse(sha1.dsc, /sha1_1\.0\.dsc: listed file 'sha1_1\.0\.tar\.xz' has sha1 [0-9a-f]{40}, the listing says f{40}/);
    const bad = path.join(src, 'bad_1.0.dsc');
    fs.writeFileSync(bad, 'this is not a source description\n');
    refuse(bad, /bad_1\.0\.dsc: malformed \.dsc: line 1: not a 'Field: value' line/);
    const noFiles = mk('nofiles');
    fs.writeFileSync(noFiles.dsc, fs.readFileSync(noFiles.dsc, 'utf8').replace(/^Checksums-Sha256:\n( .*\n)+/m, ''));
    refuse(noFiles.dsc, /nofiles_1\.0\.dsc: missing Checksums-Sha256 field/);
    const badVersion = mk('badver');
    fs.writeFileSync(badVersion.dsc, fs.readFileSync(badVersion.dsc, 'utf8').replace(/^Version: 1\.0$/m, 'Version: a1.0'));
    refuse(badVersion.dsc, /badver_1\.0\.dsc: Version 'a1\.0' is not Debian version syntax: version number does not start with digit/);
    const escape = mk('escape');
    fs.writeFileSync(escape.dsc, fs.readFileSync(escape.dsc, 'utf8').replace(/ escape_1\.0\.tar\.xz$/gm, ' ../escape_1.0.tar.xz'));
    refuse(escape.dsc, /escape_1\.0\.dsc: listed file '\.\.\/escape_1\.0\.tar\.xz' is not a plain file name/);
    // A stray tarball on its own is not a package.
    const stray = mk('stray');
    refuse(stray.files[0]!, /stray_1\.0\.tar\.xz: not a \.deb or \.dsc file/);
  });

  it('apt-get source --download-only through a signed deb-src line (rcurepo serve)', async (t) => {
    if (!hasApt()) return toolMissing(t, APT_MISSING);
    if (!has('gpg') || !has('gpgv')) return toolMissing(t, GPG_MISSING);
    const { base, must, src } = setup();
    const { home, fpr } = throwawayKey(base);
    must(['config', 'apt', 'signGnupgHome', home]);
    must(['config', 'apt', 'signKeys', fpr]);
    // Clearsigned like a real upload's .dsc: the armor is stripped, the file is published as it is.
    const pkg = makeSourcePackage(src, { name: 'greeter', version: '1:2.1' });
    const signed = spawnSync('gpg', ['--homedir', home, '--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', '--clearsign', '--output', pkg.dsc + '.asc', pkg.dsc]);
    assert.equal(signed.status, 0, signed.stderr.toString());
    fs.renameSync(pkg.dsc + '.asc', pkg.dsc);
    must(['import', 'apt', pkg.dsc]);
    const key = path.join(base, 'key.gpg');
    fs.writeFileSync(key, spawnSync('gpg', ['--homedir', home, '--batch', '--export', fpr]).stdout);
    const served = await startServe(base);
    try {
      const apt = new AptClient(`deb-src [signed-by=${key}] ${served.url}/apt bookworm main`);
      apt.update();
      const dir = fs.mkdtempSync(path.join(apt.dir, 'download', 'src-'));
      const r = apt.run('apt-get', ['source', '--download-only', 'greeter'], dir);
      assert.equal(r.code, 0, r.out);
      for (const f of [pkg.dsc, ...pkg.files]) assert.equal(sha256(path.join(dir, path.basename(f))), sha256(f), `${path.basename(f)} downloaded intact`);
      t.diagnostic('apt-get source --download-only: .dsc and tarball fetched and checked by apt');
    } finally {
      await served.stop();
    }
  });
});
