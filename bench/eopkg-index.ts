/**
 * eopkg index: from-scratch build + `xz -c` of the whole index (the anchor's way) versus rcurepo's
 * incremental rebuild after a one-package change (cached xz blocks), for 1,000 / 10,000 / 50,000 packages.
 *   node --import tsx bench/eopkg-index.ts [sizes...]
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generatePackages } from '../fixtures/gen-eopkg.js';
import { Layout } from '../src/engine/layout.js';
import type { TreeEntry } from '../src/formats/format.js';
import { renderIndex } from '../src/formats/eopkg/index-builder.js';
import { eopkgFormat, parseAssetTexts, writeEopkgIndexes, type EopkgMeta } from '../src/formats/eopkg/index.js';
import { runXz } from '../src/formats/shared/xz-blocks.js';

async function main(): Promise<void> {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eopkg-bench-'));
  try {
    // 1,000 real packages placed once; larger sets clone their metadata under new names.
    const gen = generatePackages({ out: path.join(tmp, 'gen'), count: 1000, seed: 'bench' });
    const base: EopkgMeta[] = [];
    for (const p of gen) {
      const b = fs.readFileSync(p.file!);
      const h = { sha1: createHash('sha1').update(b).digest('hex'), sha256: '', size: b.length };
      base.push((await eopkgFormat.place({ source: p.file!, relPath: p.basename, copyPath: p.file!, ...h }, {})).meta as EopkgMeta);
    }
    const settings = {};
    const layout = new Layout(path.join(tmp, 'base'));
    for (const n of sizes.length ? sizes : [1000, 10000, 50000]) {
      const metas = new Map<string, EopkgMeta>();
      const entries: TreeEntry[] = [];
      for (let i = 0; i < n; i++) {
        const m = base[i % base.length]!;
        const suffix = i < base.length ? '' : `x${Math.floor(i / base.length)}`;
        const name = m.name + suffix;
        const basename = m.basename.replace(m.name, name);
        const treePath = path.posix.join(path.posix.dirname(m.treePath), basename);
        metas.set(treePath, { ...m, name, basename, treePath, head: m.head.replace(`<Name>${m.name}</Name>`, `<Name>${name}</Name>`) });
        entries.push({ path: treePath, sha256: createHash('sha256').update(treePath).digest('hex'), size: m.size });
      }
      entries.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
      const loadMeta = async (e: TreeEntry) => metas.get(e.path);
      // anchor: render everything, compress the whole index with one xz
      let t = performance.now();
      const xml = await renderIndex(entries, parseAssetTexts({}), loadMeta);
      const xz = await runXz(['-z', '-c', '-6', '-T1'], xml);
      createHash('sha1').update(xml).digest('hex');
      createHash('sha1').update(xz).digest('hex');
      const anchorMs = performance.now() - t;
      // rcurepo: warm the cache, then change one package
      const cacheDir = path.join(tmp, `cache-${n}`);
      const stage = (k: string) => {
        const d = path.join(tmp, `stage-${n}-${k}`);
        fs.mkdirSync(d);
        return d;
      };
      t = performance.now();
      await writeEopkgIndexes({ layout, repo: layout.repo('b'), settings, stagingDir: stage('cold'), entries, cacheDir, loadMeta }, { assets: parseAssetTexts({}) });
      const coldMs = performance.now() - t;
      const changed = entries.filter((_, i) => i !== Math.floor(n / 2));
      t = performance.now();
      const res = await writeEopkgIndexes({ layout, repo: layout.repo('b'), settings, stagingDir: stage('warm'), entries: changed, cacheDir, loadMeta }, { assets: parseAssetTexts({}) });
      const warmMs = performance.now() - t;
      process.stdout.write(
        `${n} packages: index ${(xml.length / 1048576).toFixed(1)} MiB; anchor full build + xz -c ${anchorMs.toFixed(0)} ms; ` +
          `rcurepo cold (parallel blocks) ${coldMs.toFixed(0)} ms; one-package change ${warmMs.toFixed(0)} ms ` +
          `(${res.stats.compressed}/${res.stats.chunks} blocks recompressed); ratio ${(anchorMs / warmMs).toFixed(1)}x\n`,
      );
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
