/**
 * copy-source, remove-source and trim-packages for deb repositories through the real CLI, with versions
 * whose order only dpkg's rules give (epochs, `~`, binNMUs); dpkg --compare-versions checks the
 * expected order when dpkg is installed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { debRepos, dpkgLess, type Tx } from './helpers/deb-repos.js';
import { makeSourcePackage } from '../fixtures/gen-debsrc.js';

const ARCHS = ['--dist', 'bookworm', '--architectures', 'amd64,arm64'];

function sourcesFixture() {
  const r = debRepos({ testing: ARCHS, stable: ARCHS, small: ['--dist', 'bookworm', '--architectures', 'amd64'] });
  const { deb, must } = r;
  must(['import', 'testing',
    deb('hello', '1:2.0-1', 'amd64', { Source: 'hello-src' }),
    deb('hello-doc', '1:2.0-1', 'all', { Source: 'hello-src' }),
    // A binNMU: its own version, built from source 1:2.0-1.
    deb('hello-tools', '1:2.0-1+b1', 'arm64', { Source: 'hello-src (1:2.0-1)' }),
    deb('hello', '2.1~rc1-1', 'amd64', { Source: 'hello-src' }),
    deb('hello', '1:2.0~rc1-1', 'amd64', { Source: 'hello-src' }),
    deb('other', '1.0', 'amd64'),
  ]);
  return r;
}

const V200 = ['hello 1:2.0-1 amd64', 'hello-doc 1:2.0-1 all', 'hello-tools 1:2.0-1+b1 arm64'];

describe('copy-source and remove-source for deb repositories', () => {
  it('copy-source takes every binary of a source, or of one source version (epoch and binNMU included)', () => {
    const { cli, ids } = sourcesFixture();
    const one = cli.json<Tx>(['copy-source', 'testing', 'stable', 'hello-src', '1:2.0-1']);
    assert.equal(one.published, true);
    assert.deepEqual(ids('stable'), V200);
    // Without the epoch it is another version: nothing matches, nothing changes.
    const miss = cli.sync(['copy-source', 'testing', 'stable', 'hello-src', '2.0-1']);
    assert.equal(miss.code, 5, miss.stderr);
    assert.match(miss.stderr, /no builds of source 'hello-src' version 2\.0-1 in 'testing'/);
    assert.equal(cli.sync(['copy-source', 'testing', 'stable', 'hello-src', 'not a version']).code, 2);
    cli.json<Tx>(['copy-source', 'testing', 'stable', 'hello-src']);
    assert.deepEqual(ids('stable'), [...V200, 'hello 1:2.0~rc1-1 amd64', 'hello 2.1~rc1-1 amd64'].sort());
    assert.equal(cli.json<Tx>(['copy-source', 'testing', 'stable', 'hello-src']).published, false, 'nothing left to copy');
    // A package without a Source field is its own source.
    cli.json<Tx>(['copy-source', 'testing', 'stable', 'other']);
    assert.ok(ids('stable').includes('other 1.0 amd64'));
  });

  it('copy-source leaves out what the target does not publish, and says so', () => {
    const { cli, ids } = sourcesFixture();
    const r = cli.json<Tx>(['copy-source', 'testing', 'small', 'hello-src', '1:2.0-1']);
    assert.deepEqual(ids('small'), ['hello 1:2.0-1 amd64', 'hello-doc 1:2.0-1 all']);
    assert.ok(r.notes.some((n) => /hello-tools 1:2\.0-1\+b1 arm64 \(main\): small publishes no arm64 in component main; left out/.test(n)), r.notes.join('\n'));
  });

  it('the same package file with other bytes in the target is refused with both hashes; nothing changes', () => {
    const { cli, deb, must, current } = sourcesFixture();
    must(['import', 'stable', deb('other', '1.0', 'amd64', { Homepage: 'https://example.invalid/rebuilt' })]);
    const gen = current('stable');
    const r = cli.sync(['copy-source', 'testing', 'stable', 'other']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /pool\/main\/o\/other\/other_1\.0_amd64\.deb: stable already has other 1\.0 amd64 with other content \(sha256 [0-9a-f]{64}, incoming [0-9a-f]{64}\)/);
    assert.equal(current('stable'), gen);
    assert.equal(cli.sync(['promote', 'testing', 'stable', 'other']).code, 4, 'promote refuses it alike');
  });

  it('remove-source removes one source version, then the rest; other sources stay', () => {
    const { cli, ids, current } = sourcesFixture();
    // Versions are equal by dpkg's rules, not as text: 1:02.0-1 is 1:2.0-1.
    const rm = cli.json<Tx>(['remove-source', 'testing', 'hello-src', '1:02.0-1']);
    assert.equal(rm.removed.length, 3);
    assert.deepEqual(ids('testing'), ['hello 1:2.0~rc1-1 amd64', 'hello 2.1~rc1-1 amd64', 'other 1.0 amd64']);
    const gen = current('testing');
    assert.equal(cli.sync(['remove-source', 'testing', 'hello-src', '1:2.0-1']).code, 5);
    assert.equal(current('testing'), gen, 'a refused removal publishes nothing');
    cli.json<Tx>(['remove-source', 'testing', 'hello-src']);
    assert.deepEqual(ids('testing'), ['other 1.0 amd64']);
    assert.equal(cli.sync(['verify', 'testing']).code, 0);
  });
});

describe('copy-source and remove-source move source packages (.dsc) with their binaries', () => {
  it('a .dsc goes with the files it lists; an orig tarball stays while another revision lists it', (t) => {
    const { base, cli, deb, must, ids } = debRepos({ testing: ARCHS, stable: ARCHS });
    const dir = path.join(base, 'src');
    fs.mkdirSync(dir);
    // Two revisions of one upstream version: they share hello-src_1.0.orig.tar.gz.
    const r1 = makeSourcePackage(dir, { name: 'hello-src', version: '1.0-1', quilt: true });
    const r2 = makeSourcePackage(dir, { name: 'hello-src', version: '1.0-2', quilt: true });
    must(['import', 'testing', r1.dsc, r2.dsc, deb('hello', '1.0-1', 'amd64', { Source: 'hello-src' }), deb('hello', '1.0-2', 'amd64', { Source: 'hello-src' })]);
    const folder = 'pool/main/h/hello-src';
    const files = (repo: string) => {
      const at = path.join(base, 'repos', repo, 'current', folder);
      return fs.existsSync(at) ? fs.readdirSync(at).sort() : [];
    };
    // What apt fetches: Sources.xz (the plain Sources is listed in Release, not shipped).
    const sourcesIndex = (repo: string) => execFileSync('xz', ['-dc', path.join(base, 'repos', repo, 'current', 'dists/bookworm/main/source/Sources.xz')], { encoding: 'utf8' });
    const rev1 = ['hello-src_1.0-1.debian.tar.xz', 'hello-src_1.0-1.dsc', 'hello-src_1.0.orig.tar.gz'];
    const rev2 = ['hello-src_1.0-2.debian.tar.xz', 'hello-src_1.0-2.dsc', 'hello-src_1.0.orig.tar.gz'];
    assert.deepEqual(rev1.map((f) => path.basename(r1.files.find((x) => x.endsWith(f)) ?? r1.dsc)).sort(), rev1, 'the fixture lists what this test expects');

    const copy = cli.json<Tx>(['copy-source', 'testing', 'stable', 'hello-src', '1.0-1']);
    assert.equal(copy.published, true);
    assert.deepEqual(ids('stable'), ['hello 1.0-1 amd64', 'hello-src 1.0-1 source']);
    assert.deepEqual(files('stable'), [...rev1, 'hello_1.0-1_amd64.deb'].sort(), 'the binary, the .dsc of 1.0-1 and the files it lists');
    assert.match(sourcesIndex('stable'), /^Package: hello-src\n(?:.+\n)*?Version: 1\.0-1\n/m);
    assert.doesNotMatch(sourcesIndex('stable'), /^Version: 1\.0-2$/m);

    const rm = cli.json<Tx>(['remove-source', 'testing', 'hello-src', '1.0-1']);
    assert.deepEqual(rm.removed.map((p) => path.basename(p)).sort(), ['hello-src_1.0-1.debian.tar.xz', 'hello-src_1.0-1.dsc', 'hello_1.0-1_amd64.deb']);
    assert.deepEqual(files('testing'), [...new Set([...rev2, 'hello_1.0-2_amd64.deb'])].sort(), 'the orig stays: 1.0-2 lists it');
    cli.json<Tx>(['remove-source', 'testing', 'hello-src']);
    assert.deepEqual(files('testing'), []);
    assert.doesNotMatch(sourcesIndex('testing'), /hello-src/);
    for (const repo of ['testing', 'stable']) assert.equal(cli.sync(['verify', repo]).code, 0);
  });
});

describe('trim-packages for deb repositories', () => {
  it('keeps the newest KEEP versions of each package and architecture by dpkg order', () => {
    const { cli, deb, must, ids } = debRepos({ apt: ARCHS });
    // Newest last, by dpkg's rules: ~ sorts before the end, rc2 < rc10 numerically, an epoch beats all.
    const amd64 = ['1.9-1', '2.0~rc2-1', '2.0~rc10-1', '2.0-1', '1:0.5-1'];
    const arm64 = ['1.0-1', '1.0-1+b1'];
    const all = ['1.0~beta', '1.0', '1.0.1'];
    for (const order of [amd64, arm64, all]) {
      for (let i = 1; i < order.length; i++) {
        const less = dpkgLess(order[i - 1]!, order[i]!);
        if (less !== undefined) assert.ok(less, `dpkg orders ${order[i - 1]} before ${order[i]}`);
      }
    }
    // Imported out of order, so neither import order nor file names give the answer.
    must(['import', 'apt', ...[...amd64].reverse().map((v) => deb('tool', v, 'amd64')), ...arm64.map((v) => deb('tool', v, 'arm64')), ...[all[1]!, all[0]!, all[2]!].map((v) => deb('tool-data', v, 'all'))]);
    const dry = cli.json<Tx>(['trim-packages', 'apt', '2', '--dry-run']);
    assert.equal(dry.published, false);
    const r = cli.json<Tx>(['trim-packages', 'apt', '2']);
    assert.deepEqual(r.removed.slice().sort(), dry.removed.slice().sort());
    const expect = [...amd64.slice(-2).map((v) => `tool ${v} amd64`), ...arm64.map((v) => `tool ${v} arm64`), ...all.slice(-2).map((v) => `tool-data ${v} all`)].sort();
    assert.deepEqual(ids('apt'), expect);
    cli.json<Tx>(['trim-packages', 'apt', '1']);
    assert.deepEqual(ids('apt'), ['tool 1:0.5-1 amd64', 'tool 1.0-1+b1 arm64', 'tool-data 1.0.1 all'].sort());
    assert.equal(cli.json<Tx>(['trim-packages', 'apt', '1']).published, false, 'nothing more to trim');
    assert.equal(cli.sync(['trim-packages', 'apt', '0']).code, 2, 'KEEP 0 would remove the newest');
    assert.equal(cli.sync(['verify', 'apt']).code, 0);
  });
});
