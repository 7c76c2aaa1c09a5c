/** Pool paths of deb packages: the parser every publish step shares, against the plain reading of the layout. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rng } from '../fixtures/random.js';
import { parseDebPath } from '../src/formats/deb/package.js';

/** The layout read literally: pool/<component>/<prefix>/<source>/<package>_<version>_<arch>.deb. */
function literal(p: string) {
  if (!p.startsWith('pool/') || !p.endsWith('.deb')) return undefined;
  const parts = p.split('/');
  if (parts.length !== 5) return undefined;
  const f = parts[4]!.slice(0, -4).split('_');
  if (f.length !== 3) return undefined;
  return { component: parts[1]!, source: parts[3]!, package: f[0]!, fileVersion: f[1]!, architecture: f[2]! };
}

test('parseDebPath reads every path as the layout says, and refuses every other shape', () => {
  assert.deepEqual(parseDebPath('pool/main/h/hello/hello_2.10-3_amd64.deb'), { component: 'main', source: 'hello', package: 'hello', fileVersion: '2.10-3', architecture: 'amd64' });
  assert.equal(parseDebPath('pool/main/h/hello/extra/hello_2.10-3_amd64.deb'), undefined);
  assert.equal(parseDebPath('pool/main/h/hello/hello_2.10_3_amd64.deb'), undefined);
  assert.equal(parseDebPath('dists/main/h/hello/hello_2.10-3_amd64.deb'), undefined);
  const r = rng('deb-paths');
  const pieces = ['', 'a', 'main', '_', 'x_y', '/', 'lib', '.', '1.0-1', '~', ':', '.deb'];
  const seg = () => Array.from({ length: Math.floor(r() * 3) }, () => pieces[Math.floor(r() * pieces.length)]).join('');
  let valid = 0;
  for (let i = 0; i < 50_000; i++) {
    const p = `${r() < 0.9 ? 'pool/' : 'poo/'}${seg()}/${seg()}/${seg()}/${seg()}_${seg()}_${seg()}${r() < 0.9 ? '.deb' : '.de'}`;
    assert.deepEqual(parseDebPath(p), literal(p), p);
    if (literal(p)) valid++;
  }
  assert.ok(valid > 5_000, `enough well-formed paths among the random ones (${valid})`);
});
