/**
 * Real apt against deb repositories, served by `rcurepo serve` and by python's http.server over the
 * `current` symlink: several architectures, `all` packages, several versions, pool/dists and flat
 * layouts, an upgrade after a new publish and a rollback that clients follow.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { makeDeb } from '../fixtures/gen-deb.js';
import { AptClient, hasApt } from './helpers/apt-client.js';
import { throwawayKey } from './helpers/gpg-keys.js';
import { cliIn, tempDir } from './helpers/cli.js';
import { freePort, startServe, type Served } from './helpers/readers-fixture.js';
import { toolMissing } from './helpers/children.js';

const APT_MISSING = 'apt not installed: run as root with apt, or .ci/run installs it (packages apt)';
const PY_MISSING = 'python3 not installed: .ci/run installs it (package python3)';
const sha256 = (f: string): string => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

const hasGpg = (): boolean => spawnSync('gpg', ['--version']).status === 0 && spawnSync('gpgv', ['--version']).status === 0;


/** python3 -m http.server over `dir` on a free loopback port; its request log is kept. */
async function httpServer(dir: string): Promise<{ url: string; log: () => string; stop: () => void }> {
  const port = await freePort();
  const proc = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', dir], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
  children.push(proc);
  let log = '';
  proc.stderr!.on('data', (d) => (log += d));
  proc.stdout!.on('data', (d) => (log += d));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await fetch(`http://127.0.0.1:${port}/`).then(
      (x) => x.status,
      () => 0,
    );
    if (r) break;
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`http.server did not start: ${log}`);
    await sleep(100);
  }
  return { url: `http://127.0.0.1:${port}`, log: () => log, stop: () => proc.kill('SIGTERM') };
}

const control = (pkg: string, version: string, arch: string, extra = '') => `Package: ${pkg}\nVersion: ${version}\nArchitecture: ${arch}\nMaintainer: T <t@example.invalid>\nDescription: ${pkg} for apt tests\n${extra}`;

function setup(flat: boolean) {
  const base = tempDir("rcurepo-debapt-");
  fs.mkdirSync(path.join(base, "other"));
  const cli = cliIn(base);
  const must = (args: string[]) => cli.must(args);
  must(['init']);
  must(['create-repo', 'apt', '--format', 'deb', '--dist', 'bookworm', '--architectures', 'amd64,arm64', '--origin', 'RcuTest', '--label', 'RcuTest', ...(flat ? ['--flat'] : [])]);
  must(['config', 'apt', 'serveWindowSeconds', '1']);
  const src = path.join(base, 'src');
  fs.mkdirSync(src);
  const deb = (name: string, version: string, arch: string, extra = '') => {
    const f = path.join(src, `${name}_${version.replace(/^[0-9]+:/, '')}_${arch}.deb`);
    fs.writeFileSync(f, makeDeb(control(name, version, arch, extra), { payload: Buffer.from(`${name} ${version} ${arch}\n`), compression: arch === 'arm64' ? 'zst' : 'xz' }));
    return f;
  };
  return { base, cli, must, deb, repoDir: path.join(base, 'repos', 'apt') };
}

async function scenario(t: { diagnostic: (s: string) => void }, flat: boolean, via: 'serve' | 'http.server') {
  const { base, must, deb, repoDir } = setup(flat);
  const v1 = [deb('hello', '1.0-1', 'amd64', 'Depends: hello-data\n'), deb('hello', '1.0-1', 'arm64', 'Depends: hello-data\n'), deb('hello-data', '1:0.9~rc1-1', 'all'), deb('other', '2.0', 'amd64')];
  must(['import', 'apt', ...v1]);
  let served: Served | undefined;
  let py: Awaited<ReturnType<typeof httpServer>> | undefined;
  try {
    let url: string;
    if (via === 'serve') {
      // The access log names the generation each of apt's requests was answered from (gen=N): what a
      // failure below needs to be understood.
      served = await startServe(base, ['--access-log', path.join(base, 'access.log')]);
      url = `${served.url}/apt`;
    } else {
      py = await httpServer(path.join(repoDir, 'current'));
      url = py.url;
    }
    const line = flat ? `deb [trusted=yes] ${url}/ ./` : `deb [trusted=yes] ${url}/ bookworm main`;
    const apt = new AptClient(line, ['amd64', 'arm64']);
    apt.update();
    assert.equal(apt.candidate('hello'), '1.0-1');
    assert.equal(apt.candidate('hello:arm64'), '1.0-1');
    assert.equal(apt.candidate('hello-data'), '1:0.9~rc1-1');
    assert.equal(apt.candidate('other:arm64'), '(none)');
    const got = apt.download('hello:arm64');
    assert.equal(sha256(got), sha256(v1[1]!));
    assert.equal(sha256(apt.download('hello-data')), sha256(v1[2]!));
    const genBefore = fs.readlinkSync(path.join(repoDir, 'current')).replace(/^.*\//, '');
    // A new publish: the client upgrades, also when it comes within the same second as the one apt has
    // (servers answer If-Modified-Since by whole seconds: the new Release's mtime is a second later).
    const v2 = deb('hello', '1.1-1', 'amd64', 'Depends: hello-data (>= 1:0.9~)\n');
    must(['import', 'apt', v2]);
    await sleep(1200); // past the server's one-second client window
    apt.update();
    const accessLog = () => (fs.existsSync(path.join(base, 'access.log')) ? fs.readFileSync(path.join(base, 'access.log'), 'utf8').split('\n').slice(-25).join('\n') : '(no access log)');
    assert.equal(apt.candidate('hello'), '1.1-1', `apt still sees the old candidate after a publish; current is ${fs.readlinkSync(path.join(repoDir, 'current'))}; the server's answers:\n${accessLog()}`);
    assert.equal(sha256(apt.download('hello')), sha256(v2));
    // A rollback: a new generation with the old content and a newer Date, which apt follows.
    await sleep(1100); // the Date has one-second resolution; make the rollback's visibly newer
    must(['rollback', 'apt', String(Number(genBefore))]);
    await sleep(1200);
    apt.update();
    assert.equal(apt.candidate('hello'), '1.0-1', 'client follows the rollback');
    assert.equal(sha256(apt.download('hello')), sha256(v1[0]!));
    if (py) {
      assert.match(py.log(), /GET \/(\.\/|dists\/bookworm\/main\/binary-amd64\/)by-hash\/SHA256\/[0-9a-f]{64}/, 'apt fetched indexes by hash');
    }
    t.diagnostic(`apt ${flat ? 'flat' : 'pool/dists'} via ${via}: update, policy, download, upgrade, rollback ok`);
  } finally {
    if (served) await served.stop();
    py?.stop();
  }
}

describe('apt against deb repositories', () => {
  it('pool/dists layout through rcurepo serve', async (t) => {
    if (!hasApt()) return toolMissing(t, APT_MISSING);
    await scenario(t, false, 'serve');
  });
  it('pool/dists layout through python http.server on the current symlink', async (t) => {
    if (!hasApt()) return toolMissing(t, APT_MISSING);
    if (spawnSync('python3', ['--version']).status !== 0) return toolMissing(t, PY_MISSING);
    await scenario(t, false, 'http.server');
  });
  it('signed repository: InRelease and Release.gpg checked by apt through signed-by (no trusted=yes)', async (t) => {
    if (!hasApt()) return toolMissing(t, APT_MISSING);
    if (!hasGpg()) return toolMissing(t, 'gpg/gpgv not installed: run as root with apt (gnupg, gpgv), or .ci/run installs them');
    const { base, must, deb, repoDir } = setup(false);
    const { home, fpr } = throwawayKey(base);
    must(['config', 'apt', 'signGnupgHome', home]);
    must(['config', 'apt', 'signKeys', fpr]);
    const first = deb('signed', '1.0', 'amd64');
    must(['import', 'apt', first]);
    const snap = fs.realpathSync(path.join(repoDir, 'current'));
    const inRelease = fs.readFileSync(path.join(snap, 'dists/bookworm/InRelease'), 'utf8');
    assert.ok(inRelease.startsWith('-----BEGIN PGP SIGNED MESSAGE-----'));
    assert.ok(inRelease.includes(fs.readFileSync(path.join(snap, 'dists/bookworm/Release'), 'utf8').split('\n')[0]!));
    assert.match(fs.readFileSync(path.join(snap, 'dists/bookworm/Release.gpg'), 'utf8'), /^-----BEGIN PGP SIGNATURE-----/);
    const key = path.join(base, 'key.gpg');
    const ex = spawnSync('gpg', ['--homedir', home, '--batch', '--export', fpr]);
    assert.equal(ex.status, 0);
    fs.writeFileSync(key, ex.stdout);
    const py = await httpServer(path.join(repoDir, 'current'));
    try {
      const apt = new AptClient(`deb [signed-by=${key}] ${py.url}/ bookworm main`);
      apt.update();
      assert.equal(apt.candidate('signed'), '1.0');
      await sleep(300); // apt ran synchronously: let the server's log reach this process
      assert.match(py.log(), /GET \/dists\/bookworm\/InRelease HTTP\/1\.[01]" 200/);
      const second = deb('signed', '1.1', 'amd64');
      must(['import', 'apt', second]);
      apt.update();
      assert.equal(apt.candidate('signed'), '1.1');
      assert.equal(sha256(apt.download('signed')), sha256(second));
      // Another key in signed-by: apt refuses the repository.
      const other = throwawayKey(path.join(base, 'other'));
      const otherKey = path.join(base, 'other.gpg');
      fs.writeFileSync(otherKey, spawnSync('gpg', ['--homedir', other.home, '--batch', '--export', other.fpr]).stdout);
      const stranger = new AptClient(`deb [signed-by=${otherKey}] ${py.url}/ bookworm main`);
      assert.throws(() => stranger.update(), /NO_PUBKEY|not signed|signatures couldn't be verified/);
    } finally {
      py.stop();
    }
    const v = cliIn(base).sync(["verify", "apt"]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /0 fault/);
  });

  it('flat layout through python http.server and rcurepo serve', async (t) => {
    if (!hasApt()) return toolMissing(t, APT_MISSING);
    if (spawnSync('python3', ['--version']).status !== 0) return toolMissing(t, PY_MISSING);
    await scenario(t, true, 'http.server');
    await scenario(t, true, 'serve');
  });
});
