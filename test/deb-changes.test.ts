/**
 * Debian `.changes` uploads as a manifest kind: every listed file verified before anything is linked,
 * Distribution choosing (or refusing) the distribution, re-delivery answered from the record, an
 * uploader keyring checked with gpgv (unsigned, bad signature, unknown key refused), and the watcher
 * taking a .changes upload like a .tram one.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { makeDeb } from '../fixtures/gen-deb.js';
import { changesText, makeSourcePackage } from '../fixtures/gen-debsrc.js';
import { cliIn, tempDir } from './helpers/cli.js';
import { throwawayKey } from './helpers/gpg-keys.js';
import { pendingUploads, startWatcher, until, type WatcherChild } from './helpers/hooks-env.js';
import { toolMissing } from './helpers/children.js';

const GPG_MISSING = 'gpg/gpgv not installed: run as root with apt (gnupg, gpgv), or .ci/run installs them';
const hasGpg = (): boolean => spawnSync('gpg', ['--version']).status === 0 && spawnSync('gpgv', ['--version']).status === 0;
const live = new Set<WatcherChild>();
afterEach(() => {
  for (const w of live) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL');
  live.clear();
});
function uploaderKey(dir: string): { home: string; fpr: string; keyring: string } {
  const { home, fpr } = throwawayKey(dir, 'Uploader <u@example.invalid>');
  const keyring = path.join(dir, 'uploaders.gpg');
  fs.writeFileSync(keyring, spawnSync('gpg', ['--homedir', home, '--batch', '--export', fpr]).stdout);
  return { home, fpr, keyring };
}

function clearsign(home: string, file: string): void {
  const r = spawnSync('gpg', ['--homedir', home, '--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', '--clearsign', '--output', file + '.asc', file]);
  assert.equal(r.status, 0, r.stderr.toString());
  fs.renameSync(file + '.asc', file);
}

function setup() {
  const base = tempDir('rcurepo-changes-');
  const cli = cliIn(base);
  const must = (args: string[]) => cli.must(args);
  must(['init']);
  must(['create-repo', 'apt', '--format', 'deb', '--dist', 'bookworm', '--suite', 'stable', '--architectures', 'amd64']);
  must(['add-dist', 'apt', 'trixie', '--suite', 'testing', '--architectures', 'amd64', '--components', 'main']);
  must(['config', 'apt', 'gcAfterPublish', 'false']);
  const repoDir = path.join(base, 'repos', 'apt');
  const state = () => {
    const tmp = path.join(base, 'pool', 'tmp');
    return JSON.stringify([fs.readlinkSync(path.join(repoDir, 'current')), fs.readFileSync(path.join(repoDir, 'meta', 'last-generation'), 'utf8'), fs.existsSync(tmp) ? fs.readdirSync(tmp) : []]);
  };
  const snap = () => fs.realpathSync(path.join(repoDir, 'current'));
  return { base, cli, must, state, snap };
}

/** An upload folder with a source package, a .deb built from it, its debug symbols, a .buildinfo and their .changes. */
function upload(dir: string, name: string, version: string, distribution: string): { changes: string; files: string[] } {
  fs.mkdirSync(dir, { recursive: true });
  const s = makeSourcePackage(dir, { name, version });
  const deb = path.join(dir, `${name}_${version}_amd64.deb`);
  fs.writeFileSync(deb, makeDeb(`Package: ${name}\nSource: ${name}\nVersion: ${version}\nArchitecture: amd64\nMaintainer: Test <t@example.invalid>\nDescription: ${name} binary\n`));
  const buildinfo = path.join(dir, `${name}_${version}_amd64.buildinfo`);
  fs.writeFileSync(buildinfo, `Format: 1.0\nSource: ${name}\nVersion: ${version}\n`);
  const ddeb = path.join(dir, `${name}-dbgsym_${version}_amd64.ddeb`);
  fs.writeFileSync(ddeb, makeDeb(`Package: ${name}-dbgsym\nSource: ${name}\nVersion: ${version}\nArchitecture: amd64\nMaintainer: Test <t@example.invalid>\nSection: debug\nDescription: debug symbols for ${name}\n`));
  const files = [s.dsc, ...s.files, deb, ddeb, buildinfo];
  const changes = path.join(dir, `${name}_${version}_amd64.changes`);
  fs.writeFileSync(changes, changesText({ source: name, version, distribution, files }));
  return { changes, files };
}

describe('.changes uploads', () => {
  it('import REPO x.changes: verified files, Distribution, re-delivery, refusals that change nothing', (t) => {
    const { base, cli, state, snap } = setup();
    const up = upload(path.join(base, 'up1'), 'hello', '1.0', 'testing');
    const r = cli.json<{ published: boolean; generation: number; added: string[] }>(['import', 'apt', up.changes]);
    assert.equal(r.published, true);
    assert.deepEqual(r.added.sort(), ['pool/main/h/hello/hello_1.0.dsc', 'pool/main/h/hello/hello_1.0.tar.xz', 'pool/main/h/hello/hello_1.0_amd64.deb']);
    const s = snap();
    assert.match(spawnSync('xz', ['-dc', path.join(s, 'dists/trixie/main/source/Sources.xz')], { encoding: 'utf8' }).stdout, /^Package: hello$/m);
    assert.match(spawnSync('xz', ['-dc', path.join(s, 'dists/trixie/main/binary-amd64/Packages.xz')], { encoding: 'utf8' }).stdout, /^Filename: pool\/main\/h\/hello\/hello_1\.0_amd64\.deb$/m);
    assert.ok(!fs.readdirSync(path.join(s, 'pool/main/h/hello')).some((n) => n.endsWith('.buildinfo')), 'build records are checked, not published');
    assert.ok(!fs.readdirSync(path.join(s, 'pool/main/h/hello')).some((n) => n.endsWith('.ddeb')), 'debug symbols are checked, not published');
    // Delivered again: answered from the record, nothing imported.
    const again = cli.json<{ published: boolean; alreadyPublished?: number }>(['import', 'apt', up.changes]);
    assert.equal(again.published, false);
    assert.equal(again.alreadyPublished, r.generation);
    const refuse = (file: string, code: number, re: RegExp) => {
      const before = state();
      const x = cli.sync(['import', 'apt', file]);
      assert.equal(x.code, code, `${file}: ${x.stdout}${x.stderr}`);
      assert.match(x.stderr, re);
      assert.equal(state(), before, 'nothing changed');
    };
    // A distribution the repository does not have is refused, naming it.
    const elsewhere = upload(path.join(base, 'up2'), 'world', '1.0', 'sid');
    refuse(elsewhere.changes, 3, /world_1\.0_amd64\.changes: Distribution 'sid' is not one of repository 'apt''s \(bookworm, trixie\)/);
    // A listed file missing, or with other bytes: refused before anything is linked.
    const missing = upload(path.join(base, 'up3'), 'gone', '1.0', 'bookworm');
    fs.rmSync(missing.files[2]!);
    refuse(missing.changes, 3, /gone_1\.0_amd64\.changes: 'gone_1\.0_amd64\.deb' is missing/);
    const changed = upload(path.join(base, 'up4'), 'changed', '1.0', 'bookworm');
    const deb = fs.readFileSync(changed.files[2]!);
    deb[deb.length - 1] = deb[deb.length - 1]! ^ 0xff;
    fs.writeFileSync(changed.files[2]!, deb);
    refuse(changed.changes, 3, /changed_1\.0_amd64\.changes: 'changed_1\.0_amd64\.deb' has sha256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}/);
    const badinfo = upload(path.join(base, 'up5'), 'badinfo', '1.0', 'bookworm');
    fs.appendFileSync(badinfo.files.at(-1)!, 'more\n');
    refuse(badinfo.changes, 3, /badinfo_1\.0_amd64\.changes: 'badinfo_1\.0_amd64\.buildinfo' has [0-9]+ bytes, the manifest says [0-9]+/);
    // Debug symbols are not published, but checked like the rest.
    const badsym = upload(path.join(base, 'up6'), 'badsym', '1.0', 'bookworm');
    fs.appendFileSync(badsym.files.find((f) => f.endsWith('.ddeb'))!, 'x');
    refuse(badsym.changes, 3, /badsym_1\.0_amd64\.changes: 'badsym-dbgsym_1\.0_amd64\.ddeb' has [0-9]+ bytes, the manifest says [0-9]+/);
    // An installer package (.udeb) has indexes of its own (debian-installer/), which rcurepo does not write.
    const installer = upload(path.join(base, 'up7'), 'inst', '1.0', 'bookworm');
    const udeb = path.join(base, 'up7', 'inst-udeb_1.0_amd64.udeb');
    fs.writeFileSync(udeb, makeDeb('Package: inst-udeb\nSource: inst\nVersion: 1.0\nArchitecture: amd64\nMaintainer: Test <t@example.invalid>\nSection: debian-installer\nDescription: installer part\n'));
    fs.writeFileSync(installer.changes, changesText({ source: 'inst', version: '1.0', distribution: 'bookworm', files: [...installer.files, udeb] }));
    refuse(installer.changes, 3, /inst-udeb_1\.0_amd64\.udeb: not a \.deb or \.dsc file/);
    const malformed = path.join(base, 'bad.changes');
    fs.writeFileSync(malformed, 'Format: 1.8\nDistribution: bookworm\n');
    refuse(malformed, 3, /bad\.changes: missing Checksums-Sha256 field/);
    assert.equal(cli.sync(['verify', 'apt']).code, 0);
  });

  it('a new revision uploaded without its orig tarball uses the published one; removing a revision keeps the shared orig', (t) => {
    const { base, cli, must, state, snap } = setup();
    const dir = path.join(base, 'quilt');
    fs.mkdirSync(dir);
    const first = makeSourcePackage(dir, { name: 'patched', version: '1.0-1', quilt: true });
    const orig = first.files.find((f) => f.endsWith('.orig.tar.gz'))!;
    fs.writeFileSync(path.join(dir, 'r1.changes'), changesText({ source: 'patched', version: '1.0-1', distribution: 'bookworm', files: [first.dsc, ...first.files], architecture: 'source' }));
    must(['import', 'apt', path.join(dir, 'r1.changes')]);
    const second = makeSourcePackage(dir, { name: 'patched', version: '1.0-2', quilt: true });
    assert.ok(second.files.includes(orig), 'both revisions list the same orig tarball');
    const without = second.files.filter((f) => f !== orig);
    fs.writeFileSync(path.join(dir, 'r2.changes'), changesText({ source: 'patched', version: '1.0-2', distribution: 'bookworm', files: [second.dsc, ...without], architecture: 'source' }));
    // The orig is neither in the upload nor in the folder: the repository's copy (same bytes) is used.
    fs.rmSync(orig);
    const r = cli.json<{ added: string[] }>(['import', 'apt', path.join(dir, 'r2.changes')]);
    assert.deepEqual(r.added.sort(), ['pool/main/p/patched/patched_1.0-2.debian.tar.xz', 'pool/main/p/patched/patched_1.0-2.dsc']);
    assert.equal(cli.sync(['verify', 'apt']).code, 0);
    const third = makeSourcePackage(dir, { name: 'patched', version: '1.0-3', quilt: true });
    const badOrig = third.files.find((f) => f.endsWith('.orig.tar.gz'))!;
    // The .dsc says other bytes for the orig than the repository has, and the upload leaves the orig out.
    fs.rmSync(badOrig);
    fs.writeFileSync(third.dsc, fs.readFileSync(third.dsc, 'utf8').replace(/^ [0-9a-f]{64}( [0-9]+ patched_1\.0\.orig\.tar\.gz)$/m, ` ${'1'.repeat(64)}$1`));
    fs.writeFileSync(path.join(dir, 'r3.changes'), changesText({ source: 'patched', version: '1.0-3', distribution: 'bookworm', files: [third.dsc, ...third.files.filter((f) => f !== badOrig)], architecture: 'source' }));
    const before = state();
    const x = cli.sync(['import', 'apt', path.join(dir, 'r3.changes')]);
    assert.equal(x.code, 3, x.stderr);
    assert.match(x.stderr, /patched_1\.0-3\.dsc: 'patched_1\.0\.orig\.tar\.gz' is missing/);
    assert.equal(state(), before);
    // Removing the first revision keeps the orig (the second lists it); removing the second takes it.
    must(['remove', 'apt', 'pool/main/p/patched/patched_1.0-1.dsc']);
    assert.ok(fs.existsSync(path.join(snap(), 'pool/main/p/patched/patched_1.0.orig.tar.gz')));
    assert.ok(!fs.existsSync(path.join(snap(), 'pool/main/p/patched/patched_1.0-1.debian.tar.xz')));
    must(['remove', 'apt', 'pool/main/p/patched/patched_1.0-2.dsc']);
    assert.deepEqual(fs.existsSync(path.join(snap(), 'pool/main/p/patched')) ? fs.readdirSync(path.join(snap(), 'pool/main/p/patched')) : [], []);
  });

  it('uploadKeyring: only .changes clearsigned by a key of the keyring are accepted', (t) => {
    if (!hasGpg()) return toolMissing(t, GPG_MISSING);
    const { base, cli, must, state } = setup();
    const good = uploaderKey(path.join(base, 'good'));
    const stranger = uploaderKey(path.join(base, 'stranger'));
    const armored = path.join(base, 'armored.asc');
    fs.writeFileSync(armored, spawnSync('gpg', ['--homedir', good.home, '--batch', '--armor', '--export', good.fpr]).stdout);
    const cfg = cli.sync(['config', 'apt', 'uploadKeyring', armored]);
    assert.equal(cfg.code, 3, 'an armored key is not a keyring gpgv reads');
    assert.match(cfg.stderr, /armored key; gpgv needs a binary keyring/);
    must(['config', 'apt', 'uploadKeyring', good.keyring]);
    assert.match(must(['config', 'apt']).stdout, new RegExp(`uploadKeyring = ${good.keyring.replace(/[.]/g, '\\.')}`));
    const refuse = (file: string, re: RegExp) => {
      const before = state();
      const x = cli.sync(['import', 'apt', file]);
      assert.equal(x.code, 3, `${file}: ${x.stdout}${x.stderr}`);
      assert.match(x.stderr, re);
      assert.equal(state(), before, 'nothing changed');
    };
    const unsigned = upload(path.join(base, 'u1'), 'plain', '1.0', 'bookworm');
    refuse(unsigned.changes, /plain_1\.0_amd64\.changes: not signed; this repository accepts uploads clearsigned by a key of its uploadKeyring/);
    const foreign = upload(path.join(base, 'u2'), 'foreign', '1.0', 'bookworm');
    clearsign(stranger.home, foreign.changes);
    refuse(foreign.changes, /foreign_1\.0_amd64\.changes: signature refused: signed by a key that is not in the uploadKeyring/);
    const tampered = upload(path.join(base, 'u3'), 'tampered', '1.0', 'bookworm');
    clearsign(good.home, tampered.changes);
    fs.writeFileSync(tampered.changes, fs.readFileSync(tampered.changes, 'utf8').replace('Urgency: medium', 'Urgency: high'));
    refuse(tampered.changes, /tampered_1\.0_amd64\.changes: signature refused: bad signature/);
    const ok = upload(path.join(base, 'u4'), 'signed', '1.0', 'bookworm');
    clearsign(good.home, ok.changes);
    const r = cli.json<{ published: boolean; added: string[] }>(['import', 'apt', ok.changes]);
    assert.equal(r.published, true);
    assert.ok(r.added.includes('pool/main/s/signed/signed_1.0.dsc'));
    // A .tram cannot be signed: with a keyring set it is refused too.
    const tram = path.join(base, 'u4', 'x.tram');
    fs.writeFileSync(tram, `[manifest]\nversion = "1.0"\ntarget = "apt"\n\n[[file]]\npath = "signed_1.0_amd64.deb"\nsha256 = "${'0'.repeat(64)}"\n`);
    refuse(tram, /x\.tram: not signed/);
  });

  it('watch picks up a .changes upload and deletes what it imported', async (t) => {
    const { base, cli } = setup();
    const inc = path.join(base, 'incoming');
    fs.mkdirSync(inc);
    const w = startWatcher(base, ['--incoming', inc, '--repo', 'apt', '--settle', '0.2', '--poll', '0.05']);
    live.add(w);
    await until('start event', () => w.events.some((e) => e.event === 'start'));
    // Built elsewhere, then moved in: the files first, the .changes (the commit signal) last.
    const up = upload(path.join(base, 'build'), 'watched', '1.0', 'stable');
    for (const f of up.files) fs.renameSync(f, path.join(inc, path.basename(f)));
    fs.renameSync(up.changes, path.join(inc, path.basename(up.changes)));
    // The watcher deletes what it imported, then logs the acceptance: wait for the log line.
    await until('.changes accepted', () => w.events.some((e) => e.event === 'accepted' && e.name === 'watched_1.0_amd64.changes'), 60_000).catch((e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify(w.events)}`);
    });
    assert.deepEqual(pendingUploads(inc), []);
    const paths = cli.json<{ entries: Array<{ path: string }> }>(['list', 'apt']).entries.map((e) => e.path);
    for (const p of ['pool/main/w/watched/watched_1.0.dsc', 'pool/main/w/watched/watched_1.0.tar.xz', 'pool/main/w/watched/watched_1.0_amd64.deb']) assert.ok(paths.includes(p), p);
    w.proc.kill('SIGTERM');
    assert.equal((await w.exit).code, 0, w.stderr());
  });
});
