import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { xzStore, zip } from '../fixtures/archives.js';
import { generatePackages } from '../fixtures/gen-eopkg.js';
import { eopkgFormat, parseFileName, sourceFolder, type EopkgMeta } from '../src/formats/eopkg/index.js';
import { RcuError } from '../src/util/errors.js';
import { runSync } from './helpers/cli.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const fixtures = path.join(root, 'fixtures', 'eopkg');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eopkg-place-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function incoming(file: string, relPath = path.basename(file)) {
  const b = fs.readFileSync(file);
  return {
    source: file,
    relPath,
    copyPath: file,
    sha1: createHash('sha1').update(b).digest('hex'),
    sha256: createHash('sha256').update(b).digest('hex'),
    size: b.length,
  };
}

let n = 0;
function writeTmp(name: string, bytes: Buffer): string {
  const dir = path.join(tmp, String(n++));
  fs.mkdirSync(dir);
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
}

const GOOD_META = (o: { name?: string; release?: string; version?: string; distrel?: string; arch?: string; history?: boolean; extra?: string } = {}): string =>
  `<PISI><Source><Name>demo</Name></Source><Package><Name>${o.name ?? 'demo'}</Name><Summary xml:lang="en">Demo</Summary>` +
  `<Description xml:lang="en">Demo package</Description>${o.extra ?? ''}` +
  (o.history === false ? '' : `<History><Update release="${o.release ?? '3'}"><Date>2024-01-01</Date><Version>${o.version ?? '1.10'}</Version><Comment>x</Comment><Name>a</Name><Email>a@b</Email></Update></History>`) +
  `<Distribution>Solus</Distribution><DistributionRelease>${o.distrel ?? '1'}</DistributionRelease><Architecture>${o.arch ?? 'x86_64'}</Architecture><InstalledSize>10</InstalledSize></Package></PISI>`;

function pkgBytes(metadata: string | Buffer | undefined, opts: { members?: string[] } = {}): Buffer {
  const m = [];
  if (metadata !== undefined) m.push({ name: 'metadata.xml', data: Buffer.isBuffer(metadata) ? metadata : Buffer.from(metadata), deflate: true });
  m.push({ name: 'files.xml', data: Buffer.from('<Files/>'), deflate: true });
  m.push({ name: 'install.tar.xz', data: xzStore(Buffer.alloc(1024)), deflate: false });
  return zip(m.filter((x) => !opts.members || opts.members.includes(x.name)), new Date('2024-01-01T00:00:00Z'));
}

/** Refused both ways a package reaches place(): by path (large files) and with its bytes in memory. */
async function refused(file: string, relPath: string | undefined, reason: RegExp): Promise<void> {
  await refusedAs({ ...incoming(file, relPath) }, file, relPath, reason);
  await refusedAs({ ...incoming(file, relPath), bytes: fs.readFileSync(file) }, file, relPath, reason);
}

async function refusedAs(inc: ReturnType<typeof incoming> & { bytes?: Buffer }, file: string, relPath: string | undefined, reason: RegExp): Promise<void> {
  await assert.rejects(eopkgFormat.place(inc, {}), (e: unknown) => {
    assert.ok(e instanceof RcuError, `expected RcuError, got ${String(e)}`);
    assert.equal(e.code, 'BAD_INPUT', e.message);
    assert.ok(e.message.includes(path.basename(file)) || (relPath !== undefined && e.message.includes(relPath)), `message names the file: ${e.message}`);
    assert.match(e.message, reason);
    return true;
  });
}

describe('eopkg file names and placement', () => {
  it('parses names from the right', () => {
    assert.deepEqual(parseFileName('nano-dbginfo-2.8.6-76-1-x86_64.eopkg'), { kind: 'package', name: 'nano-dbginfo', version: '2.8.6', release: '76', distrel: '1', arch: 'x86_64' });
    assert.deepEqual(parseFileName('nano-75-76-1-x86_64.delta.eopkg'), { kind: 'delta', name: 'nano', fromRelease: '75', toRelease: '76', distrel: '1', arch: 'x86_64' });
    assert.equal(parseFileName('nano-76-1-x86_64.eopkg'), undefined);
    assert.equal(parseFileName('nano.rpm'), undefined);
  });
  it('uses <prefix>/<source>', () => {
    assert.equal(sourceFolder('nano'), 'n/nano');
    assert.equal(sourceFolder('LibreOffice'), 'libr/libreoffice');
    assert.equal(sourceFolder('lib'), 'l/lib');
    assert.equal(sourceFolder('0ad'), '0/0ad');
  });
});

describe('eopkg place(): good packages', () => {
  it('places every committed fixture in its source folder with complete metadata', async () => {
    const files = fs.readdirSync(fixtures).filter((f) => f.endsWith('.eopkg'));
    assert.ok(files.length >= 12);
    for (const f of files) {
      const inc = incoming(path.join(fixtures, f));
      const pl = await eopkgFormat.place(inc, {});
      const meta = pl.meta as EopkgMeta;
      assert.equal(path.posix.basename(pl.treePath), f);
      assert.equal(pl.treePath, `${sourceFolder(meta.source)}/${f}`);
      assert.equal(meta.sha1, inc.sha1);
      assert.equal(meta.size, inc.size);
      assert.equal(meta.isDelta, f.endsWith('.delta.eopkg'));
      assert.match(meta.head, /^ {4}<Package>\n {8}<Name>/);
      assert.match(meta.head, /<InstalledSize>\d+<\/InstalledSize>\n$/);
      assert.match(meta.tail, /<\/Package>\n$/);
      if (meta.name.endsWith('-dbginfo')) assert.ok(!pl.treePath.includes('dbginfo/'), 'dbginfo shares its source folder');
      // describe() recomputes the same metadata from the bytes and the tree path
      assert.deepEqual(await eopkgFormat.describe(inc.copyPath, { path: pl.treePath, sha256: inc.sha256, size: inc.size }, inc), meta);
    }
  });
  it('keeps versions as text (1.10), adds xml:lang, drops empty localized elements, escapes symbols', async () => {
    const meta = GOOD_META({ extra: '<Summary>No lang</Summary><Summary xml:lang="ar"></Summary><Description xml:lang="ru">© →&#xA0;x</Description>' });
    const p = writeTmp('demo-1.10-3-1-x86_64.eopkg', pkgBytes(meta));
    const m = (await eopkgFormat.place(incoming(p), {})).meta as EopkgMeta;
    assert.equal(m.version, '1.10');
    assert.equal(m.release, 3);
    assert.match(m.head, /<Version>1\.10<\/Version>/);
    assert.match(m.head, /<Summary xml:lang="en">No lang<\/Summary>/);
    assert.doesNotMatch(m.head, /xml:lang="ar"/);
    assert.match(m.head, /<Description xml:lang="ru">&#169; &#8594;&#160;x<\/Description>/);
    for (const line of (m.head + m.tail).split('\n').filter(Boolean)) assert.match(line, /^\s*</, `every element on its own line: ${line}`);
  });
  it('refuses --prefix that differs from the fixed placement', async () => {
    const p = writeTmp('demo-1.10-3-1-x86_64.eopkg', pkgBytes(GOOD_META()));
    await assert.rejects(eopkgFormat.place(incoming(p), { prefix: 'other' }), /placed at/);
    assert.equal((await eopkgFormat.place(incoming(p), { prefix: 'd/demo' })).treePath, 'd/demo/demo-1.10-3-1-x86_64.eopkg');
  });
});

describe('eopkg place(): refused packages', () => {
  const NAME = 'demo-1.10-3-1-x86_64.eopkg';
  it('not a zip', async () => refused(writeTmp(NAME, Buffer.from('hello, not a zip at all '.repeat(10))), undefined, /not a valid zip/));
  it('truncated zip', async () => {
    const full = pkgBytes(GOOD_META());
    await refused(writeTmp(NAME, full.subarray(0, full.length - 40)), undefined, /zip/);
    // central directory intact but the data cut short: rebuild by dropping bytes in the middle
    const cut = Buffer.concat([full.subarray(0, 200), full.subarray(full.length - 150)]);
    await refused(writeTmp(NAME, cut), undefined, /zip|truncated|corrupt/);
  });
  it('missing metadata.xml', async () => refused(writeTmp(NAME, pkgBytes(undefined)), undefined, /no metadata\.xml/));
  it('missing install.tar.xz', async () => refused(writeTmp(NAME, pkgBytes(GOOD_META(), { members: ['metadata.xml', 'files.xml'] })), undefined, /install\.tar\.xz/));
  it('malformed XML', async () => {
    await refused(writeTmp(NAME, pkgBytes(GOOD_META().slice(0, -20))), undefined, /malformed XML/);
    await refused(writeTmp(NAME, pkgBytes(GOOD_META().replace('Demo package', 'a & b'))), undefined, /malformed XML|entity/);
    await refused(writeTmp(NAME, pkgBytes(Buffer.from([0x3c, 0x50, 0xff, 0xfe]))), undefined, /UTF-8/);
  });
  it('DOCTYPE and entity tricks', async () => {
    const bomb = '<?xml version="1.0"?><!DOCTYPE PISI [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>' + GOOD_META().replace('Demo package', '&b;');
    await refused(writeTmp(NAME, pkgBytes(bomb)), undefined, /DOCTYPE or ENTITY/);
    const xxe = '<!DOCTYPE PISI SYSTEM "file:///etc/passwd">' + GOOD_META();
    await refused(writeTmp(NAME, pkgBytes(xxe)), undefined, /DOCTYPE/);
    await refused(writeTmp(NAME, pkgBytes(GOOD_META().replace('Demo package', '&xxe;'))), undefined, /entity reference '&xxe;'/);
    await refused(writeTmp(NAME, pkgBytes(GOOD_META().replace('Demo package', '&#1;'))), undefined, /character reference/);
  });
  it('oversized metadata', async () => {
    const big = GOOD_META({ extra: `<Description xml:lang="de">${'x'.repeat(5 * 1024 * 1024)}</Description>` });
    await refused(writeTmp(NAME, pkgBytes(big)), undefined, /larger than/);
  });
  it('no History', async () => refused(writeTmp(NAME, pkgBytes(GOOD_META({ history: false }))), undefined, /no Update/));
  for (const [field, o, re] of [
    ['name', { name: 'other' }, /name in metadata\.xml \('other'\) disagrees with the file name \('demo'\)/],
    ['version', { version: '1.9' }, /version in metadata\.xml \('1\.9'\) disagrees with the file name \('1\.10'\)/],
    ['release', { release: '4' }, /release in metadata\.xml \('4'\) disagrees with the file name \('3'\)/],
    ['distrel', { distrel: '2' }, /distribution release in metadata\.xml \('2'\) disagrees/],
    ['arch', { arch: 'i686' }, /architecture in metadata\.xml \('i686'\) disagrees/],
  ] as const) {
    it(`${field} disagreeing with the file name`, async () => refused(writeTmp(NAME, pkgBytes(GOOD_META(o))), undefined, re));
  }
  it("'..' in paths and bad file names", async () => {
    const p = writeTmp(NAME, pkgBytes(GOOD_META()));
    await refused(p, `../${NAME}`, /'\.\.'/);
    await refused(p, `a/../../${NAME}`, /'\.\.'/);
    const q = writeTmp('demo.eopkg', pkgBytes(GOOD_META()));
    await refused(q, undefined, /is not NAME-VERSION-RELEASE-DISTREL-ARCH/);
  });
  it('delta: target release must match metadata and from < to', async () => {
    await refused(writeTmp('demo-2-4-1-x86_64.delta.eopkg', pkgBytes(GOOD_META())), undefined, /release \(delta target\)/);
    await refused(writeTmp('demo-3-3-1-x86_64.delta.eopkg', pkgBytes(GOOD_META())), undefined, /not older/);
    const ok = await eopkgFormat.place(incoming(writeTmp('demo-2-3-1-x86_64.delta.eopkg', pkgBytes(GOOD_META(), { members: ['metadata.xml', 'files.xml'] }))), {});
    assert.equal(ok.treePath, 'd/demo/demo-2-3-1-x86_64.delta.eopkg');
    assert.equal((ok.meta as EopkgMeta).fromRelease, 2);
  });
});

describe('generator', () => {
  it('same seed gives identical bytes; another seed differs; output passes place()', async () => {
    const a = generatePackages({ count: 30, seed: 'det', buildsPerName: 2, deltas: true });
    const b = generatePackages({ count: 30, seed: 'det', buildsPerName: 2, deltas: true });
    const c = generatePackages({ count: 30, seed: 'other', buildsPerName: 2, deltas: true });
    assert.equal(a.length, b.length);
    for (let i = 0; i < a.length; i++) assert.ok(a[i]!.bytes.equals(b[i]!.bytes), a[i]!.basename);
    assert.notDeepEqual(a.map((p) => p.basename), c.map((p) => p.basename));
    assert.ok(a.some((p) => p.isDelta) && a.some((p) => p.name.endsWith('-dbginfo')) && a.some((p) => p.source.startsWith('lib')));
    const dir = path.join(tmp, 'gen');
    const written = generatePackages({ out: dir, count: 30, seed: 'det', buildsPerName: 2, deltas: true });
    for (const p of written) {
      assert.ok(fs.readFileSync(p.file!).equals(p.bytes));
      const m = (await eopkgFormat.place(incoming(p.file!), {})).meta as EopkgMeta;
      assert.deepEqual((await eopkgFormat.place({ ...incoming(p.file!), bytes: p.bytes }, {})).meta, m, 'same metadata from the bytes in memory');
      assert.equal(m.name, p.name);
      assert.equal(m.release, p.release);
    }
  });
  it('the committed fixtures are what the generator writes', () => {
    const again = generatePackages({ count: 8, seed: 'fixture', buildsPerName: 2, deltas: true });
    for (const p of again) assert.ok(fs.readFileSync(path.join(fixtures, p.basename)).equals(p.bytes), p.basename);
  });
});

describe('eopkg import through the CLI: metadata cached at import', () => {
  const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
  const metaFile = (base: string, s: string) => path.join(base, 'pool', 'meta', s.slice(0, 2), `${s}.eopkg.json`);

  it('a published package keeps its cached metadata; a refused batch leaves neither blobs nor metadata behind', () => {
    const base = path.join(tmp, 'cli-base');
    const cli = (...args: string[]) => runSync(['--base', base, ...args]);
    assert.equal(cli('init').code, 0);
    assert.equal(cli('create-repo', 'u', '--format', 'eopkg').code, 0);
    const [good, other] = generatePackages({ out: path.join(tmp, 'cli-pkgs'), count: 2, seed: 'meta-at-import' });
    // A batch with one bad file: refused as a whole, and the good file's metadata must not linger.
    const batch = path.join(tmp, 'cli-batch');
    fs.mkdirSync(batch);
    fs.copyFileSync(good!.file!, path.join(batch, path.basename(good!.file!)));
    fs.writeFileSync(path.join(batch, 'broken-1.0-1-1-x86_64.eopkg'), 'not a zip '.repeat(20));
    const r = cli('import', 'u', batch);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /nothing was imported/);
    assert.equal(fs.existsSync(metaFile(base, sha(good!.file!))), false, 'no orphaned metadata for a refused batch');
    assert.deepEqual(fs.readdirSync(path.join(base, 'pool', 'tmp')), [], 'no staged copies left');
    // Published: the metadata written at import is what the index was built from.
    const ok = cli('import', 'u', other!.file!);
    assert.equal(ok.code, 0, ok.stderr);
    const cached = JSON.parse(fs.readFileSync(metaFile(base, sha(other!.file!)), 'utf8')) as EopkgMeta;
    assert.equal(cached.name, other!.name);
    const index = fs.readFileSync(path.join(base, 'repos', 'u', 'current', 'eopkg-index.xml'), 'utf8');
    assert.ok(index.includes(`<Name>${other!.name}</Name>`));
    assert.equal(cli('verify', 'u').code, 0);
  });
});

describe('eopkg bulk import on worker threads', () => {
  const run = (base: string, threads: string, ...args: string[]) =>
    runSync(['--base', base, ...args], { env: { ...process.env, RCUREPO_PREPARE_THREADS: threads, RCUREPO_TRACE: '1' } });
  const pkgs = generatePackages({ out: path.join(tmp, 'bulk-pkgs'), count: 120, seed: 'bulk-threads' });
  const newBase = (name: string, threads: string) => {
    const base = path.join(tmp, name);
    assert.equal(run(base, threads, 'init').code, 0);
    assert.equal(run(base, threads, 'create-repo', 'u', '--format', 'eopkg').code, 0);
    return base;
  };
  const poolFiles = (base: string, sub: string) => {
    const dir = path.join(base, 'pool', sub);
    return fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name) : [];
  };

  it('a bad file among 121 refuses the whole batch and leaves no staged copy, blob or metadata', () => {
    const base = newBase('bulk-refused', '2');
    const batch = path.join(tmp, 'bulk-batch');
    fs.cpSync(path.join(tmp, 'bulk-pkgs'), batch, { recursive: true });
    fs.writeFileSync(path.join(batch, 'zzbroken-1.0-1-1-x86_64.eopkg'), 'not a zip '.repeat(20));
    const r = run(base, '2', 'import', 'u', batch);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /\(2 threads\)/, 'prepared on two worker threads');
    assert.match(r.stderr, /zzbroken-1\.0-1-1-x86_64\.eopkg/);
    assert.deepEqual(poolFiles(base, 'tmp'), [], 'no staged copies left');
    assert.deepEqual(poolFiles(base, 'blobs'), [], 'no blobs');
    assert.deepEqual(poolFiles(base, 'meta'), [], 'no metadata of the refused batch');
    assert.equal(run(base, '2', 'list', 'u').stdout.trim().split('\n').filter((l) => l.includes('x86_64')).length, 0);
  });

  it('publishes the same indexes as preparing on the main thread', () => {
    const threaded = newBase('bulk-threads', '2');
    const single = newBase('bulk-single', '0');
    const a = run(threaded, '2', 'import', 'u', path.join(tmp, 'bulk-pkgs'));
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stderr, /\(2 threads\)/);
    const b = run(single, '0', 'import', 'u', path.join(tmp, 'bulk-pkgs'));
    assert.equal(b.code, 0, b.stderr);
    assert.doesNotMatch(b.stderr, /threads\)/);
    for (const f of ['eopkg-index.xml', 'eopkg-index.xml.xz', 'eopkg-index.xml.sha1sum']) {
      assert.ok(fs.readFileSync(path.join(threaded, 'repos', 'u', 'current', f)).equals(fs.readFileSync(path.join(single, 'repos', 'u', 'current', f))), f);
    }
    const index = fs.readFileSync(path.join(threaded, 'repos', 'u', 'current', 'eopkg-index.xml'), 'utf8');
    assert.equal(index.split('<Package>').length - 1, new Set(pkgs.map((p) => p.name)).size);
    // Hashes were cached at import (outside the lock), one per blob.
    assert.equal(poolFiles(threaded, 'meta').filter((n) => n.endsWith('.hashes.json')).length, pkgs.length);
    assert.deepEqual(poolFiles(threaded, 'tmp'), []);
    assert.equal(run(threaded, '2', 'verify', 'u', '--deep').code, 0);
  });
});
