import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { assetTreeEntries } from '../fixtures/gen-eopkg.js';
import { Layout } from '../src/engine/layout.js';
import type { TreeEntry } from '../src/formats/format.js';
import { eopkgFormat, writeEopkgIndexes, type EopkgMeta } from '../src/formats/eopkg/index.js';

import { ROOT } from './helpers/cli.js';

// Reference data kept beside the repository (never copied into it): ../shared/upstream-samples.
const SAMPLES = path.resolve(ROOT, '../shared/upstream-samples');
const present = fs.existsSync(path.join(SAMPLES, 'eopkg'));
const skip = present ? false : `upstream samples not found at ${SAMPLES} (read-only reference data beside the repository; nothing to test against)`;
if (skip) console.log(`# SKIPPING the upstream sample tests: ${skip}`);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eopkg-upstream-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const layout = new Layout(path.join(tmp, 'base'));

async function buildFrom(dir: string, assets: Partial<Record<'distribution' | 'components' | 'groups', string>>, name: string) {
  const metas = new Map<string, EopkgMeta>();
  const entries: TreeEntry[] = [];
  const hashes = new Map<string, string>();
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.eopkg'))) {
    const file = path.join(dir, f);
    const b = fs.readFileSync(file);
    const h = { sha1: createHash('sha1').update(b).digest('hex'), sha256: createHash('sha256').update(b).digest('hex'), size: b.length };
    const pl = await eopkgFormat.place({ source: file, relPath: f, copyPath: file, ...h }, {});
    metas.set(pl.treePath, pl.meta as EopkgMeta);
    hashes.set(pl.treePath, h.sha1);
    entries.push({ path: pl.treePath, sha256: h.sha256, size: h.size });
  }
  entries.push(...assetTreeEntries((sha) => layout.blobPath(sha), assets));
  entries.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const stagingDir = path.join(tmp, name);
  fs.mkdirSync(stagingDir);
  const ctx = { layout, repo: layout.repo('up'), settings: {}, stagingDir, entries, cacheDir: path.join(tmp, `cache-${name}`), loadMeta: async (e: TreeEntry) => metas.get(e.path) };
  await writeEopkgIndexes(ctx);
  const xml = fs.readFileSync(path.join(stagingDir, 'eopkg-index.xml'), 'utf8');
  return { ctx, metas, hashes, xml, stagingDir };
}

const PY = `
import lzma, sys, json, xml.etree.ElementTree as ET
root = ET.fromstring(lzma.decompress(open(sys.argv[1], 'rb').read()))
print(json.dumps({'tags': [c.tag for c in root], 'pkgs': [[p.findtext('Name'), p.findtext('PackageURI'), p.findtext('History/Update/Version'), [d.get('releaseFrom') for d in p.findall('DeltaPackages/Delta')]] for p in root.findall('Package')],
  'source': root.findtext('Distribution/SourceName'), 'components': len(root.findall('Component')), 'groups': len(root.findall('Group'))}))
`;

describe('eopkg upstream samples', { skip }, () => {
  it('3 nano builds + assets: tip is release 76, assets in order', async () => {
    const dir = path.join(SAMPLES, 'eopkg');
    const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
    const assets = { distribution: read('distribution.xml'), components: read('components.xml'), groups: read('groups.xml') };
    const { ctx, metas, hashes, xml, stagingDir } = await buildFrom(dir, assets, 'nano');
    assert.deepEqual([...metas.keys()].sort(), ['n/nano/nano-2.7.1-63-1-x86_64.eopkg', 'n/nano/nano-2.8.5-75-1-x86_64.eopkg', 'n/nano/nano-2.8.6-76-1-x86_64.eopkg']);
    const got = JSON.parse(execFileSync('python3', ['-c', PY, path.join(stagingDir, 'eopkg-index.xml.xz')], { encoding: 'utf8' }));
    assert.deepEqual(got.pkgs, [['nano', 'n/nano/nano-2.8.6-76-1-x86_64.eopkg', '2.8.6', []]]);
    assert.equal(got.source, 'Solus');
    assert.equal(got.tags[0], 'Distribution');
    assert.equal(got.tags[1], 'Package');
    assert.equal(got.components, (read('components.xml').match(/<Component>/g) ?? []).length);
    assert.equal(got.groups, (read('groups.xml').match(/<Group>/g) ?? []).length);
    assert.match(xml, new RegExp(`<PackageHash>${hashes.get('n/nano/nano-2.8.6-76-1-x86_64.eopkg')}</PackageHash>`));
    assert.match(xml, /<PackageURI>n\/nano\/nano-2\.8\.6-76-1-x86_64\.eopkg<\/PackageURI>/);
    assert.match(xml, /<LocalName xml:lang="en">System Base<\/LocalName>/);
    assert.doesNotMatch(xml, /<(\w+) xml:lang="[^"]*"><\/\1>|<(LocalName|Summary|Description)[^>]*\/>/);
    assert.deepEqual(await eopkgFormat.verifyIndexes({ ...ctx, snapshotDir: stagingDir }), []);
    assert.deepEqual(await eopkgFormat.verifyIndexes({ ...ctx, snapshotDir: stagingDir, quick: true }), []);
  });

  it('delta sample: DeltaPackages releaseFrom="117" on the 118 tip', async () => {
    const { ctx, hashes, xml, stagingDir } = await buildFrom(path.join(SAMPLES, 'eopkg-delta'), {}, 'delta');
    const got = JSON.parse(execFileSync('python3', ['-c', PY, path.join(stagingDir, 'eopkg-index.xml.xz')], { encoding: 'utf8' }));
    assert.deepEqual(got.pkgs, [['nano', 'n/nano/nano-4.7-118-1-x86_64.eopkg', '4.7', ['117']]]);
    assert.match(xml, new RegExp(`<Delta releaseFrom="117">\\n\\s*<PackageURI>n/nano/nano-117-118-1-x86_64.delta.eopkg</PackageURI>\\n\\s*<PackageSize>178846</PackageSize>\\n\\s*<PackageHash>${hashes.get('n/nano/nano-117-118-1-x86_64.delta.eopkg')}</PackageHash>`));
    assert.deepEqual(await eopkgFormat.verifyIndexes({ ...ctx, snapshotDir: stagingDir }), []);
    assert.deepEqual(await eopkgFormat.verifyIndexes({ ...ctx, snapshotDir: stagingDir, quick: true }), []);
  });
});
