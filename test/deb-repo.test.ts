/**
 * The deb format through the real CLI: empty repositories, imports, stanzas equal to dpkg-scanpackages,
 * refusals that change nothing, conflicts, byte-identical incremental builds, by-hash carry-forward,
 * Date and Release-info rules, add-dist and the flat layout.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ar } from '../fixtures/archives.js';
import { generateDebs, makeDeb, type GeneratedDeb } from '../fixtures/gen-deb.js';
import { rng } from '../fixtures/random.js';
import { cliIn, tempDir } from './helpers/cli.js';
import { toolMissing } from './helpers/children.js';

const has = (cmd: string, args: string[] = ['--version']): boolean => spawnSync(cmd, args).status === 0;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function newBase(): { base: string; cli: ReturnType<typeof cliIn> } {
  const base = tempDir('rcurepo-deb-');
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  return { base, cli };
}

function writeDebs(dir: string, debs: readonly GeneratedDeb[]): string[] {
  fs.mkdirSync(dir, { recursive: true });
  return debs.map((d) => {
    const f = path.join(dir, d.file);
    fs.writeFileSync(f, d.bytes);
    return f;
  });
}

const current = (base: string, repo: string): string => fs.realpathSync(path.join(base, 'repos', repo, 'current'));
const xzcat = (f: string): string => spawnSync('xz', ['-dc', f], { encoding: 'utf8' }).stdout;

/** Stanzas of a Packages text as field maps keyed by "package version arch". */
function stanzas(text: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const para of text.split(/\n\n+/)) {
    if (para.trim() === '') continue;
    const fields = new Map<string, string>();
    let last = '';
    for (const line of para.split('\n')) {
      if (/^\s/.test(line)) fields.set(last, fields.get(last)! + '\n' + line);
      else {
        const i = line.indexOf(':');
        last = line.slice(0, i);
        fields.set(last, line.slice(i + 1).trim());
      }
    }
    out.set(`${fields.get('Package')} ${fields.get('Version')} ${fields.get('Architecture')}`, fields);
  }
  return out;
}

function state(base: string, repo: string): string {
  const gen = fs.readFileSync(path.join(base, 'repos', repo, 'meta', 'last-generation'), 'utf8');
  return `${fs.readlinkSync(path.join(base, 'repos', repo, 'current'))} ${gen}`;
}

describe('deb repositories', () => {
  it('a new repository publishes valid, empty indexes', () => {
    const { base, cli } = newBase();
    assert.equal(cli.sync(['create-repo', 'apt', '--format', 'deb', '--dist', 'bookworm', '--components', 'main,contrib', '--architectures', 'amd64,arm64']).code, 0);
    const snap = current(base, 'apt');
    for (const c of ['main', 'contrib']) for (const a of ['amd64', 'arm64']) {
      const d = path.join(snap, 'dists/bookworm', c, `binary-${a}`);
      assert.equal(xzcat(path.join(d, 'Packages.xz')), '');
      assert.equal(spawnSync('gzip', ['-dc', path.join(d, 'Packages.gz')], { encoding: 'utf8' }).stdout, '');
    }
    const rel = fs.readFileSync(path.join(snap, 'dists/bookworm/Release'), 'utf8');
    assert.match(rel, /^Suite: bookworm$/m);
    assert.match(rel, /^Acquire-By-Hash: yes$/m);
    assert.match(rel, / e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 +0 main\/binary-amd64\/Packages$/m);
    assert.equal(cli.sync(['verify', 'apt']).code, 0);
    // create-repo options are deb-only; a deb repository needs a codename.
    assert.equal(cli.sync(['create-repo', 'x', '--format', 'files', '--dist', 'a']).code, 2);
    assert.equal(cli.sync(['create-repo', 'y', '--format', 'deb']).code, 2);
  });

  it('imports packages: all-arch in every index, several versions, stanzas equal to dpkg-scanpackages', (t) => {
    const { base, cli } = newBase();
    assert.equal(cli.sync(['create-repo', 'apt', '--format', 'deb', '--dist', 'bookworm', '--architectures', 'amd64,arm64']).code, 0);
    const debs = generateDebs({ count: 30, seed: 'stanzas', versions: 2, archs: ['amd64', 'arm64'], control: 'mixed' });
    const files = writeDebs(path.join(base, 'in'), debs);
    const r = cli.sync(['import', 'apt', path.join(base, 'in')]);
    assert.equal(r.code, 0, r.stderr);
    const snap = current(base, 'apt');
    const amd = stanzas(xzcat(path.join(snap, 'dists/bookworm/main/binary-amd64/Packages.xz')));
    const arm = stanzas(xzcat(path.join(snap, 'dists/bookworm/main/binary-arm64/Packages.xz')));
    const all = debs.filter((d) => d.architecture === 'all');
    assert.ok(all.length > 0, 'fixture has Architecture: all packages');
    for (const d of all) {
      assert.ok(amd.has(`${d.package} ${d.version} all`), `${d.file} in amd64`);
      assert.ok(arm.has(`${d.package} ${d.version} all`), `${d.file} in arm64`);
    }
    assert.equal(amd.size, debs.filter((d) => d.architecture !== 'arm64').length);
    assert.equal(arm.size, debs.filter((d) => d.architecture !== 'amd64').length);
    for (const [k, f] of amd) {
      const [pkg, , arch] = k.split(' ');
      assert.ok(f.get('Filename')!.startsWith(`pool/main/${pkg!.startsWith('lib') ? pkg!.slice(0, 4) : pkg![0]}`) || f.get('Filename')!.includes('-src/'), f.get('Filename'));
      assert.ok(f.get('Filename')!.endsWith(`_${arch}.deb`));
    }
    assert.equal(files.length, debs.length);
    if (!has('dpkg-scanpackages', ['--version'])) {
      toolMissing(t, 'dpkg-scanpackages not installed: run as root with apt, or .ci/run installs it (package dpkg-dev)');
      return;
    }
    const ref = spawnSync('dpkg-scanpackages', ['-m', 'pool', '/dev/null'], { cwd: snap, encoding: 'utf8' });
    assert.equal(ref.status, 0, ref.stderr);
    const theirs = stanzas(ref.stdout);
    const ours = new Map([...amd, ...arm]);
    assert.equal(ours.size, theirs.size);
    for (const [k, want] of theirs) {
      const got = ours.get(k);
      assert.ok(got, `${k} missing`);
      assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), `${k}: field names`);
      for (const [name, value] of want) assert.equal(got.get(name), value, `${k}: ${name}`);
    }
  });

  it('refuses bad packages with the file and the reason (exit 3) and changes nothing', () => {
    const { base, cli } = newBase();
    assert.equal(cli.sync(['create-repo', 'apt', '--format', 'deb', '--dist', 'bookworm']).code, 0);
    const good = 'Package: okpkg\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: M <m@example.invalid>\nDescription: ok\n';
    const dir = path.join(base, 'bad');
    fs.mkdirSync(dir);
    const cases: [string, Buffer, RegExp][] = [
      ['notar.deb', Buffer.from('just some text, not an archive'), /not an ar archive/],
      ['nocontrol.deb', ar([{ name: 'debian-binary', data: Buffer.from('2.0\n') }, { name: 'data.tar', data: Buffer.alloc(1024) }]), /no control\.tar member/],
      ['noversion.deb', makeDeb(good.replace('Version: 1.0-1\n', '')), /missing Version field/],
      ['malformed.deb', makeDeb(good + 'this line has no colon\n'), /not a 'Field: value' line/],
      ['badversion.deb', makeDeb(good.replace('1.0-1', 'a1.0')), /not Debian version syntax/],
      ['escape.deb', makeDeb(good.replace('okpkg', '../../etc')), /not a valid package name/],
      ['escsrc.deb', makeDeb(good + 'Source: ../up\n'), /Source .* not a valid source package name/],
      ['filename.deb', makeDeb(good + 'Filename: ../../x.deb\n'), /carries Filename/],
      ['bz2.deb', ar([{ name: 'debian-binary', data: Buffer.from('2.0\n') }, { name: 'control.tar.bz2', data: Buffer.from('BZh9') }]), /unsupported control archive compression/],
      ['badarch.deb', makeDeb(good.replace('amd64', 'sparc')), /Architecture sparc is not published/],
    ];
    const before = state(base, 'apt');
    const poolBefore = spawnSync('find', [path.join(base, 'pool')], { encoding: 'utf8' }).stdout;
    for (const [name, bytes, reason] of cases) {
      const f = path.join(dir, name);
      fs.writeFileSync(f, bytes);
      const r = cli.sync(['import', 'apt', f]);
      assert.equal(r.code, 3, `${name}: exit ${r.code}: ${r.stderr}`);
      assert.ok(r.stderr.includes(f), `${name}: message names the file: ${r.stderr}`);
      assert.match(r.stderr, reason, name);
      assert.equal(state(base, 'apt'), before, `${name}: no generation consumed`);
      assert.equal(spawnSync('find', [path.join(base, 'pool')], { encoding: 'utf8' }).stdout, poolBefore, `${name}: pool unchanged`);
    }
    // The good one goes in.
    const ok = path.join(dir, 'ok.deb');
    fs.writeFileSync(ok, makeDeb(good, { compression: 'zst' }));
    assert.equal(cli.sync(['import', 'apt', ok]).code, 0);
    assert.ok(fs.existsSync(path.join(current(base, 'apt'), 'pool/main/o/okpkg/okpkg_1.0-1_amd64.deb')));
    // A control.tar.xz with a SHA-256 check (which the in-process decoder refuses): the system xz reads it.
    const tarOf = (ctl: string) => spawnSync('tar', ['-cf', '-', '--owner=0', '--group=0', '-C', dir, ctl]).stdout;
    fs.writeFileSync(path.join(dir, 'control'), good.replace('okpkg', 'shapkg'));
    const xz = spawnSync('xz', ['-c', '--check=sha256'], { input: tarOf('control') }).stdout;
    const sha = path.join(dir, 'sha.deb');
    fs.writeFileSync(sha, ar([{ name: 'debian-binary', data: Buffer.from('2.0\n') }, { name: 'control.tar.xz', data: xz }, { name: 'data.tar', data: Buffer.alloc(1024) }]));
    const rs = cli.sync(['import', 'apt', sha]);
    assert.equal(rs.code, 0, rs.stderr);
  });

  it('refuses the same package/version/arch with other bytes, showing both hashes, unless --replace', () => {
    const { base, cli } = newBase();
    assert.equal(cli.sync(['create-repo', 'apt', '--format', 'deb', '--dist', 'bookworm']).code, 0);
    const ctl = 'Package: twice\nVersion: 2:1.0-1\nArchitecture: amd64\nDescription: x\n';
    const a = path.join(base, 'a', 'twice.deb');
    const b = path.join(base, 'b', 'twice.deb');
    fs.mkdirSync(path.dirname(a));
    fs.mkdirSync(path.dirname(b));
    fs.writeFileSync(a, makeDeb(ctl, { payload: Buffer.from('one') }));
    fs.writeFileSync(b, makeDeb(ctl, { payload: Buffer.from('two') }));
    assert.equal(cli.sync(['import', 'apt', a]).code, 0);
    const before = state(base, 'apt');
    const r = cli.sync(['import', 'apt', b]);
    assert.equal(r.code, 4, r.stderr);
    assert.ok(r.stderr.includes(sha256(fs.readFileSync(a))) && r.stderr.includes(sha256(fs.readFileSync(b))), r.stderr);
    assert.equal(state(base, 'apt'), before);
    // Same package from another source folder: also refused, with both hashes.
    const c = path.join(base, 'c.deb');
    fs.writeFileSync(c, makeDeb(ctl + 'Source: othersrc\n', { payload: Buffer.from('three') }));
    const r2 = cli.sync(['import', 'apt', c]);
    assert.equal(r2.code, 4, r2.stderr);
    assert.ok(r2.stderr.includes(sha256(fs.readFileSync(c))), r2.stderr);
    assert.equal(state(base, 'apt'), before);
    assert.equal(cli.sync(['import', 'apt', '--replace', b]).code, 0);
    const f = path.join(current(base, 'apt'), 'pool/main/t/twice/twice_1.0-1_amd64.deb');
    assert.equal(sha256(fs.readFileSync(f)), sha256(fs.readFileSync(b)));
    // Re-importing identical bytes is a no-op.
    const again = cli.json<{ published: boolean }>(['import', 'apt', b]);
    assert.equal(again.published, false);
  });

  it('a re-delivered .deb is placed from what its first import cached, without reading its control again', () => {
    const { base, cli } = newBase();
    for (const r of ['one', 'two']) assert.equal(cli.sync(['create-repo', r, '--format', 'deb', '--dist', 'bookworm']).code, 0);
    const deb = path.join(base, 'hello_1.0_amd64.deb');
    fs.writeFileSync(deb, makeDeb('Package: hello\nVersion: 1.0\nArchitecture: amd64\nDescription: x\n'));
    assert.equal(cli.sync(['import', 'one', deb]).code, 0);
    // The pool's cache of these bytes, marked: a second repository importing the same bytes places them
    // by the cache (the marked source folder), which shows the control file was not read again.
    const sha = sha256(fs.readFileSync(deb));
    const cache = path.join(base, 'pool', 'meta', sha.slice(0, 2), `${sha}.deb.json`);
    const meta = JSON.parse(fs.readFileSync(cache, 'utf8')) as { source: string; head: string };
    assert.equal(meta.source, 'hello');
    fs.writeFileSync(cache, JSON.stringify({ ...meta, source: 'cached' }));
    const r = cli.json<{ added: string[] }>(['import', 'two', deb]);
    assert.deepEqual(r.added, ['pool/main/c/cached/hello_1.0_amd64.deb']);
    // A cache of another shape is ignored: the package is read again, and the cache replaced.
    fs.writeFileSync(cache, JSON.stringify({ deb: -1 }));
    assert.equal(cli.sync(['create-repo', 'three', '--format', 'deb', '--dist', 'bookworm']).code, 0);
    assert.deepEqual(cli.json<{ added: string[] }>(['import', 'three', deb]).added, ['pool/main/h/hello/hello_1.0_amd64.deb']);
    assert.equal((JSON.parse(fs.readFileSync(cache, 'utf8')) as { source: string }).source, 'hello');
    // Not even JSON: the same.
    fs.writeFileSync(cache, '{"deb": ');
    assert.equal(cli.sync(['create-repo', 'four', '--format', 'deb', '--dist', 'bookworm']).code, 0);
    assert.deepEqual(cli.json<{ added: string[] }>(['import', 'four', deb]).added, ['pool/main/h/hello/hello_1.0_amd64.deb']);
    assert.equal(cli.sync(['verify', 'four']).code, 0);
  });

  it('incremental indexes equal a from-scratch build over random imports and removals', () => {
    const { base, cli } = newBase();
    const create = (name: string) => assert.equal(cli.sync(['create-repo', name, '--format', 'deb', '--dist', 'sid', '--components', 'main,extra', '--architectures', 'amd64,i386']).code, 0);
    create('inc');
    const debs = generateDebs({ count: 120, seed: 'incremental', versions: 2, archs: ['amd64', 'i386'], control: 'mixed' });
    const dir = path.join(base, 'in');
    const files = writeDebs(dir, debs);
    const r = rng('ops');
    const present = new Map<number, string>(); // deb index -> component
    for (let step = 0; step < 8; step++) {
      const removeSome = step > 1 && r() < 0.5;
      if (removeSome && present.size > 0) {
        const victims = [...present.keys()].filter(() => r() < 0.3).slice(0, 15);
        if (victims.length === 0) continue;
        const paths = victims.map((i) => {
          const d = debs[i]!;
          const comp = present.get(i)!;
          present.delete(i);
          const pre = d.source.startsWith('lib') ? d.source.slice(0, 4) : d.source[0];
          return `pool/${comp}/${pre}/${d.source}/${d.file}`;
        });
        const res = cli.sync(['remove', 'inc', ...paths]);
        assert.equal(res.code, 0, res.stderr);
      } else {
        const comp = r() < 0.7 ? 'main' : 'extra';
        const batch = debs.map((_, i) => i).filter((i) => !present.has(i) && r() < 0.15);
        if (batch.length === 0) continue;
        const res = cli.sync(['import', 'inc', '--component', comp, ...batch.map((i) => files[i]!)]);
        assert.equal(res.code, 0, res.stderr);
        for (const i of batch) present.set(i, comp);
      }
    }
    assert.ok(present.size > 10);
    create('scratch');
    for (const comp of ['main', 'extra']) {
      const mine = [...present].filter(([, c]) => c === comp).map(([i]) => files[i]!);
      if (mine.length) assert.equal(cli.sync(['import', 'scratch', '--component', comp, ...mine]).code, 0);
    }
    const a = current(base, 'inc');
    const b = current(base, 'scratch');
    for (const comp of ['main', 'extra']) for (const arch of ['amd64', 'i386']) for (const f of ['Packages.xz', 'Packages.gz']) {
      const rel = `dists/sid/${comp}/binary-${arch}/${f}`;
      assert.ok(fs.readFileSync(path.join(a, rel)).equals(fs.readFileSync(path.join(b, rel))), `${rel} differs from a from-scratch build`);
    }
    const noDate = (p: string) => fs.readFileSync(p, 'utf8').replace(/^Date: .*$/m, '');
    assert.equal(noDate(path.join(a, 'dists/sid/Release')), noDate(path.join(b, 'dists/sid/Release')));
    assert.equal(cli.sync(['verify', 'inc']).code, 0);
  });

  it('carries by-hash files of recent generations forward; Date never goes back; rollback gets a fresh Date', () => {
    const { base, cli } = newBase();
    assert.equal(cli.sync(['create-repo', 'apt', '--format', 'deb', '--dist', 'bookworm']).code, 0);
    const debs = generateDebs({ count: 6, seed: 'byhash', archs: ['amd64'] });
    const files = writeDebs(path.join(base, 'in'), debs);
    const xzHash = () => sha256(fs.readFileSync(path.join(current(base, 'apt'), 'dists/bookworm/main/binary-amd64/Packages.xz')));
    const byHash = (h: string) => path.join(current(base, 'apt'), 'dists/bookworm/main/binary-amd64/by-hash/SHA256', h);
    const dateOf = () => Date.parse(/^Date: (.*)$/m.exec(fs.readFileSync(path.join(current(base, 'apt'), 'dists/bookworm/Release'), 'utf8'))![1]!);
    assert.equal(cli.sync(['import', 'apt', files[0]!]).code, 0);
    const h1 = xzHash();
    const gen1 = fs.readlinkSync(path.join(base, 'repos/apt/current'));
    const d1 = dateOf();
    assert.equal(cli.sync(['import', 'apt', files[1]!]).code, 0);
    const h2 = xzHash();
    assert.notEqual(h1, h2);
    assert.ok(fs.existsSync(byHash(h1)), 'previous generation by-hash carried forward');
    assert.ok(fs.existsSync(byHash(h2)));
    assert.ok(dateOf() >= d1);
    // Rollback: a new generation with the old content and a Date not older than the current one.
    const before = dateOf();
    const r = cli.sync(['rollback', 'apt', gen1.replace(/^.*\//, '').replace(/^0+/, '')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(xzHash(), h1);
    assert.ok(dateOf() >= before, 'rollback Date moves forward');
    assert.ok(fs.existsSync(byHash(h2)), 'by-hash of the generation rolled back from is still there');
    // With no grace, only the current generation's (and the one just superseded) files remain.
    assert.equal(cli.sync(['config', 'apt', 'graceSeconds', '0']).code, 0);
    assert.equal(cli.sync(['import', 'apt', files[2]!]).code, 0);
    assert.equal(cli.sync(['import', 'apt', files[3]!]).code, 0);
    assert.ok(!fs.existsSync(byHash(h2)), 'by-hash of generations past their grace are not carried');
    // A Release whose Date is ahead of the clock (skew) is never followed by an older one.
    assert.equal(cli.sync(['verify', 'apt']).code, 0);
  });

  it("each generation's Release files are modified a whole second after the previous generation's", () => {
    // apt asks with If-Modified-Since and servers compare whole seconds: a second generation written
    // within the same second as the first must not look "not modified" to a client that has the first.
    const { base, cli } = newBase();
    assert.equal(cli.sync(['create-repo', 'apt', '--format', 'deb', '--dist', 'bookworm']).code, 0);
    const files = writeDebs(path.join(base, 'in'), generateDebs({ count: 4, seed: 'mtime', archs: ['amd64'] }));
    const seconds: number[] = [];
    const releaseSecond = () => Math.floor(fs.statSync(path.join(current(base, 'apt'), 'dists/bookworm/Release')).mtimeMs / 1000);
    seconds.push(releaseSecond());
    for (const f of files) {
      assert.equal(cli.sync(['import', 'apt', f]).code, 0);
      seconds.push(releaseSecond());
    }
    for (let i = 1; i < seconds.length; i++) assert.ok(seconds[i]! > seconds[i - 1]!, `generation ${i + 1}'s Release at second ${seconds[i]}, the previous at ${seconds[i - 1]}`);
    // Back-to-back publishes run ahead of the clock by at most a second each.
    assert.ok(seconds.at(-1)! <= Math.floor(Date.now() / 1000) + files.length);
    assert.equal(cli.sync(['verify', 'apt']).code, 0);
  });

  it('refuses a silent Origin/Label/Codename change; add-dist publishes a new distribution', () => {
    const { base, cli } = newBase();
    assert.equal(cli.sync(['create-repo', 'apt', '--format', 'deb', '--dist', 'bookworm', '--suite', 'stable', '--origin', 'Example', '--label', 'Ex']).code, 0);
    const cfgFile = path.join(base, 'repos/apt/repo.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    cfg.settings.deb.dists[0].origin = 'Other';
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    const debs = generateDebs({ count: 3, seed: 'relinfo', archs: ['amd64'] });
    const files = writeDebs(path.join(base, 'in'), debs);
    const before = state(base, 'apt');
    const r = cli.sync(['import', 'apt', ...files]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /Origin would change from 'Example' to 'Other'/);
    assert.equal(state(base, 'apt'), before);
    // An accepted change goes through (the operator takes responsibility for the clients' prompt).
    cfg.settings.deb.dists[0].acceptedReleaseInfo = { Origin: 'Other' };
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    assert.equal(cli.sync(['import', 'apt', files[0]!]).code, 0);
    assert.match(fs.readFileSync(path.join(current(base, 'apt'), 'dists/bookworm/Release'), 'utf8'), /^Origin: Other$/m);
    cfg.settings.deb.dists[0].origin = 'Example';
    cfg.settings.deb.dists[0].acceptedReleaseInfo = { Origin: 'Example' };
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    assert.equal(cli.sync(['import', 'apt', ...files]).code, 0);
    // The suite is served under its own name too.
    const snap = current(base, 'apt');
    assert.ok(fs.readFileSync(path.join(snap, 'dists/stable/Release')).equals(fs.readFileSync(path.join(snap, 'dists/bookworm/Release'))));
    const add = cli.sync(['add-dist', 'apt', 'trixie', '--suite', 'testing', '--architectures', 'amd64,arm64']);
    assert.equal(add.code, 0, add.stderr);
    const snap2 = current(base, 'apt');
    const rel = fs.readFileSync(path.join(snap2, 'dists/trixie/Release'), 'utf8');
    assert.match(rel, /^Architectures: amd64 arm64$/m);
    assert.equal(stanzas(xzcat(path.join(snap2, 'dists/trixie/main/binary-amd64/Packages.xz'))).size, debs.length);
    assert.equal(cli.sync(['add-dist', 'apt', 'trixie']).code, 6);
    const imp = cli.sync(['import', 'apt', '--dist', 'nosuch', files[0]!]);
    assert.equal(imp.code, 3, imp.stderr);
    assert.equal(cli.sync(['verify', 'apt']).code, 0);
  });

  it('list, diff and history speak Debian: name, version, arch, component, dists', () => {
    const { base, cli } = newBase();
    assert.equal(cli.sync(['create-repo', 'apt', '--format', 'deb', '--dist', 'bookworm', '--components', 'main,contrib', '--architectures', 'amd64']).code, 0);
    const f = path.join(base, 'e.deb');
    fs.writeFileSync(f, makeDeb('Package: epochy\nVersion: 3:1.2~b1-4\nArchitecture: all\nDescription: x\n'));
    assert.equal(cli.sync(['import', 'apt', '--component', 'contrib', f]).code, 0);
    const list = cli.sync(['list', 'apt']).stdout;
    assert.match(list, /^epochy +3:1\.2~b1-4 +all +contrib +bookworm /m);
    const rows = cli.json<{ packages: { name: string; version: string; arch: string; component: string; dists: string[] }[] }>(['list', 'apt']).packages;
    assert.deepEqual(rows.map((r) => [r.name, r.version, r.arch, r.component, r.dists]), [['epochy', '3:1.2~b1-4', 'all', 'contrib', ['bookworm']]]);
    assert.match(cli.sync(['diff', 'apt', '1', '2']).stdout, /^\+ epochy 1\.2~b1-4 all \(contrib\)$/m);
    assert.match(cli.sync(['history', 'apt']).stdout, /gen 2: \+epochy 1\.2~b1-4 all \(contrib\)/);
  });

  it('clone takes the newest versions and the distributions; pull goes by Debian version order', () => {
    const { base, cli } = newBase();
    assert.equal(cli.sync(['create-repo', 'unstable', '--format', 'deb', '--dist', 'sid', '--architectures', 'amd64']).code, 0);
    const dir = path.join(base, 'p');
    fs.mkdirSync(dir);
    const put = (name: string, version: string) => {
      const f = path.join(dir, `${name}_${version.replace(/^[0-9]+:/, '')}.deb`);
      fs.writeFileSync(f, makeDeb(`Package: ${name}\nVersion: ${version}\nArchitecture: amd64\nDescription: x\n`));
      return f;
    };
    assert.equal(cli.sync(['import', 'unstable', put('alpha', '1.0'), put('alpha', '1:0.5'), put('beta', '2.0~rc1')]).code, 0);
    const c = cli.sync(['clone', 'unstable', 'stable']);
    assert.equal(c.code, 0, c.stderr);
    const versions = (repo: string) => cli.json<{ packages: { name: string; version: string }[] }>(['list', repo]).packages.map((p) => `${p.name} ${p.version}`).sort();
    assert.deepEqual(versions('stable'), ['alpha 1:0.5', 'beta 2.0~rc1']);
    assert.ok(fs.existsSync(path.join(current(base, 'stable'), 'dists/sid/Release')));
    assert.equal(cli.sync(['import', 'unstable', put('beta', '2.0')]).code, 0);
    const p = cli.sync(['pull', 'unstable', 'stable']);
    assert.equal(p.code, 0, p.stderr);
    assert.deepEqual(versions('stable'), ['alpha 1:0.5', 'beta 2.0', 'beta 2.0~rc1']);
    assert.equal(cli.json<{ published: boolean }>(['pull', 'unstable', 'stable']).published, false);
  });

  it('flat layout: Packages and Release at the top, Filename relative to the base', () => {
    const { base, cli } = newBase();
    assert.equal(cli.sync(['create-repo', 'flat', '--format', 'deb', '--dist', 'local', '--architectures', 'amd64,arm64', '--flat']).code, 0);
    const debs = generateDebs({ count: 5, seed: 'flat', archs: ['amd64', 'arm64'] });
    const files = writeDebs(path.join(base, 'in'), debs);
    assert.equal(cli.sync(['import', 'flat', ...files]).code, 0);
    const snap = current(base, 'flat');
    const list = stanzas(xzcat(path.join(snap, 'Packages.xz')));
    assert.equal(list.size, debs.length);
    for (const f of list.values()) assert.ok(fs.existsSync(path.join(snap, f.get('Filename')!)));
    const rel = fs.readFileSync(path.join(snap, 'Release'), 'utf8');
    assert.match(rel, / [0-9a-f]{64} +[0-9]+ Packages$/m);
    assert.ok(!fs.existsSync(path.join(snap, 'dists')));
    assert.equal(cli.sync(['verify', 'flat']).code, 0);
  });
});
