import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { assetTreeEntries, generatePackages, generateAssets } from '../fixtures/gen-eopkg.js';
import { rng } from '../fixtures/random.js';
import { Layout } from '../src/engine/layout.js';
import type { IndexContext, TreeEntry } from '../src/formats/format.js';
import { planChunks } from '../src/formats/eopkg/index-builder.js';
import { ASSET_FILE, eopkgFormat, parseAssetTexts, validateAsset, writeEopkgIndexes, INDEX_FILES, type AssetTexts, type EopkgMeta } from '../src/formats/eopkg/index.js';
import { RcuError } from '../src/util/errors.js';
import { compressBlock, compressBlocks } from '../src/formats/shared/xz-blocks.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const fixtures = path.join(root, 'fixtures', 'eopkg');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eopkg-index-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const layout = new Layout(path.join(tmp, 'base'));

interface Placed {
  entry: TreeEntry;
  meta: EopkgMeta;
  file: string;
}

async function placeFile(file: string): Promise<Placed> {
  const b = fs.readFileSync(file);
  const h = { sha1: createHash('sha1').update(b).digest('hex'), sha256: createHash('sha256').update(b).digest('hex'), size: b.length };
  const pl = await eopkgFormat.place({ source: file, relPath: path.basename(file), copyPath: file, ...h }, {});
  return { entry: { path: pl.treePath, sha256: h.sha256, size: h.size }, meta: pl.meta as EopkgMeta, file };
}

let stageN = 0;
/** Assets are tree entries at the snapshot root (pool blobs); `loaded` counts loadMeta calls. */
function ctxFor(placed: readonly Placed[], assets: AssetTexts, cacheDir: string): IndexContext & { snapshotDir: string; loaded: { n: number } } {
  const stagingDir = path.join(tmp, `stage-${stageN++}`);
  fs.mkdirSync(stagingDir, { recursive: true });
  const byPath = new Map(placed.map((p) => [p.entry.path, p.meta]));
  const entries = [...placed.map((p) => p.entry), ...assetTreeEntries((sha) => layout.blobPath(sha), assets)].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const loaded = { n: 0 };
  return {
    layout, repo: layout.repo('t'), settings: {}, stagingDir, snapshotDir: stagingDir, entries, cacheDir, loaded,
    loadMeta: async (e) => {
      loaded.n++;
      assert.ok(e.path.endsWith('.eopkg'), `loadMeta only for packages, not ${e.path}`);
      return byPath.get(e.path);
    },
  };
}

function readAll(dir: string): Map<string, Buffer> {
  return new Map(INDEX_FILES.map((f) => [f, fs.readFileSync(path.join(dir, f))]));
}

const PY_READER = `
import lzma, sys, json, hashlib, xml.etree.ElementTree as ET
data = open(sys.argv[1], 'rb').read()
xml = lzma.decompress(data, format=lzma.FORMAT_XZ)
assert hashlib.sha1(data).hexdigest() == open(sys.argv[1] + '.sha1sum').read().strip()
assert xml == open(sys.argv[1][:-3], 'rb').read()
root = ET.fromstring(xml)
assert root.tag == 'PISI'
out = {'packages': [], 'order': [c.tag for c in root], 'components': [c.findtext('Name') for c in root.findall('Component')], 'groups': [g.findtext('Name') for g in root.findall('Group')]}
for p in root.findall('Package'):
    d = {'name': p.findtext('Name'), 'uri': p.findtext('PackageURI'), 'size': int(p.findtext('PackageSize')), 'hash': p.findtext('PackageHash'), 'deltas': []}
    for de in p.findall('DeltaPackages/Delta'):
        d['deltas'].append({'from': de.get('releaseFrom'), 'uri': de.findtext('PackageURI'), 'size': int(de.findtext('PackageSize')), 'hash': de.findtext('PackageHash')})
    for loc in p.findall('Summary') + p.findall('Description'):
        assert loc.get('{http://www.w3.org/XML/1998/namespace}lang'), 'xml:lang on every localized element'
        assert (loc.text or '').strip(), 'no empty localized element'
    out['packages'].append(d)
print(json.dumps(out))
`;

function pyRead(xzFile: string): { packages: { name: string; uri: string; size: number; hash: string; deltas: { from: string; uri: string; size: number; hash: string }[] }[]; order: string[]; components: string[]; groups: string[] } {
  return JSON.parse(execFileSync('python3', ['-c', PY_READER, xzFile], { encoding: 'utf8' }));
}

function sha1File(f: string): string {
  return createHash('sha1').update(fs.readFileSync(f)).digest('hex');
}

const fixtureAssets = (obsoletes?: string[]): AssetTexts => {
  const raw = {
    distribution: fs.readFileSync(path.join(fixtures, 'distribution.xml'), 'utf8'),
    components: fs.readFileSync(path.join(fixtures, 'components.xml'), 'utf8'),
    groups: fs.readFileSync(path.join(fixtures, 'groups.xml'), 'utf8'),
  };
  if (obsoletes) raw.distribution = generateAssets({ obsoletes }).distribution;
  return raw;
};

describe('eopkg index from the committed fixtures', async () => {
  const placed = await Promise.all(fs.readdirSync(fixtures).filter((f) => f.endsWith('.eopkg')).map((f) => placeFile(path.join(fixtures, f))));

  it('lists the tip of every name, with deltas, readable by an independent reader', async () => {
    const ctx = ctxFor(placed, fixtureAssets(), path.join(tmp, 'cache-fx'));
    const files = await eopkgFormat.writeIndexes(ctx);
    assert.deepEqual([...files].sort(), [...INDEX_FILES].sort());
    const xzFile = path.join(ctx.stagingDir, 'eopkg-index.xml.xz');
    execFileSync('xz', ['-t', xzFile]);
    const robot = execFileSync('xz', ['-l', '--robot', xzFile], { encoding: 'utf8' });
    assert.match(robot, /^file\t1\t/m, 'exactly one stream');
    for (const f of ['eopkg-index.xml.sha1sum', 'eopkg-index.xml.xz.sha1sum']) assert.match(fs.readFileSync(path.join(ctx.stagingDir, f), 'utf8'), /^[0-9a-f]{40}\n$/);
    for (const f of ['eopkg-index.xml.sha256sum', 'eopkg-index.xml.xz.sha256sum']) assert.match(fs.readFileSync(path.join(ctx.stagingDir, f), 'utf8'), /^[0-9a-f]{64}\n$/);
    const got = pyRead(xzFile);
    // expected tips: highest release per name among non-delta packages
    const tips = new Map<string, Placed>();
    for (const p of placed) if (!p.meta.isDelta && (!tips.has(p.meta.name) || tips.get(p.meta.name)!.meta.release < p.meta.release)) tips.set(p.meta.name, p);
    const want = [...tips.values()].sort((a, b) => Buffer.compare(Buffer.from(a.meta.basename), Buffer.from(b.meta.basename)));
    assert.deepEqual(got.packages.map((p) => p.uri), want.map((p) => p.entry.path));
    for (const [i, p] of got.packages.entries()) {
      assert.equal(p.hash, sha1File(want[i]!.file));
      assert.equal(p.size, fs.statSync(want[i]!.file).size);
    }
    const withDelta = got.packages.filter((p) => p.deltas.length > 0);
    assert.equal(withDelta.length, placed.filter((p) => p.meta.isDelta).length);
    for (const p of withDelta) {
      const d = placed.find((x) => x.entry.path === p.deltas[0]!.uri)!;
      assert.equal(p.deltas[0]!.hash, sha1File(d.file));
      assert.equal(Number(p.deltas[0]!.from), d.meta.fromRelease);
    }
    assert.equal(got.order[0], 'Distribution');
    assert.deepEqual(got.order.slice(1 + got.packages.length).filter((t) => t !== 'Component' && t !== 'Group'), []);
    assert.deepEqual(got.components, [...got.components].sort());
    assert.deepEqual(got.groups, [...got.groups].sort());
    assert.equal(got.order.at(-1), 'Group');
    assert.deepEqual(await eopkgFormat.verifyIndexes(ctx), []);
    // every element on its own line; shell completion greps <Name> lines
    const xml = fs.readFileSync(path.join(ctx.stagingDir, 'eopkg-index.xml'), 'utf8');
    for (const l of xml.split('\n')) if (/<[A-Za-z]/.test(l)) assert.match(l, /^\s*<[A-Za-z][^<]*(<\/[A-Za-z]+>)?$/, `one element per line: ${l}`);
    assert.match(xml, /&#169;/);
  });

  it('drops obsolete names and their -dbginfo', async () => {
    const dbg = placed.find((p) => p.meta.name.endsWith('-dbginfo'))!.meta.name.replace(/-dbginfo$/, '');
    const ctx = ctxFor(placed, fixtureAssets([dbg]), path.join(tmp, 'cache-obs'));
    await eopkgFormat.writeIndexes(ctx);
    const names = pyRead(path.join(ctx.stagingDir, 'eopkg-index.xml.xz')).packages.map((p) => p.name);
    assert.ok(!names.includes(dbg) && !names.includes(`${dbg}-dbginfo`));
    assert.ok(names.length > 0);
  });

  it('verifyIndexes reports damaged, stale and missing files', async () => {
    const ctx = ctxFor(placed, fixtureAssets(), path.join(tmp, 'cache-v'));
    await eopkgFormat.writeIndexes(ctx);
    fs.writeFileSync(path.join(ctx.stagingDir, 'eopkg-index.xml.sha1sum'), `${'0'.repeat(40)}  eopkg-index.xml\n`);
    fs.rmSync(path.join(ctx.stagingDir, 'eopkg-index.xml.sha256sum'));
    const gone = path.posix.dirname(ctx.entries.find((e) => e.path.endsWith('.eopkg'))!.path) + '/';
    const faults = await eopkgFormat.verifyIndexes({ ...ctx, entries: ctx.entries.filter((e) => !e.path.startsWith(gone)) });
    assert.ok(faults.some((f) => f.startsWith('eopkg-index.xml.sha1sum: not 40 hex')), faults.join('\n'));
    assert.ok(faults.some((f) => f === 'eopkg-index.xml.sha256sum: missing'));
    assert.ok(faults.some((f) => f.includes('differs from the index')));
    fs.writeFileSync(path.join(ctx.stagingDir, 'eopkg-index.xml.xz'), Buffer.from('garbage'));
    assert.ok((await eopkgFormat.verifyIndexes(ctx)).some((f) => f.includes('does not decompress')));
  });
});

describe('eopkg assets', () => {
  it('refuses broken or empty localized elements, naming them', () => {
    const good = generateAssets();
    for (const k of ['distribution', 'components', 'groups'] as const) validateAsset(k, good[k]);
    const emptyAr = good.components.replace('<LocalName xml:lang="de">', '<LocalName xml:lang="ar"></LocalName><LocalName xml:lang="de">');
    assert.throws(() => validateAsset('components', emptyAr), (e: unknown) => e instanceof RcuError && e.code === 'BAD_INPUT' && /components\.xml: .*<LocalName xml:lang="ar"> is empty/.test(e.message));
    const broken = good.groups.replace('<LocalName xml:lang="fr">', '<LocalName xml:lang="fr"><b>x</b>');
    assert.throws(() => validateAsset('groups', broken), /groups\.xml: .*<LocalName xml:lang="fr"> is broken/);
    assert.throws(() => validateAsset('distribution', good.distribution.replace('<SourceName>Solus</SourceName>', '')), /SourceName/);
    assert.throws(() => validateAsset('distribution', good.distribution.slice(0, 100)), /malformed/);
    const g = parseAssetTexts({ groups: good.groups });
    assert.equal(g.distribution, '');
    assert.equal(g.groupNames.join(','), [...g.groupNames].sort().join(','));
    assert.match(parseAssetTexts({ distribution: good.distribution }).distribution, /<Description xml:lang="en">Synthetic Repository<\/Description>/);
    assert.deepEqual(ASSET_FILE, { distribution: 'distribution.xml', components: 'components.xml', groups: 'groups.xml' });
  });
});

describe('eopkg incremental index', async () => {
  const gen = generatePackages({ out: path.join(tmp, 'pool'), count: 260, seed: 'incr', buildsPerName: 2, deltas: true });
  const all: Placed[] = [];
  for (const p of gen) all.push(await placeFile(p.file!));

  it('random adds/removes: persistent cache gives the same bytes as a fresh build; only touched groups recompress', async () => {
    const r = rng('steps');
    const mask = 15; // ~16 packages a group, to have many groups here
    const present = new Set(all.filter(() => r() < 0.7).map((p) => p.entry.path));
    const cache = path.join(tmp, 'cache-incr');
    let prevKeys = new Set<string>();
    let prevIds = new Set<string>();
    let settings = fixtureAssets();
    for (let step = 0; step < 14; step++) {
      const ops = step === 0 ? 0 : 1 + Math.floor(r() * 3);
      for (let k = 0; k < ops; k++) {
        const p = all[Math.floor(r() * all.length)]!;
        if (present.has(p.entry.path)) present.delete(p.entry.path);
        else present.add(p.entry.path);
      }
      if (step === 7) settings = fixtureAssets([all[0]!.meta.name]);
      const cur = all.filter((p) => present.has(p.entry.path));
      const a = ctxFor(cur, settings, cache);
      const res = await writeEopkgIndexes(a, { groupMask: mask });
      const b = ctxFor(cur, settings, path.join(tmp, `cache-fresh-${step}`));
      const fresh = await writeEopkgIndexes(b, { groupMask: mask });
      assert.equal(fresh.stats.reused, 0);
      const fa = readAll(a.stagingDir);
      const fb = readAll(b.stagingDir);
      for (const f of INDEX_FILES) assert.ok(fa.get(f)!.equals(fb.get(f)!), `step ${step}: ${f} identical to a fresh build`);
      // which chunks are new since the previous build: exactly those must be compressed
      const plan = planChunks(a.entries, parseAssetTexts(settings), { groupMask: mask });
      const keys = plan.chunks.map((c) => c.key);
      // metadata is loaded only for the packages (and deltas) of groups that missed the cache, and among
      // those only for packages the previous build did not list as they are now (the others' fragments are
      // copied from the groups they were in)
      const missed = plan.chunks.filter((c) => !prevKeys.has(c.key));
      const missedParts = missed.flatMap((c) => (c.kind === 'packages' ? c.parts : []));
      const newParts = missedParts.filter((p) => !prevIds.has(p.id));
      const wantLoads = newParts.reduce((m, p) => m + 1 + p.ds.length, 0);
      assert.equal(res.stats.metaLoaded, wantLoads, `step ${step}: metadata loads`);
      assert.equal(res.stats.fragmentsReused, missedParts.length - newParts.length, `step ${step}: fragments reused`);
      assert.equal(a.loaded.n, wantLoads, `step ${step}: loadMeta calls`);
      if (step > 0 && step !== 7) assert.ok(newParts.length <= ops, `step ${step}: ${newParts.length} packages rendered for ${ops} operations`);
      prevIds = new Set(plan.chunks.flatMap((c) => (c.kind === 'packages' ? c.parts.map((p) => p.id) : [])));
      const changed = keys.filter((k) => !prevKeys.has(k)).length;
      assert.equal(res.stats.compressed, new Set(keys.filter((k) => !prevKeys.has(k))).size, `step ${step}`);
      assert.equal(res.stats.compressed + res.stats.reused, keys.length);
      if (step > 0 && step !== 7) assert.ok(changed <= 2 * ops, `step ${step}: ${changed} chunks changed for ${ops} operations`);
      if (step > 0) assert.ok(res.stats.reused >= keys.length - 2 * ops - 2, `step ${step}: most chunks reused`);
      assert.ok(keys.length > 10);
      prevKeys = new Set(keys);
      execFileSync('xz', ['-t', path.join(a.stagingDir, 'eopkg-index.xml.xz')]);
      assert.deepEqual(await eopkgFormat.verifyIndexes({ ...a, snapshotDir: a.stagingDir }), []);
      assert.deepEqual(await eopkgFormat.verifyIndexes({ ...a, snapshotDir: a.stagingDir, quick: true }), []);
    }
    // a damaged cache entry is a miss, not a broken index
    const dir = path.join(cache, 'xz-blocks');
    for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.blk')).slice(0, 3)) {
      const p = path.join(dir, f);
      const b = fs.readFileSync(p);
      b[b.length - 1] = b[b.length - 1]! ^ 0xff;
      fs.rmSync(p);
      fs.writeFileSync(p, b);
    }
    const cur = all.filter((p) => present.has(p.entry.path));
    const c = ctxFor(cur, settings, cache);
    const res = await writeEopkgIndexes(c, { groupMask: mask });
    assert.ok(res.stats.compressed >= 1);
    assert.deepEqual(await eopkgFormat.verifyIndexes({ ...c, snapshotDir: c.stagingDir }), []);
  });

  it('chunks compressed together (one xz process, --block-list) give the same blocks as compressed alone', async () => {
    const r = rng('batch');
    const text = (n: number) => Buffer.from(Array.from({ length: n }, () => `<Package><Name>p${Math.floor(r() * 1e6)}</Name></Package>\n`).join(''));
    const chunks = [text(3000), text(5), text(12000), text(1)];
    for (const preset of [3, 6]) {
      const together = await compressBlocks(chunks, preset);
      const alone = await Promise.all(chunks.map((c) => compressBlock(c, preset)));
      assert.equal(together.length, chunks.length);
      for (let i = 0; i < chunks.length; i++) {
        assert.ok(together[i]!.bytes.equals(alone[i]!.bytes), `preset ${preset}, chunk ${i}: same block bytes`);
        assert.equal(together[i]!.unpaddedSize, alone[i]!.unpaddedSize);
        assert.equal(together[i]!.uncompressedSize, chunks[i]!.length);
      }
    }
  });

  it('default grouping writes an xz of one stream with one block per group', async () => {
    const a = ctxFor(all, {}, path.join(tmp, 'cache-default'));
    const res = await writeEopkgIndexes(a);
    const robot = execFileSync('xz', ['-l', '--robot', path.join(a.stagingDir, 'eopkg-index.xml.xz')], { encoding: 'utf8' });
    const totals = robot.split('\n').find((l) => l.startsWith('file\t'))!.split('\t');
    assert.equal(totals[1], '1');
    assert.equal(Number(totals[2]), res.stats.chunks);
    assert.equal(res.stats.chunks, res.stats.groups + 2); // head (<PISI>) and tail (</PISI>) are chunks of their own
  });
});

describe('eopkg index: assets in the tree, quick verification, cost of a change', async () => {
  const gen = generatePackages({ out: path.join(tmp, 'pool2'), count: 120, seed: 'quick', buildsPerName: 2, deltas: true });
  const all: Placed[] = [];
  for (const p of gen) all.push(await placeFile(p.file!));

  it('assets come from the root entries of each snapshot, never from settings', async () => {
    const oldAssets = fixtureAssets();
    const newAssets = fixtureAssets([all[0]!.meta.name]);
    const g1 = ctxFor(all, oldAssets, path.join(tmp, 'cache-gen'));
    await writeEopkgIndexes({ ...g1, settings: { eopkgAssets: { distribution: '<broken' } } });
    const g2 = ctxFor(all, newAssets, path.join(tmp, 'cache-gen'));
    await writeEopkgIndexes(g2);
    const x1 = fs.readFileSync(path.join(g1.stagingDir, 'eopkg-index.xml'), 'utf8');
    const x2 = fs.readFileSync(path.join(g2.stagingDir, 'eopkg-index.xml'), 'utf8');
    const tip = all.filter((p) => p.meta.name === all[0]!.meta.name && !p.meta.isDelta).sort((a, b) => b.meta.release - a.meta.release)[0]!;
    const uri = `<PackageURI>${tip.entry.path}</PackageURI>`;
    assert.ok(x1.includes(uri) && !x2.includes(uri));
    assert.ok(g1.entries.some((e) => e.path === 'distribution.xml'));
    // the older generation still verifies against its own assets; swapping them is a fault
    assert.deepEqual(await eopkgFormat.verifyIndexes(g1), []);
    assert.deepEqual(await eopkgFormat.verifyIndexes(g2), []);
    assert.ok((await eopkgFormat.verifyIndexes({ ...g1, entries: g2.entries })).some((f) => f.includes('differs from the index')));
    // no assets at all: a valid index without Distribution/Component/Group
    const none = ctxFor(all, {}, path.join(tmp, 'cache-none'));
    await writeEopkgIndexes(none);
    assert.doesNotMatch(fs.readFileSync(path.join(none.stagingDir, 'eopkg-index.xml'), 'utf8'), /^ {4}<(Distribution|Component|Group)>$/m);
    // a broken asset blob in the tree is an error naming the file
    const broken = ctxFor(all, { groups: '<PISI><Groups><Group><Name>x</Name><LocalName xml:lang="ar"></LocalName></Group></Groups></PISI>' }, path.join(tmp, 'cache-broken'));
    await assert.rejects(writeEopkgIndexes(broken), /groups\.xml: .*is empty/);
  });

  it('place() refuses a file named like an asset', async () => {
    const src = all[0]!.file;
    for (const name of ['distribution.xml', 'Groups.XML', 'components.xml']) {
      const b = fs.readFileSync(src);
      const h = { sha1: createHash('sha1').update(b).digest('hex'), sha256: createHash('sha256').update(b).digest('hex'), size: b.length };
      await assert.rejects(eopkgFormat.place({ source: src, relPath: name, copyPath: src, ...h }, {}), (e: unknown) => e instanceof RcuError && e.code === 'BAD_INPUT' && e.message.includes('repository asset'));
    }
  });

  it('no change loads no metadata; one change loads only its group', async () => {
    const cache = path.join(tmp, 'cache-cost');
    const mask = 7;
    const first = await writeEopkgIndexes(ctxFor(all, fixtureAssets(), cache), { groupMask: mask });
    assert.ok(first.stats.metaLoaded >= first.stats.packages);
    const again = ctxFor(all, fixtureAssets(), cache);
    const res = await writeEopkgIndexes(again, { groupMask: mask });
    assert.equal(res.stats.metaLoaded, 0);
    assert.equal(again.loaded.n, 0);
    assert.equal(res.stats.compressed, 0);
    const one = ctxFor(all.filter((p) => p !== all[5]), fixtureAssets(), cache);
    const r1 = await writeEopkgIndexes(one, { groupMask: mask });
    assert.ok(r1.stats.compressed <= 2, `${r1.stats.compressed} groups recompressed`);
    assert.ok(r1.stats.metaLoaded < first.stats.metaLoaded / 4, `${r1.stats.metaLoaded} of ${first.stats.metaLoaded} loaded`);
    const fresh = ctxFor(all.filter((p) => p !== all[5]), fixtureAssets(), path.join(tmp, 'cache-cost-fresh'));
    await writeEopkgIndexes(fresh, { groupMask: mask });
    for (const f of INDEX_FILES) assert.ok(fs.readFileSync(path.join(one.stagingDir, f)).equals(fs.readFileSync(path.join(fresh.stagingDir, f))), f);
  });

  it('quick verification: no metadata, no decompression, still catches damage', async () => {
    const ctx = ctxFor(all, fixtureAssets(), path.join(tmp, 'cache-q'));
    await writeEopkgIndexes(ctx);
    ctx.loaded.n = 0;
    assert.deepEqual(await eopkgFormat.verifyIndexes({ ...ctx, quick: true }), []);
    assert.equal(ctx.loaded.n, 0, 'quick verify loads no metadata');
    const xzFile = path.join(ctx.stagingDir, 'eopkg-index.xml.xz');
    const good = fs.readFileSync(xzFile);
    const damage = async (bytes: Buffer, re: RegExp): Promise<void> => {
      fs.rmSync(xzFile);
      fs.writeFileSync(xzFile, bytes);
      // companions made to match, so only the structure check can notice
      for (const [algo, f] of [['sha1', 'eopkg-index.xml.xz.sha1sum'], ['sha256', 'eopkg-index.xml.xz.sha256sum']] as const) {
        fs.rmSync(path.join(ctx.stagingDir, f));
        fs.writeFileSync(path.join(ctx.stagingDir, f), createHash(algo).update(bytes).digest('hex') + '\n');
      }
      const faults = await eopkgFormat.verifyIndexes({ ...ctx, quick: true });
      assert.ok(faults.some((f) => re.test(f)), faults.join('\n') || 'no fault');
    };
    await damage(Buffer.concat([good, good]), /single xz stream/);
    await damage(good.subarray(0, good.length - 20), /single xz stream/);
    const flipped = Buffer.from(good);
    flipped[good.length - 30] = flipped[good.length - 30]! ^ 1; // inside the index
    await damage(flipped, /single xz stream/);
    await damage(Buffer.from('garbage'), /single xz stream/);
    // an xml one byte longer than the blocks hold
    fs.rmSync(xzFile);
    fs.writeFileSync(xzFile, good);
    for (const [algo, f] of [['sha1', 'eopkg-index.xml.xz.sha1sum'], ['sha256', 'eopkg-index.xml.xz.sha256sum']] as const) {
      fs.rmSync(path.join(ctx.stagingDir, f));
      fs.writeFileSync(path.join(ctx.stagingDir, f), createHash(algo).update(good).digest('hex') + '\n');
    }
    assert.deepEqual(await eopkgFormat.verifyIndexes({ ...ctx, quick: true }), []);
    const xmlFile = path.join(ctx.stagingDir, 'eopkg-index.xml');
    const xml = Buffer.concat([fs.readFileSync(xmlFile), Buffer.from(' ')]);
    fs.rmSync(xmlFile);
    fs.writeFileSync(xmlFile, xml);
    const faults = await eopkgFormat.verifyIndexes({ ...ctx, quick: true });
    assert.ok(faults.some((f) => /blocks hold \d+ bytes/.test(f)), faults.join('\n'));
    // the quick check does not re-hash the XML the writer hashed while writing it; the full one does
    assert.ok(!faults.some((f) => f.startsWith('eopkg-index.xml.sha1sum: says')), faults.join('\n'));
    const full = await eopkgFormat.verifyIndexes({ ...ctx });
    assert.ok(full.some((f) => f.startsWith('eopkg-index.xml.sha1sum: says')), full.join('\n'));
    fs.rmSync(path.join(ctx.stagingDir, 'eopkg-index.xml.sha256sum'));
    assert.ok((await eopkgFormat.verifyIndexes({ ...ctx, quick: true })).includes('eopkg-index.xml.sha256sum: missing'));
  });
});
