/** clone, pull, promote, copy/remove-source, trims and freeze through the real CLI. */
import { track } from './helpers/children.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { BIN, cliIn, tempDir } from './helpers/cli.js';
import { checkSums } from './helpers/tree-check.js';
import { generatePackages } from '../fixtures/gen-eopkg.js';

interface Tx {
  published: boolean;
  generation: number;
  added: string[];
  removed: string[];
  notes: string[];
}

/** Runtime dependencies read with Python's zipfile and a regex: independent of rcurepo's reader. */
function depsByName(dir: string): Map<string, string[]> {
  const out = execFileSync('python3', ['-c', `
import zipfile,glob,re,sys,json
d={}
for f in glob.glob(sys.argv[1]+'/*.eopkg'):
    m=zipfile.ZipFile(f).read('metadata.xml').decode()
    name=re.search(r'<Package>\\s*<Name>([^<]+)</Name>',m).group(1)
    d[name]=re.findall(r'<Dependency[^>]*>([^<]+)</Dependency>',m)
print(json.dumps(d))`, dir]).toString();
  return new Map(Object.entries(JSON.parse(out) as Record<string, string[]>));
}

function setup() {
  const dir = tempDir();
  const pkgs = path.join(dir, 'pkgs');
  generatePackages({ out: pkgs, count: 12, seed: 7, buildsPerName: 2, deltas: true });
  const base = path.join(dir, 'base');
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  for (const r of ['unstable', 'stable']) assert.equal(cli.sync(['create-repo', r, '--format', 'eopkg']).code, 0);
  const files = fs.readdirSync(pkgs).filter((f) => f.endsWith('.eopkg')).map((f) => path.join(pkgs, f));
  assert.equal(cli.sync(['import', 'unstable', ...files]).code, 0);
  const gen = (repo: string) => fs.readlinkSync(path.join(base, 'repos', repo, 'current'));
  const names = (repo: string) => cli.json<{ packages: Array<{ name: string; release: number; tip: boolean; delta: boolean }> }>(['list', repo]).packages;
  return { dir, pkgs, base, cli, gen, names };
}

test('promote --with-deps brings the dependency closure resolved in the source; links only', () => {
  const { cli, pkgs, names, base } = setup();
  const deps = depsByName(pkgs);
  const closure = new Set<string>();
  const walk = (n: string) => {
    if (closure.has(n)) return;
    closure.add(n);
    for (const d of deps.get(n) ?? []) walk(d);
  };
  walk('wenlo');
  assert.ok(closure.size >= 4, 'the fixture has a real dependency chain');
  const dry = cli.json<Tx>(['promote', 'unstable', 'stable', 'wenlo', '--with-deps', '--dry-run']);
  assert.equal(dry.published, false);
  assert.equal(fs.readlinkSync(path.join(base, 'repos/stable/current')), 'snapshots/1', 'dry run changes nothing');
  const r = cli.json<Tx>(['promote', 'unstable', 'stable', 'wenlo', '--with-deps']);
  assert.deepEqual(r.added.sort(), dry.added.sort(), 'the dry run listed exactly what was done');
  const tips = names('stable').filter((p) => p.tip);
  assert.deepEqual(tips.map((p) => p.name).sort(), [...closure].sort());
  // Copying is linking: the promoted files share inodes with the source's.
  const any = r.added[0]!;
  assert.equal(fs.statSync(path.join(base, 'repos/stable/current', any)).ino, fs.statSync(path.join(base, 'repos/unstable/current', any)).ino);
  // Promoting again: DST already has everything at the same release.
  assert.equal(cli.json<Tx>(['promote', 'unstable', 'stable', 'wenlo', '--with-deps']).published, false);
  assert.equal(cli.sync(['verify']).code, 0);
});

test('a promotion whose dependency is missing stops with the chain that needs it', () => {
  const { cli, base, names } = setup();
  const dexhul = names('unstable').filter((p) => p.name === 'dexhul');
  assert.ok(dexhul.length > 0);
  const paths = cli.json<{ entries: Array<{ path: string }> }>(['list', 'unstable']).entries.map((e) => e.path).filter((p) => /\/dexhul-[0-9]/.test(p));
  assert.equal(cli.sync(['remove', 'unstable', ...paths]).code, 0);
  const r = cli.sync(['promote', 'unstable', 'stable', 'vijor', '--with-deps']);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /vijor -> dexhul-devel -> dexhul: 'dexhul' is in neither unstable nor stable/);
  assert.equal(fs.readlinkSync(path.join(base, 'repos/stable/current')), 'snapshots/1');
});

test('pull takes newer and absent tips, never downgrades, and reports a newer target', () => {
  const { cli, pkgs, names, base } = setup();
  // stable gets the NEWEST build of vijor first; unstable then loses it (so its tip is older).
  const newest = fs.readdirSync(pkgs).filter((f) => /^vijor-3\.11\.0-33/.test(f));
  assert.equal(cli.sync(['import', 'stable', ...newest.map((f) => path.join(pkgs, f))]).code, 0);
  const unstablePath = cli.json<{ entries: Array<{ path: string }> }>(['list', 'unstable']).entries.map((e) => e.path).find((p) => p.endsWith('vijor-3.11.0-33-1-x86_64.eopkg'))!;
  assert.equal(cli.sync(['remove', 'unstable', unstablePath]).code, 0);
  const r = cli.json<Tx>(['pull', 'unstable', 'stable']);
  assert.equal(r.published, true);
  assert.ok(r.notes.some((n) => /vijor: stable has release 33, newer than unstable's 32; left alone/.test(n)), r.notes.join('\n'));
  const stable = names('stable');
  assert.equal(stable.find((p) => p.name === 'vijor' && p.tip)!.release, 33, 'no downgrade');
  const unstableTips = names('unstable').filter((p) => p.tip && p.name !== 'vijor');
  for (const t of unstableTips) assert.ok(stable.some((p) => p.tip && p.name === t.name && p.release === t.release), `${t.name} pulled`);
  assert.equal(r.removed.length, 0, 'pull never removes');
  checkIndexListsTips(path.join(base, 'repos/stable/current'), stable.filter((p) => p.tip).length);
});

function checkIndexListsTips(current: string, n: number): void {
  const xml = execFileSync('xz', ['-dc', path.join(current, 'eopkg-index.xml.xz')]).toString();
  assert.equal((xml.match(/<Package>/g) ?? []).length, n);
}

test('trim-packages keeps the tip; trim-obsoletes drops obsolete names and their -dbginfo', () => {
  const { cli, names, dir } = setup();
  const before = names('unstable');
  const r = cli.json<Tx>(['trim-packages', 'unstable', '1']);
  const after = names('unstable');
  for (const t of before.filter((p) => p.tip)) assert.ok(after.some((p) => p.tip && p.name === t.name && p.release === t.release), `${t.name} tip kept`);
  assert.equal(after.filter((p) => !p.delta).length, before.filter((p) => p.tip).length, 'one build per name left');
  assert.ok(r.removed.length > 0);
  assert.equal(cli.sync(['trim-packages', 'unstable', '0']).code, 2, 'KEEP 0 would remove tips');
  // Obsoletes: mark vijor obsolete; vijor and vijor-dbginfo go, vijor-devel stays.
  const dist = path.join(dir, 'distribution.xml');
  fs.writeFileSync(dist, '<PISI><SourceName>Solus</SourceName><Description xml:lang="en">test</Description><Version>1</Version><Type>main</Type><BinaryName>Solus</BinaryName><Obsoletes><Package>vijor</Package></Obsoletes></PISI>');
  assert.equal(cli.sync(['set-assets', 'unstable', '--distribution', dist]).code, 0);
  const o = cli.json<Tx>(['trim-obsoletes', 'unstable']);
  assert.ok(o.removed.length >= 2);
  const left = names('unstable').map((p) => p.name);
  assert.ok(!left.includes('vijor') && !left.includes('vijor-dbginfo'));
  assert.ok(left.includes('vijor-devel'));
  assert.equal(cli.sync(['verify']).code, 0);
});

test('copy-source and remove-source move every build of a source, or one release', () => {
  const { cli, names } = setup();
  const r = cli.json<Tx>(['copy-source', 'unstable', 'stable', 'vijor', '32']);
  assert.ok(r.added.every((p) => p.startsWith('v/vijor/') && /-32-1-x86_64\.eopkg$/.test(p)), r.added.join(' '));
  assert.equal(cli.json<Tx>(['copy-source', 'unstable', 'stable', 'vijor']).published, true);
  assert.ok(names('stable').some((p) => p.name === 'vijor-devel' && p.release === 33));
  const rm = cli.json<Tx>(['remove-source', 'stable', 'vijor', '32']);
  assert.ok(rm.removed.length > 0 && rm.removed.every((p) => /-32-1-x86_64\.eopkg$/.test(p)));
  assert.equal(cli.sync(['remove-source', 'stable', 'nosuch']).code, 5);
});

test('a frozen repository refuses every change with a clear message', () => {
  const { cli, base, pkgs } = setup();
  // stable holds one package, so that a re-delivery of it (a no-op) can be tried below
  const held = path.join(pkgs, fs.readdirSync(pkgs).find((f) => f.endsWith('.eopkg') && !f.includes('.delta.'))!);
  assert.equal(cli.sync(['import', 'stable', held]).code, 0);
  assert.equal(cli.sync(['freeze', 'stable', '--reason', 'sync window']).code, 0);
  for (const args of [['promote', 'unstable', 'stable', 'dexhul'], ['pull', 'unstable', 'stable'], ['remove-source', 'stable', 'dexhul'], ['trim-packages', 'stable', '1'], ['import', 'stable', held]]) {
    const r = cli.sync(args);
    assert.equal(r.code, 7, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /'stable' is frozen .*sync window/);
  }
  assert.equal(fs.readlinkSync(path.join(base, 'repos/stable/current')), 'snapshots/2');
  assert.equal(cli.sync(['unfreeze', 'stable']).code, 0);
  assert.match(cli.sync(['import', 'stable', held]).stdout, /nothing to publish/);
  assert.equal(cli.sync(['promote', 'unstable', 'stable', 'dexhul']).code, 0);
});

test('clone: tips by default, every build with --full; a files repository clones and pulls too', () => {
  const { cli, names, dir } = setup();
  const tipsOnly = cli.json<Tx>(['clone', 'unstable', 'c1']);
  assert.equal(names('c1').filter((p) => !p.delta).length, names('unstable').filter((p) => p.tip).length);
  assert.ok(tipsOnly.published);
  cli.json<Tx>(['clone', 'unstable', 'c2', '--full']);
  assert.equal(names('c2').length, names('unstable').length);
  assert.equal(cli.sync(['clone', 'unstable', 'c2']).code, 6, 'an existing target is refused');
  // files format
  assert.equal(cli.sync(['create-repo', 'f1']).code, 0);
  const input = path.join(dir, 'in');
  fs.mkdirSync(input);
  fs.writeFileSync(path.join(input, 'a.txt'), 'a1');
  assert.equal(cli.sync(['import', 'f1', input]).code, 0);
  cli.json<Tx>(['clone', 'f1', 'f2']);
  fs.writeFileSync(path.join(input, 'b.txt'), 'b1');
  fs.writeFileSync(path.join(input, 'a.txt'), 'a2 newer');
  assert.equal(cli.sync(['import', 'f1', input, '--replace']).code, 0);
  const p = cli.json<Tx & { replaced: string[] }>(['pull', 'f1', 'f2']);
  assert.deepEqual(p.added, ['b.txt']);
  assert.deepEqual(p.replaced, ['a.txt']);
  checkSums(fs.realpathSync(path.join(path.dirname(dir), path.basename(dir), 'base/repos/f2/current')));
  assert.equal(cli.sync(['promote', 'f1', 'f2', 'a.txt']).code, 2, 'promote is for eopkg');
});

test('a kill -9 in the middle of a pull leaves the target as it was', async () => {
  const { base, cli } = setup();
  for (const point of ['after-clone', 'after-index', 'after-rename']) {
    const child = track(spawn(process.execPath, [BIN, '--base', base, 'pull', 'unstable', 'stable'], { env: { ...process.env, RCUREPO_CRASH_AT: point }, stdio: 'ignore' }));
    const signal = await new Promise((res) => child.on('close', (_c, s) => res(s)));
    assert.equal(signal, 'SIGKILL');
    assert.equal(fs.readlinkSync(path.join(base, 'repos/stable/current')), 'snapshots/1', `stable unchanged after a crash at ${point}`);
  }
  assert.equal(cli.sync(['pull', 'unstable', 'stable']).code, 0);
  assert.equal(cli.sync(['verify']).code, 0);
});
