/**
 * promote for deb repositories through the real CLI: the newest version of each name on every
 * architecture, and --with-deps over Depends/Pre-Depends (alternatives, version constraints with
 * epochs and `~`, `:any`, virtual packages through versioned and plain Provides, `all` packages on every
 * architecture). Real apt, reading only the target, then installs the promoted package (simulated).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AptClient, hasApt } from './helpers/apt-client.js';
import { debRepos, type Tx } from './helpers/deb-repos.js';
import { startServe } from './helpers/readers-fixture.js';
import { toolMissing } from './helpers/children.js';

const APT_MISSING = 'apt not installed: run as root with apt, or .ci/run installs it (package apt)';
const ARCHS = ['--dist', 'bookworm', '--architectures', 'amd64,arm64'];

/** A source with a dependency web that needs every rule, and a target that already satisfies some of it. */
function closureFixture() {
  const r = debRepos({ testing: ARCHS, stable: ARCHS, bare: ARCHS });
  const { deb, must } = r;
  const both = (name: string, version: string, extra: Record<string, string> = {}) => [deb(name, version, 'amd64', extra), deb(name, version, 'arm64', extra)];
  const appDeps = ['libfoo (>= 1.2)', 'python3:any', 'mail-transport-agent', 'exim4 | sendmail-bin', 'web-a | web-b', 'cron | anacron', 'default-dbus (>= 1.2)', 'base-files', 'app-data (= 2.0-1)'].join(', ');
  const testing = [
    ...both('app', '2.0-1', { 'Pre-Depends': 'dpkg-tool (>= 1:1.0)', Depends: appDeps }),
    deb('app', '1.0-1', 'amd64', { Depends: 'libfoo' }),
    deb('app-data', '2.0-1', 'all', { Depends: 'fonts-x' }),
    deb('fonts-x', '1.0', 'all'),
    ...both('libfoo', '1.1-1', { 'Multi-Arch': 'same' }),
    ...both('libfoo', '1.3-1', { 'Multi-Arch': 'same', Depends: 'libbar (= 1.3-1)' }),
    ...both('libbar', '1.3-1'),
    ...both('libbar', '1.4-1'),
    ...both('python3', '3.11.2-1', { 'Multi-Arch': 'allowed' }),
    ...both('postfix', '3.7.1-1', { Provides: 'mail-transport-agent' }),
    ...both('sendmail-bin', '8.17.1-1'),
    ...both('cron', '3.0pl1-1'),
    ...both('anacron', '2.3-1'),
    ...both('web-a', '1.0'),
    ...both('web-b', '1.0'),
    ...both('aa-dbus', '1.0', { Provides: 'default-dbus' }),
    ...both('dbus-broker', '33-1', { Provides: 'default-dbus (= 1.4)' }),
    deb('base-files', '13', 'all'),
    ...both('dpkg-tool', '2.0-1'),
    ...both('dpkg-tool', '1:1.0-1'),
  ];
  must(['import', 'testing', ...testing]);
  // What the target already satisfies: web-b (the second alternative) and an older base-files.
  must(['import', 'stable', ...both('web-b', '1.0'), deb('base-files', '12.4', 'all')]);
  return r;
}

const onBoth = (name: string, version: string) => [`${name} ${version} amd64`, `${name} ${version} arm64`];
const CLOSURE = [
  ...onBoth('app', '2.0-1'),
  'app-data 2.0-1 all',
  'fonts-x 1.0 all',
  ...onBoth('libfoo', '1.3-1'),
  ...onBoth('libbar', '1.3-1'),
  ...onBoth('python3', '3.11.2-1'),
  ...onBoth('postfix', '3.7.1-1'),
  ...onBoth('sendmail-bin', '8.17.1-1'),
  ...onBoth('cron', '3.0pl1-1'),
  ...onBoth('dbus-broker', '33-1'),
  ...onBoth('dpkg-tool', '1:1.0-1'),
].sort();

/** Names apt would install (`Inst NAME[:arch] ...` lines of a simulation), without the architecture. */
function simulated(apt: AptClient, spec: string): { code: number | null; names: string[]; out: string } {
  const r = apt.run('apt-get', ['install', '--simulate', '--no-install-recommends', spec]);
  const names = [...r.out.matchAll(/^Inst (\S+)/gm)].map((m) => m[1]!.replace(/:.*$/, ''));
  return { code: r.code, names: [...new Set(names)].sort(), out: r.out };
}

describe('promote for deb repositories', () => {
  it('without --with-deps takes the newest version of each architecture of the name', () => {
    const { cli, ids } = closureFixture();
    const r = cli.json<Tx>(['promote', 'testing', 'bare', 'app']);
    assert.equal(r.published, true);
    assert.deepEqual(ids('bare'), onBoth('app', '2.0-1'));
  });

  it('--with-deps brings the closure resolved in the source, and nothing the target satisfies', () => {
    const { cli, ids, current } = closureFixture();
    const before = ids('stable');
    const dry = cli.json<Tx>(['promote', 'testing', 'stable', 'app', '--with-deps', '--dry-run']);
    assert.equal(dry.published, false);
    assert.equal(current('stable'), 'snapshots/2', 'a dry run changes nothing');
    const r = cli.json<Tx>(['promote', 'testing', 'stable', 'app', '--with-deps']);
    assert.deepEqual(r.added.slice().sort(), dry.added.slice().sort(), 'the dry run listed exactly what was done');
    assert.deepEqual(ids('stable'), [...before, ...CLOSURE].sort());
    // Nothing else: the older app and libfoo, libbar 1.4 (a `=` constraint), web-a and anacron (an
    // alternative is already satisfied or comes first), aa-dbus (an unversioned Provides cannot satisfy
    // `>= 1.2`), base-files 13 (the target's 12.4 satisfies), dpkg-tool 2.0-1 (epoch 0 < 1:1.0).
    assert.equal(cli.json<Tx>(['promote', 'testing', 'stable', 'app', '--with-deps']).published, false, 'a second promotion has nothing to add');
    const v = cli.sync(['verify', 'stable']);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  });

  it('real apt installs the promoted package from the target alone; without --with-deps it cannot', async (t) => {
    if (!hasApt()) return toolMissing(t, APT_MISSING);
    const { cli, base } = closureFixture();
    cli.json<Tx>(['promote', 'testing', 'stable', 'app', '--with-deps']);
    cli.json<Tx>(['promote', 'testing', 'bare', 'app']);
    const served = await startServe(base);
    try {
      const expect = [...new Set([...CLOSURE.map((id) => id.split(' ')[0]!), 'web-b', 'base-files'])].sort();
      // A client of each architecture (apt counts `all` as native, so each is its own machine).
      for (const arch of ['amd64', 'arm64']) {
        const apt = new AptClient(`deb [trusted=yes] ${served.url}/stable/ bookworm main`, [arch]);
        apt.update();
        const s = simulated(apt, 'app');
        assert.equal(s.code, 0, `apt-get install --simulate app on ${arch}, against the target:\n${s.out}`);
        assert.deepEqual(s.names, expect, `apt installs exactly the closure on ${arch}:\n${s.out}`);
      }
      // The control: the same package promoted without its dependencies is not installable.
      const bare = new AptClient(`deb [trusted=yes] ${served.url}/bare/ bookworm main`);
      bare.update();
      const s = simulated(bare, 'app');
      assert.notEqual(s.code, 0, s.out);
      assert.match(s.out, /unmet dependencies|not installable|but it is not going to be installed|Unable to correct problems/i);
    } finally {
      await served.stop();
    }
  });

  it('an unsatisfiable dependency stops the promotion, names each chain, and changes nothing', () => {
    const { cli, deb, must, current } = debRepos({ testing: ARCHS, stable: ARCHS });
    must(['import', 'testing',
      deb('top', '1.0', 'amd64', { Depends: 'mid' }), deb('mid', '1.0', 'amd64', { Depends: 'leaf (>= 2)' }), deb('leaf', '1.0', 'amd64'),
      deb('py-strict', '1.0', 'amd64', { Depends: 'pyfake:any' }), deb('pyfake', '1.0', 'amd64'),
      deb('needs-v', '1.0', 'amd64', { Depends: 'virt (>= 1)' }), deb('prov', '1.0', 'amd64', { Provides: 'virt' }),
    ]);
    const gen = current('stable');
    const r = cli.sync(['promote', 'testing', 'stable', 'top', 'py-strict', 'needs-v', '--with-deps']);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /3 dependency\(ies\) satisfied by neither testing nor stable; nothing was promoted/);
    assert.match(r.stderr, /top -> mid -> missing leaf \(>= 2\)/);
    assert.match(r.stderr, /py-strict -> missing pyfake:any/, 'a package without Multi-Arch: allowed does not satisfy :any');
    assert.match(r.stderr, /needs-v -> missing virt \(>= 1\)/, 'an unversioned Provides does not satisfy a versioned dependency');
    assert.equal(current('stable'), gen);
    assert.deepEqual(cli.json<unknown[]>(['history', 'stable']).length, 1, 'no history entry');
    assert.match(cli.sync(['promote', 'testing', 'stable', 'nosuch']).stderr, /nosuch: no such package in testing/);
    // No generation number was consumed: the next publish is the next number.
    assert.equal(cli.json<Tx>(['promote', 'testing', 'stable', 'leaf']).generation, Number(gen.replace('snapshots/', '')) + 1);
    assert.equal(cli.sync(['verify', 'stable']).code, 0);
  });

  it('never downgrades the target; --dist picks the source distribution', () => {
    const { cli, deb, must, ids } = debRepos({ testing: ARCHS, stable: [...ARCHS, '--components', 'main,contrib'] });
    must(['add-dist', 'testing', 'trixie', '--components', 'main,contrib', '--architectures', 'amd64']);
    must(['import', 'testing', deb('tool', '2.0-1', 'amd64')]);
    must(['import', 'testing', '--dist', 'trixie', '--component', 'contrib', deb('extra', '1.0~beta1', 'amd64')]);
    must(['import', 'stable', deb('tool', '1:0.1-1', 'amd64')]);
    const r = cli.json<Tx>(['promote', 'testing', 'stable', 'tool']);
    assert.equal(r.published, false);
    assert.ok(r.notes.some((n) => /tool amd64: stable already has 1:0\.1-1, newer than 2\.0-1; left alone/.test(n)), r.notes.join('\n'));
    const wrong = cli.sync(['promote', 'testing', 'stable', 'extra', '--dist', 'bookworm']);
    assert.equal(wrong.code, 5);
    assert.match(wrong.stderr, /extra: no such package in testing \(distribution bookworm\)/);
    assert.equal(cli.sync(['promote', 'testing', 'stable', 'extra', '--dist', 'nosuch']).code, 2);
    cli.json<Tx>(['promote', 'testing', 'stable', 'extra', '--dist', 'trixie']);
    assert.deepEqual(ids('stable'), ['extra 1.0~beta1 amd64', 'tool 1:0.1-1 amd64']);
  });
});
