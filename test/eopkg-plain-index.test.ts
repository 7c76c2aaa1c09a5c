/** plainIndex: eopkg clients fetch only eopkg-index.xml.xz and its .sha1sum; the plain XML is optional. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { ROOT, cliIn, tempDir } from './helpers/cli.js';

const FIXTURES = path.join(ROOT, 'fixtures', 'eopkg');
const pkgs = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.eopkg')).map((f) => path.join(FIXTURES, f));
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

test('plainIndex off publishes the .xz and its sums only; verify passes across a change of the setting', () => {
  const base = path.join(tempDir(), 'base');
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  assert.equal(cli.sync(['create-repo', 'e', '--format', 'eopkg']).code, 0);
  assert.equal(cli.sync(['import', 'e', pkgs[0]!]).code, 0);
  const withPlain = fs.realpathSync(path.join(base, 'repos', 'e', 'current'));
  assert.ok(fs.existsSync(path.join(withPlain, 'eopkg-index.xml')));
  assert.equal(cli.sync(['config', 'e', 'plainIndex', 'false']).code, 0);
  assert.equal(cli.sync(['import', 'e', ...pkgs.slice(1)]).code, 0);
  const cur = fs.realpathSync(path.join(base, 'repos', 'e', 'current'));
  const names = fs.readdirSync(cur).filter((n) => n.startsWith('eopkg-index')).sort();
  assert.deepEqual(names, ['eopkg-index.xml.xz', 'eopkg-index.xml.xz.sha1sum', 'eopkg-index.xml.xz.sha256sum']);
  const xz = fs.readFileSync(path.join(cur, 'eopkg-index.xml.xz'));
  assert.equal(fs.readFileSync(path.join(cur, 'eopkg-index.xml.xz.sha1sum'), 'utf8').trim(), sha1(xz));
  const xml = execFileSync('xz', ['-d', '-c'], { input: xz });
  for (const name of ['quyam', 'libdexflo']) assert.ok(xml.includes(`<Name>${name}</Name>`), `${name} listed`);
  const v = cli.sync(['verify', '--deep']);
  assert.equal(v.code, 0, v.stdout + v.stderr); // generation with and without the plain XML both verify
  // Back on: the next publish brings the XML back, identical to the .xz's content.
  assert.equal(cli.sync(['config', 'e', 'plainIndex', 'true']).code, 0);
  assert.equal(cli.sync(['rollback', 'e', '2']).code, 0);
  const again = fs.realpathSync(path.join(base, 'repos', 'e', 'current'));
  const plainXml = fs.readFileSync(path.join(again, 'eopkg-index.xml'));
  assert.deepEqual(execFileSync('xz', ['-d', '-c'], { input: fs.readFileSync(path.join(again, 'eopkg-index.xml.xz')) }), plainXml);
  assert.equal(fs.readFileSync(path.join(again, 'eopkg-index.xml.sha1sum'), 'utf8').trim(), sha1(plainXml));
  const v2 = cli.sync(['verify', '--deep']);
  assert.equal(v2.code, 0, v2.stdout + v2.stderr);
});

test('verify reports a plain XML that contradicts its .xz when plainIndex is off', () => {
  const base = path.join(tempDir(), 'base');
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  assert.equal(cli.sync(['create-repo', 'e', '--format', 'eopkg']).code, 0);
  assert.equal(cli.sync(['config', 'e', 'plainIndex', 'false']).code, 0);
  assert.equal(cli.sync(['import', 'e', ...pkgs]).code, 0);
  const cur = fs.realpathSync(path.join(base, 'repos', 'e', 'current'));
  // Tamper: a stray sum for a plain XML that is not there.
  fs.writeFileSync(path.join(cur, 'eopkg-index.xml.sha1sum'), '0'.repeat(40) + '\n');
  const v = cli.sync(['verify']);
  assert.equal(v.code, 8, v.stdout);
  assert.match(v.stdout, /eopkg-index\.xml/);
});
