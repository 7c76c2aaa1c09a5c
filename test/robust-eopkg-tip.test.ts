/**
 * eopkg: one release is one build. A second, different build of a name and release is refused (both
 * files and hashes named) unless --replace, by import and by every command that links builds between
 * repositories; and the index, `list`, clone/pull/promote all pick the same tip (one rule).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { cliIn, tempDir } from './helpers/cli.js';
import { xzStore, zip } from '../fixtures/archives.js';
import { planChunks } from '../src/formats/eopkg/index-builder.js';
import { parseAssetTexts } from '../src/formats/eopkg/assets.js';
import { tips, eopkgBuilds } from '../src/commands/lifecycle/packages.js';
import type { TreeEntry } from '../src/formats/format.js';

function pkg(dir: string, version: string, release: number): { file: string; sha256: string } {
  const meta =
    `<PISI><Source><Name>flolota</Name></Source><Package><Name>flolota</Name><Summary xml:lang="en">Flolota</Summary>` +
    `<Description xml:lang="en">Flolota ${version}</Description>` +
    `<History><Update release="${release}"><Date>2024-01-01</Date><Version>${version}</Version><Comment>x</Comment><Name>a</Name><Email>a@b</Email></Update></History>` +
    `<Distribution>Solus</Distribution><DistributionRelease>1</DistributionRelease><Architecture>x86_64</Architecture><InstalledSize>10</InstalledSize></Package></PISI>`;
  const bytes = zip(
    [
      { name: 'metadata.xml', data: Buffer.from(meta), deflate: true },
      { name: 'files.xml', data: Buffer.from('<Files/>'), deflate: true },
      { name: 'install.tar.xz', data: xzStore(Buffer.from(version)), deflate: false },
    ],
    new Date('2024-01-01T00:00:00Z'),
  );
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `flolota-${version}-${release}-1-x86_64.eopkg`);
  fs.writeFileSync(file, bytes);
  return { file, sha256: createHash('sha256').update(bytes).digest('hex') };
}

function setup() {
  const dir = tempDir('rcurepo-tip-');
  const base = path.join(dir, 'base');
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  for (const r of ['unstable', 'stable']) {
    assert.equal(cli.sync(['create-repo', r, '--format', 'eopkg']).code, 0);
    assert.equal(cli.sync(['config', r, 'gcAfterPublish', 'false']).code, 0);
  }
  const indexed = (repo: string) => [...fs.readFileSync(path.join(base, 'repos', repo, 'current/eopkg-index.xml'), 'utf8').matchAll(/<PackageURI>([^<]+)<\/PackageURI>/g)].map((m) => m[1]);
  const listed = (repo: string) => cli.json<{ packages: Array<{ path: string; tip: boolean }> }>(['list', repo]).packages;
  return { dir, base, cli, indexed, listed };
}

test('a second build of one name and release is refused with both files and hashes, unless --replace', () => {
  const { dir, base, cli, indexed, listed } = setup();
  const a = pkg(path.join(dir, 'a'), '2.5.2', 17);
  const b = pkg(path.join(dir, 'b'), '2.5.9', 17);
  assert.equal(cli.sync(['import', 'unstable', a.file]).code, 0);
  const gen = fs.readlinkSync(path.join(base, 'repos/unstable/current'));
  const r = cli.sync(['import', 'unstable', b.file]);
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /flolota release 17/);
  assert.ok(r.stderr.includes('flolota-2.5.2-17-1-x86_64.eopkg') && r.stderr.includes(a.sha256), r.stderr);
  assert.ok(r.stderr.includes('flolota-2.5.9-17-1-x86_64.eopkg') && r.stderr.includes(b.sha256), r.stderr);
  assert.match(r.stderr, /--replace/);
  assert.equal(fs.readlinkSync(path.join(base, 'repos/unstable/current')), gen, 'nothing published');
  // Two at once in one call are refused the same way.
  const both = cli.sync(['import', 'stable', a.file, b.file]);
  assert.equal(both.code, 4, both.stderr);
  // --replace publishes the new build in place of the old one.
  const rep = cli.sync(['import', 'unstable', b.file, '--replace']);
  assert.equal(rep.code, 0, rep.stderr);
  const pkgs = listed('unstable');
  assert.deepEqual(pkgs.map((p) => path.posix.basename(p.path)), ['flolota-2.5.9-17-1-x86_64.eopkg']);
  assert.deepEqual(indexed('unstable').map((p) => path.posix.basename(p!)), ['flolota-2.5.9-17-1-x86_64.eopkg']);
  assert.equal(cli.sync(['verify']).code, 0);
});

test('copying builds between repositories cannot make two builds of one release either', () => {
  const { dir, base, cli } = setup();
  const a = pkg(path.join(dir, 'a'), '2.5.2', 17);
  const b = pkg(path.join(dir, 'b'), '2.5.9', 17);
  assert.equal(cli.sync(['import', 'stable', a.file]).code, 0);
  assert.equal(cli.sync(['import', 'unstable', b.file]).code, 0);
  const gen = fs.readlinkSync(path.join(base, 'repos/stable/current'));
  const r = cli.sync(['copy-source', 'unstable', 'stable', 'flolota']);
  assert.equal(r.code, 4, r.stdout + r.stderr);
  assert.ok(r.stderr.includes(a.sha256) && r.stderr.includes(b.sha256), r.stderr);
  assert.equal(fs.readlinkSync(path.join(base, 'repos/stable/current')), gen);
});

test('one tip rule: the index, list and the lifecycle commands pick the same build on a tie', () => {
  // A repository made before the rule may hold two builds of one release (and one file in two folders).
  const e = (p: string, sha: string): TreeEntry => ({ path: p, sha256: sha.repeat(64).slice(0, 64), size: 1 });
  const entries = [
    e('f/flolota/flolota-2.5.9-17-1-x86_64.eopkg', 'a'),
    e('f/flolota/flolota-2.5.2-17-1-x86_64.eopkg', 'b'),
    e('n/nano/nano-1.0-5-1-x86_64.eopkg', 'c'),
    e('n/nano2/nano-1.0-5-1-x86_64.eopkg', 'd'),
    e('n/nano/nano-0.9-4-1-x86_64.eopkg', 'e'),
  ];
  for (const order of [entries, [...entries].reverse()]) {
    const index = planChunks(order, parseAssetTexts({})).listed.sort();
    const lifecycle = [...tips(eopkgBuilds(order)).values()].map((t) => t.entry.path).sort();
    assert.deepEqual(index, ['f/flolota/flolota-2.5.9-17-1-x86_64.eopkg', 'n/nano2/nano-1.0-5-1-x86_64.eopkg']);
    assert.deepEqual(lifecycle, index);
  }
});
