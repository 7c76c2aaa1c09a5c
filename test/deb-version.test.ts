/** Debian version syntax and ordering against dpkg itself (`dpkg --compare-versions` is the oracle). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { rng } from '../fixtures/random.js';
import { compareVersions, parseVersion } from '../src/formats/deb/version.js';
import { toolMissing } from './helpers/children.js';

const hasDpkg = spawnSync('dpkg', ['--version']).status === 0;

/** Random versions that stress the algorithm: epochs, ~, +, leading zeros, letters, revisions. */
function randomVersion(r: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const piece = (): string => {
    let s = String(Math.floor(r() * 3) === 0 ? '0' + Math.floor(r() * 10) : Math.floor(r() * 12));
    const n = Math.floor(r() * 4);
    for (let i = 0; i < n; i++) s += pick(['.', '~', '+', 'a', 'b', '~~', '.0', 'rc', '~rc1', '+b1', '0', '1', 'z', '.', '']) + (r() < 0.5 ? String(Math.floor(r() * 5)) : '');
    return s;
  };
  const epoch = r() < 0.25 ? `${Math.floor(r() * 3)}:` : '';
  const rev = r() < 0.6 ? `-${pick(['0', '1', '1~bpo1', '2+b1', '0.1', '1a', '~1', '10'])}` : '';
  return epoch + piece() + rev;
}

describe('deb version ordering', () => {
  it('equals dpkg --compare-versions over 1,200 random pairs (epochs, ~, revisions)', (t) => {
    if (!hasDpkg) {
      toolMissing(t, 'dpkg not installed: run as root with apt, or .ci/run installs it (package dpkg)');
      return;
    }
    const r = rng('deb-version-pairs');
    let checked = 0;
    let equalSeen = 0;
    for (let i = 0; i < 1200; i++) {
      const a = randomVersion(r);
      // Some pairs share a prefix, so near-equal versions are compared too.
      const b = r() < 0.3 ? a + randomVersion(r).slice(0, 2).replace(/[:-]/g, '') : r() < 0.1 ? a : randomVersion(r);
      if (typeof parseVersion(a) === 'string' || typeof parseVersion(b) === 'string') continue;
      const ours = compareVersions(a, b);
      const lt = spawnSync('dpkg', ['--compare-versions', a, 'lt', b]).status === 0;
      const eq = !lt && spawnSync('dpkg', ['--compare-versions', a, 'eq', b]).status === 0;
      const theirs = lt ? -1 : eq ? 0 : 1;
      assert.equal(ours, theirs, `${a} vs ${b}: ours ${ours}, dpkg ${theirs}`);
      if (theirs === 0) equalSeen++;
      checked++;
    }
    assert.ok(checked >= 1000, `only ${checked} valid pairs`);
    assert.ok(equalSeen > 0, 'no equal pair exercised');
  });

  it('knows the classic cases', () => {
    assert.equal(compareVersions('1.0~rc1', '1.0'), -1);
    assert.equal(compareVersions('1:0.1', '2.0'), 1);
    assert.equal(compareVersions('1.0', '1.0-0'), 0);
    assert.equal(compareVersions('1.0a', '1.0+'), -1);
    assert.equal(compareVersions('1.0~~', '1.0~'), -1);
    assert.equal(compareVersions('0:1.00', '1.0'), 0);
  });

  it('refuses what dpkg refuses', (t) => {
    const bad = ['', 'a1.0', '1.0-', ':1.0', 'x:1.0', '1:', '1.0_1', '1 0', '1.0-a_b', '1:a'];
    for (const v of bad) {
      assert.equal(typeof parseVersion(v), 'string', `'${v}' should be refused`);
      if (hasDpkg && v.trim() !== '') {
        const r = spawnSync('dpkg', ['--compare-versions', v, 'eq', '1']);
        assert.notEqual(r.stderr.toString(), '', `dpkg accepts '${v}' silently`);
      }
    }
    if (!hasDpkg) t.diagnostic('dpkg not installed: refusals not cross-checked');
  });
});
