/**
 * findBuildClashes (src/engine/build-identity.ts): one build per identity (eopkg: name and release),
 * against the parent and within the change; with `focus`, only the named adds' clashes are searched
 * (how a round of uploads judges one request at a time).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findBuildClashes } from '../src/engine/build-identity.js';

const identityOf = (p: string): string | undefined => {
  const m = /([a-z]+)-(\d+)\.x$/.exec(p);
  return m ? `${m[1]}@${m[2]}` : undefined;
};
const parent = new Map([
  ['a/foo-1.x', { path: 'a/foo-1.x', sha256: 'f1', size: 1 }],
  ['d/bar-2.x', { path: 'd/bar-2.x', sha256: 'b2', size: 1 }],
]);
const add = (path: string) => ({ path, sha256: `sha-${path}`, size: 1 });

test('a build of an identity the parent has at another path clashes; the same path does not', () => {
  // Two adds of one identity: they clash with each other, and the first with the parent's other path.
  const c = findBuildClashes({ adds: [add('b/foo-1.x'), add('a/foo-1.x')], removes: [] }, parent, identityOf);
  assert.deepEqual(c.map((x) => [x.path, x.other.path, x.other.inParent]), [['a/foo-1.x', 'b/foo-1.x', false], ['b/foo-1.x', 'a/foo-1.x', true]]);
  const p = findBuildClashes({ adds: [add('b/foo-1.x')], removes: [] }, parent, identityOf);
  assert.deepEqual(p.map((x) => [x.identity, x.path, x.other.path, x.other.inParent]), [['foo@1', 'b/foo-1.x', 'a/foo-1.x', true]]);
  assert.deepEqual(findBuildClashes({ adds: [add('b/foo-1.x')], removes: ['a/foo-1.x'] }, parent, identityOf), [], 'removed in the same change');
});

test('focus: only the focused adds are searched in the parent; clashes within the change are still found', () => {
  const change = { adds: [add('b/foo-1.x'), add('c/bar-2.x')], removes: [] };
  const focused = findBuildClashes(change, parent, identityOf, new Set(['c/bar-2.x']));
  assert.deepEqual(focused.map((x) => [x.path, x.other.path]), [['c/bar-2.x', 'd/bar-2.x']], 'foo is not asked about');
  const all = findBuildClashes(change, parent, identityOf);
  assert.deepEqual(all.map((x) => x.path).sort(), ['b/foo-1.x', 'c/bar-2.x']);
  const within = findBuildClashes({ adds: [add('b/baz-3.x'), add('c/baz-3.x')], removes: [] }, parent, identityOf, new Set(['c/baz-3.x']));
  assert.deepEqual(within.map((x) => [x.path, x.other.path, x.other.inParent]), [['c/baz-3.x', 'b/baz-3.x', false]]);
});

test('searching one parent again uses its index of identities, with the same answers as the first search', () => {
  const big = new Map(parent);
  for (let i = 0; i < 200; i++) big.set(`z/other${String.fromCharCode(97 + (i % 26))}-${i}.x`, { path: `z/other${String.fromCharCode(97 + (i % 26))}-${i}.x`, sha256: `o${i}`, size: 1 });
  big.set('e/foo-1.x', { path: 'e/foo-1.x', sha256: 'f1e', size: 1 });
  const ask = () => [
    findBuildClashes({ adds: [add('b/foo-1.x')], removes: [] }, big, identityOf),
    findBuildClashes({ adds: [add('b/foo-1.x')], removes: ['a/foo-1.x'] }, big, identityOf),
    findBuildClashes({ adds: [add('b/foo-1.x'), add('c/bar-2.x')], removes: [] }, big, identityOf, new Set(['c/bar-2.x'])),
    findBuildClashes({ adds: [add('a/foo-1.x')], removes: [] }, big, identityOf),
  ];
  const first = ask(); // the first two calls scan, the later ones (and this whole second round) use the index
  assert.deepEqual(first[0]!.map((x) => [x.path, x.other.path]), [['b/foo-1.x', 'a/foo-1.x'], ['b/foo-1.x', 'e/foo-1.x']], 'both parent files, in path order');
  assert.deepEqual(first[1]!.map((x) => x.other.path), ['e/foo-1.x'], 'the removed one is no clash');
  assert.deepEqual(first[2]!.map((x) => [x.path, x.other.path]), [['c/bar-2.x', 'd/bar-2.x']]);
  assert.deepEqual(first[3]!.map((x) => x.other.path), ['e/foo-1.x'], 'its own path is no clash');
  assert.deepEqual(ask(), first);
  // More than 64 names: the first two searches look at every parent file, the third asks the index.
  const many = Array.from({ length: 70 }, (_, i) => add(`n/other${String.fromCharCode(97 + (i % 26))}-${i}.x`));
  const fresh = new Map([...big].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))); // in path order, as parent maps are (manifests are sorted)
  const scanned = findBuildClashes({ adds: many, removes: [] }, fresh, identityOf);
  assert.equal(scanned.length, 70);
  assert.deepEqual(findBuildClashes({ adds: many, removes: [] }, fresh, identityOf), scanned);
  assert.deepEqual(findBuildClashes({ adds: many, removes: [] }, fresh, identityOf), scanned);
});
