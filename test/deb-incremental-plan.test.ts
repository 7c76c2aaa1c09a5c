/**
 * An incremental plan of a Packages index (planPackagesFrom: the previous build's groups plus the paths
 * changed since) equals the plan from every package (planPackages), group for group and key for key,
 * over random sequences of additions, replacements and removals: boundary packages added and removed,
 * groups emptied, changes before the first and after the last group, other components and architectures
 * changing beside the index. Through the CLI: a carried-over group missing from the cache falls back to
 * the full plan.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { generateDebs } from '../fixtures/gen-deb.js';
import { cliIn, tempDir } from './helpers/cli.js';
import type { TreeEntry } from '../src/formats/format.js';
import { packagesByComponent, planPackages, planPackagesFrom, selectArch, type DebPart, type PreviousGroups } from '../src/formats/deb/packages-index.js';
import type { Chunk } from '../src/formats/shared/chunks.js';
import type { DebPath } from '../src/formats/deb/package.js';
import { compareBytewise } from '../src/util/paths.js';
import { int, pick, rng } from '../fixtures/random.js';

const opts = { preset: 3, gz: true, groupMask: 3 }; // ~4 packages a group: many boundaries
const belongs = (p: DebPath) => p.component === 'main' && (p.architecture === 'amd64' || p.architecture === 'all');

function randomPath(r: () => number): string {
  const src = `${pick(r, ['a', 'b', 'lib', 'z', 'm'])}${int(r, 0, 300)}`;
  const prefix = src.startsWith('lib') ? src.slice(0, 4) : src[0]!;
  const comp = r() < 0.8 ? 'main' : 'contrib';
  return `pool/${comp}/${prefix}/${src}/${src}-${int(r, 0, 3)}_${int(r, 1, 9)}.0_${pick(r, ['amd64', 'amd64', 'all', 'i386'])}.deb`;
}

function entry(path: string, r: () => number): TreeEntry {
  return { path, sha256: int(r, 0, 1e9).toString(16).padStart(64, '0'), size: int(r, 100, 9999) };
}

/** What the writer records of a plan (chunk-writer's build record). */
function recordOf(plan: ReturnType<typeof planPackages>): PreviousGroups {
  const groups = plan.chunks.map((c) => {
    assert.equal(c.kind, 'packages');
    if (c.kind !== 'packages') throw new Error('unreachable');
    return c.known ?? { first: c.parts[0]!.sortKey, last: c.parts[c.parts.length - 1]!.sortKey, count: c.parts.length };
  });
  return { keys: plan.chunks.map((c) => c.key), firsts: groups.map((g) => g.first), lasts: groups.map((g) => g.last), counts: groups.map((g) => g.count) };
}

const fromScratch = (entries: TreeEntry[]) => planPackages(selectArch(packagesByComponent(entries).get('main'), 'amd64'), opts);

test('an incremental Packages plan equals the plan from every package over random changes', () => {
  for (let seq = 0; seq < 30; seq++) {
    const r = rng(`plan:${seq}`);
    const tree = new Map<string, TreeEntry>();
    for (let i = 0; i < int(r, 0, 120); i++) {
      const p = randomPath(r);
      tree.set(p, entry(p, r));
    }
    const sorted = () => [...tree.values()].sort((a, b) => compareBytewise(a.path, b.path));
    let record = recordOf(fromScratch(sorted()));
    let carriedSome = 0;
    for (let step = 0; step < 25; step++) {
      const changed: string[] = [];
      for (let n = int(r, 1, 6); n > 0; n--) {
        const have = [...tree.keys()];
        const roll = r();
        if (roll < 0.45 || have.length === 0) {
          const p = randomPath(r);
          tree.set(p, entry(p, r));
          changed.push(p);
        } else if (roll < 0.6) {
          const p = pick(r, have);
          tree.set(p, entry(p, r)); // replaced: same path, other bytes
          changed.push(p);
        } else {
          const p = pick(r, have);
          tree.delete(p);
          changed.push(p);
        }
      }
      const entries = sorted();
      const full = fromScratch(entries);
      const inc: ReturnType<typeof planPackages> | undefined = planPackagesFrom(record, entries, changed, belongs, opts);
      if (record.keys.length === 0) assert.equal(inc, undefined, 'nothing to carry: planned from scratch');
      else {
        assert.ok(inc, `seq ${seq} step ${step}: an incremental plan`);
        const ctx = `seq ${seq} step ${step}, changed ${changed.join(' ')}`;
        assert.deepEqual(inc.chunks.map((c) => c.key), full.chunks.map((c) => c.key), ctx);
        assert.deepEqual(recordOf(inc), recordOf(full), ctx);
        for (let i = 0; i < inc.chunks.length; i++) {
          const a: Chunk<DebPart> = inc.chunks[i]!;
          const b: Chunk<DebPart> = full.chunks[i]!;
          if (a.kind !== 'packages' || b.kind !== 'packages') continue;
          if (a.known) carriedSome++;
          else assert.deepEqual(a.parts.map((p) => p.id), b.parts.map((p) => p.id), ctx);
        }
      }
      record = recordOf(full);
    }
    if (tree.size > 40) assert.ok(carriedSome > 0, `seq ${seq}: some groups were taken over unchanged`);
  }
});

test('an incremental plan gives up on entries out of order (the caller then plans from every package)', () => {
  const r = rng('order');
  const paths = ['pool/main/a/a1/a1-0_1.0_amd64.deb', 'pool/main/a/a2/a2-0_1.0_amd64.deb', 'pool/main/b/b1/b1-0_1.0_amd64.deb'];
  const entries = paths.map((p) => entry(p, r));
  const record = recordOf(planPackages(selectArch(packagesByComponent(entries).get('main'), 'amd64'), opts));
  const shuffled = [entries[1]!, entries[0]!, entries[2]!];
  assert.equal(planPackagesFrom(record, shuffled, [paths[0]!], belongs, opts), undefined);
});

test('a publish whose carried-over groups left the cache plans again from every package, and publishes the right index', () => {
  const base = path.join(tempDir('rcurepo-plan-'), 'base');
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  for (const repo of ['inc', 'scratch']) assert.equal(cli.sync(['create-repo', repo, '--format', 'deb', '--dist', 'sid', '--architectures', 'amd64']).code, 0);
  const dir = path.join(base, '..', 'in');
  fs.mkdirSync(dir);
  const files = generateDebs({ out: dir, count: 300, seed: 'stale-plan', archs: ['amd64'], control: 'xz' }).map((d) => path.join(dir, d.file));
  const [last, ...rest] = files;
  assert.equal(cli.sync(['import', 'inc', ...rest]).code, 0);
  const blocks = path.join(base, 'repos/inc/meta/cache/deb/blocks/main/binary-amd64');
  for (const f of fs.readdirSync(blocks)) if (f.endsWith('.blk')) fs.rmSync(path.join(blocks, f));
  const r = cli.sync(['import', 'inc', last!], { env: { RCUREPO_TRACE: '1' } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Packages planned from the previous build/, 'the record allowed an incremental plan');
  assert.match(r.stderr, /is gone; planned again from every package/);
  assert.equal(cli.sync(['import', 'scratch', ...files]).code, 0);
  const index = (repo: string) => fs.readFileSync(path.join(base, 'repos', repo, 'current/dists/sid/main/binary-amd64/Packages.xz'));
  assert.ok(index('inc').equals(index('scratch')), 'Packages.xz equals a from-scratch build');
  assert.equal(cli.sync(['verify', 'inc']).code, 0);
});
