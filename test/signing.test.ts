/**
 * Signed publishing with the real gpg: throwaway ed25519 keys in a temporary GNUPGHOME per test (its
 * agent is stopped afterwards), signatures checked the way clients check them (gpgv, and gpg exactly as
 * systemd-sysupdate runs it), failures that must abort with nothing changed, and kill -9 while signing.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cliIn, BIN, ROOT, tempDir } from './helpers/cli.js';

const HAVE_GPG = spawnSync('gpg', ['--version']).status === 0 && spawnSync('gpgv', ['--version']).status === 0;
const SKIP = HAVE_GPG ? false : 'gpg/gpgv not installed: run as root with apt (gnupg, gpgv), or .ci/run installs them';
if (!HAVE_GPG) console.error(`\n*** signing tests SKIPPED: ${SKIP} ***\n`);

const homes: string[] = [];
after(() => {
  for (const h of homes) spawnSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: h } });
});

function newHome(dir: string, name = 'gnupg'): string {
  const h = path.join(dir, name);
  fs.mkdirSync(h, { mode: 0o700 });
  homes.push(h);
  return h;
}

function gpg(home: string, args: string[], input?: string | Buffer): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync('gpg', ['--homedir', home, '--batch', '--no-tty', ...args], { input, timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** A throwaway ed25519 signing key; returns its fingerprint. */
function genKey(home: string, uid: string, opts: { passphrase?: string } = {}): string {
  const r = gpg(home, ['--pinentry-mode', 'loopback', '--passphrase', opts.passphrase ?? '', '--status-fd', '1', '--quick-gen-key', uid, 'ed25519', 'sign', 'never']);
  assert.equal(r.status, 0, r.stderr);
  const line = r.stdout.toString().split('\n').find((l) => l.startsWith('[GNUPG:] KEY_CREATED '))!;
  return line.split(' ')[3]!.trim();
}

function exportKeys(home: string, fprs: string[], file: string): string {
  const r = gpg(home, ['--export', ...fprs]);
  assert.equal(r.status, 0, r.stderr);
  fs.writeFileSync(file, r.stdout);
  return file;
}

/** gpgv's status lines for a detached (data given) or clearsigned signature. */
function gpgvStatus(keyring: string, sig: string, data?: string): { code: number | null; status: string[] } {
  const r = spawnSync('gpgv', ['--status-fd', '1', '--keyring', keyring, sig, ...(data ? [data] : [])], { timeout: 30_000 });
  return { code: r.status, status: r.stdout.toString().split('\n').filter((l) => l.startsWith('[GNUPG:] ')).map((l) => l.slice(9)) };
}

/** Exactly as systemd-sysupdate (systemd's pull-common.c verify_gpg) checks SHA256SUMS: exit status 0 = accepted. */
function sysupdateVerify(keyring: string, sig: string, data: string, dir: string): number | null {
  const home = fs.mkdtempSync(path.join(dir, 'gpghome'));
  try {
    const r = spawnSync(
      'gpg',
      ['--no-options', '--no-default-keyring', '--no-auto-key-locate', '--no-auto-check-trustdb', '--batch', '--trust-model=always', `--homedir=${home}`, `--keyring=${keyring}`, '--verify', sig, '-'],
      { input: fs.readFileSync(data), timeout: 30_000 },
    );
    return r.status;
  } finally {
    spawnSync('gpgconf', ['--kill', 'all'], { env: { ...process.env, GNUPGHOME: home } });
    fs.rmSync(home, { recursive: true, force: true });
  }
}

function setup(format: 'files' | 'eopkg' = 'files') {
  const dir = tempDir('rcurepo-sign-');
  const base = path.join(dir, 'base');
  const cli = cliIn(base);
  assert.equal(cli.sync(['init']).code, 0);
  assert.equal(cli.sync(['create-repo', 'main', '--format', format]).code, 0);
  // No background gc: the "nothing changed" comparisons must see only what the command itself did.
  assert.equal(cli.sync(['config', 'main', 'gcAfterPublish', 'false']).code, 0);
  const home = newHome(dir);
  const input = path.join(dir, 'in');
  fs.mkdirSync(input);
  const repoDir = path.join(base, 'repos', 'main');
  return { dir, base, cli, home, input, repoDir, current: path.join(repoDir, 'current') };
}

function ok(r: { code: number | null; stderr: string; stdout: string }, what: string): void {
  assert.equal(r.code, 0, `${what}: ${r.stderr}${r.stdout}`);
}

function addFile(input: string, name: string, text: string): string {
  const f = path.join(input, name);
  fs.writeFileSync(f, text);
  return f;
}

/** Everything a failed publish must leave alone. */
function stateOf(base: string, repoDir: string) {
  const list = (d: string): string[] => (fs.existsSync(d) ? (fs.readdirSync(d, { recursive: true }) as string[]).sort() : []);
  const tmp = list(base).filter((p) => path.basename(p).startsWith('.rcurepo-tmp-'));
  return {
    current: fs.readlinkSync(path.join(repoDir, 'current')),
    counter: fs.readFileSync(path.join(repoDir, 'meta', 'last-generation'), 'utf8'),
    snapshots: list(path.join(repoDir, 'snapshots')),
    history: list(path.join(repoDir, 'meta', 'history')),
    pool: list(path.join(base, 'pool', 'blobs')),
    poolTmp: list(path.join(base, 'pool', 'tmp')),
    staging: list(path.join(repoDir, 'staging')),
    tmp,
  };
}

test('files: SHA256SUMS.gpg verifies as systemd-sysupdate checks it; .asc on request; tampering fails; rollback re-signs', { skip: SKIP }, () => {
  const { dir, cli, home, input, current, repoDir } = setup();
  const created = cli.json<{ fingerprint: string; signKeys: string[] }>(['keys', 'init-key', 'main', '--name', 'Test Archive', '--email', 'archive@example.invalid', '--gnupg-home', home]);
  assert.match(created.fingerprint, /^[0-9A-F]{40}$/);
  assert.deepEqual(created.signKeys, [created.fingerprint]);
  ok(cli.sync(['config', 'main', 'signSumsAsc', 'true']), 'signSumsAsc');
  ok(cli.sync(['import', 'main', addFile(input, 'a.img', 'image one\n')]), 'import');
  const out = path.join(dir, 'keys');
  const exported = cli.json<{ files: string[] }>(['keys', 'export', 'main', '--out', out]);
  const ring = path.join(out, 'main-keyring.gpg');
  assert.deepEqual(exported.files, [ring, path.join(out, 'main-keyring.asc')]);
  assert.match(fs.readFileSync(path.join(out, 'main-keyring.asc'), 'utf8'), /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);

  const sums = path.join(current, 'SHA256SUMS');
  assert.equal(sysupdateVerify(ring, path.join(current, 'SHA256SUMS.gpg'), sums, dir), 0, 'systemd-style gpg --verify accepts SHA256SUMS.gpg');
  assert.ok(gpgvStatus(ring, path.join(current, 'SHA256SUMS.asc'), sums).status.some((l) => l.startsWith(`VALIDSIG ${created.fingerprint}`)), 'SHA256SUMS.asc verifies');
  assert.equal(fs.readFileSync(path.join(current, 'SHA256SUMS.gpg'))[0]! & 0x80, 0x80, 'SHA256SUMS.gpg is a binary OpenPGP packet');
  assert.match(fs.readFileSync(path.join(current, 'SHA256SUMS.asc'), 'utf8'), /^-----BEGIN PGP SIGNATURE-----/);

  // A tampered index fails the same check.
  const tampered = path.join(dir, 'SHA256SUMS.tampered');
  fs.writeFileSync(tampered, fs.readFileSync(sums, 'utf8').replace(/^./, (c) => (c === '0' ? '1' : '0')));
  assert.notEqual(sysupdateVerify(ring, path.join(current, 'SHA256SUMS.gpg'), tampered, dir), 0, 'a tampered SHA256SUMS must not verify');
  ok(cli.sync(['verify', 'main']), 'verify');

  // Every publish signs anew: after a second import and a rollback the signature is new and matches.
  const gen2 = fs.readlinkSync(current);
  ok(cli.sync(['import', 'main', addFile(input, 'b.img', 'image two\n')]), 'import b');
  ok(cli.sync(['rollback', 'main', gen2.split('/')[1]!]), 'rollback');
  const now = fs.readlinkSync(current);
  assert.notEqual(now, gen2);
  const oldSig = fs.statSync(path.join(repoDir, gen2, 'SHA256SUMS.gpg'));
  const newSig = fs.statSync(path.join(current, 'SHA256SUMS.gpg'));
  assert.notEqual(newSig.ino, oldSig.ino, 'the rollback generation has its own signature file, not the older generation\'s');
  assert.equal(sysupdateVerify(ring, path.join(current, 'SHA256SUMS.gpg'), sums, dir), 0);

  // verify finds a broken signature in a published snapshot.
  const oldGpg = path.join(repoDir, gen2, 'SHA256SUMS.gpg');
  const sigBytes = fs.readFileSync(oldGpg);
  const at = sigBytes.length - 8; // inside the signature value
  sigBytes.writeUInt8(sigBytes.readUInt8(at) ^ 0xff, at);
  fs.writeFileSync(oldGpg, sigBytes);
  const v = cli.sync(['verify', 'main']);
  assert.equal(v.code, 8, v.stdout + v.stderr);
  assert.match(v.stdout, new RegExp(`generation ${gen2.split('/')[1]}: SHA256SUMS\\.gpg: does not verify`));

  // status names the key and its expiry (init-key's default: two years, no warning).
  const st = cli.json<{ repos: Array<{ signing?: { keys: Array<{ fingerprint: string; state: string; expires?: string }>; warnings: string[] } }> }>(['status', 'main']);
  const signing = st.repos[0]!.signing!;
  assert.equal(signing.keys[0]!.fingerprint, created.fingerprint);
  assert.equal(signing.keys[0]!.state, 'usable');
  assert.ok(signing.keys[0]!.expires && Date.parse(signing.keys[0]!.expires) > Date.now() + 300 * 86_400_000);
  assert.deepEqual(signing.warnings, []);
});

test('two keys: every signature carries both, and a client holding either key alone finds its valid signature', { skip: SKIP }, () => {
  const { dir, cli, home, input, current } = setup();
  const a = genKey(home, 'Old Key <old@example.invalid>');
  const b = genKey(home, 'New Key <new@example.invalid>');
  ok(cli.sync(['config', 'main', 'signGnupgHome', home]), 'home');
  ok(cli.sync(['config', 'main', 'signKeys', `${a}, ${b.toLowerCase()}`]), 'two keys');
  ok(cli.sync(['import', 'main', addFile(input, 'a.img', 'one\n')]), 'import');
  const sig = path.join(current, 'SHA256SUMS.gpg');
  const sums = path.join(current, 'SHA256SUMS');
  for (const [fpr, other] of [[a, b], [b, a]] as const) {
    const ring = exportKeys(home, [fpr], path.join(dir, `${fpr}.gpg`));
    const { status } = gpgvStatus(ring, sig, sums);
    assert.ok(status.some((l) => l.startsWith(`VALIDSIG ${fpr}`)), `a valid signature by ${fpr}: ${status.join(' | ')}`);
    assert.ok(!status.some((l) => /^(BADSIG|EXPKEYSIG|REVKEYSIG)/.test(l)), status.join(' | '));
    assert.ok(status.some((l) => l.startsWith('ERRSIG') && l.includes(other.slice(-16))), 'the other key signed too (unknown to this keyring)');
  }
  // The keyring `keys export` writes holds both, so gpg --verify as systemd-sysupdate runs it passes.
  const both = path.join(dir, 'both');
  cli.json(['keys', 'export', 'main', '--out', both]);
  assert.equal(sysupdateVerify(path.join(both, 'main-keyring.gpg'), sig, sums, dir), 0);
  // Rotation done: the old key dropped, the next publish is signed by the new one alone.
  ok(cli.sync(['config', 'main', 'signKeys', b]), 'new key only');
  ok(cli.sync(['resign', 'main']), 'resign');
  const { status } = gpgvStatus(path.join(both, 'main-keyring.gpg'), sig, sums);
  assert.deepEqual(status.filter((l) => l.startsWith('VALIDSIG')).map((l) => l.split(' ')[1]), [b]);
  // The older generation, signed by both, still verifies against the new key alone.
  ok(cli.sync(['verify', 'main']), 'verify after the rotation');
});

test('eopkg: nothing signed unless the repository signs; then eopkg-index.xml.xz.asc verifies and a tampered index does not', { skip: SKIP }, () => {
  const { dir, cli, home, current } = setup('eopkg');
  const pkgs = path.join(ROOT, 'fixtures', 'eopkg');
  const eopkgs = fs.readdirSync(pkgs).filter((f) => f.endsWith('.eopkg') && !f.includes('.delta.'));
  ok(cli.sync(['import', 'main', path.join(pkgs, eopkgs[0]!)]), 'import unsigned');
  assert.ok(!fs.existsSync(path.join(current, 'eopkg-index.xml.xz.asc')), 'no signature by default');
  const fpr = genKey(home, 'Eopkg Test <e@example.invalid>');
  ok(cli.sync(['config', 'main', 'signGnupgHome', home]), 'home');
  ok(cli.sync(['config', 'main', 'signKeys', fpr]), 'keys');
  ok(cli.sync(['import', 'main', path.join(pkgs, eopkgs[1]!)]), 'import signed');
  const ring = exportKeys(home, [fpr], path.join(dir, 'ring.gpg'));
  const xz = path.join(current, 'eopkg-index.xml.xz');
  const asc = path.join(current, 'eopkg-index.xml.xz.asc');
  const good = gpgvStatus(ring, asc, xz);
  assert.equal(good.code, 0, good.status.join(' | '));
  assert.ok(good.status.some((l) => l.startsWith(`VALIDSIG ${fpr}`)));
  const tampered = path.join(dir, 'index.xz');
  const bytes = fs.readFileSync(xz);
  bytes.writeUInt8(bytes.readUInt8(bytes.length >> 1) ^ 0xff, bytes.length >> 1);
  fs.writeFileSync(tampered, bytes);
  const bad = gpgvStatus(ring, asc, tampered);
  assert.notEqual(bad.code, 0);
  assert.ok(bad.status.some((l) => l.startsWith('BADSIG')), bad.status.join(' | '));
  ok(cli.sync(['verify', 'main']), 'verify');
});

test('config: an empty or malformed signKeys is refused; signing stops only with --unset --disable-signing', { skip: SKIP }, () => {
  const { cli, home, input, current } = setup();
  const fpr = genKey(home, 'Cfg <c@example.invalid>');
  ok(cli.sync(['config', 'main', 'signGnupgHome', home]), 'home');
  const unknown = cli.sync(['config', 'main', 'signKeys', '0123456789ABCDEF0123456789ABCDEF01234567']);
  assert.equal(unknown.code, 3, unknown.stderr);
  assert.match(unknown.stderr, /0123456789ABCDEF0123456789ABCDEF01234567 is not in the keyring/);
  ok(cli.sync(['config', 'main', 'signKeys', fpr]), 'keys');
  for (const bad of [[''], [' , '], ['DEADBEEF']]) {
    const r = cli.sync(['config', 'main', 'signKeys', ...bad]);
    assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
  }
  const unset = cli.sync(['config', 'main', 'signKeys', '--unset']);
  assert.equal(unset.code, 2);
  assert.match(unset.stderr, /--disable-signing/);
  assert.equal(cli.json<{ signing: Record<string, unknown> }>(['config', 'main']).signing.signKeys, fpr, 'still signing');
  ok(cli.sync(['import', 'main', addFile(input, 'a', 'a\n')]), 'signed import');
  assert.ok(fs.existsSync(path.join(current, 'SHA256SUMS.gpg')));
  ok(cli.sync(['config', 'main', 'signKeys', '--unset', '--disable-signing']), 'disable');
  ok(cli.sync(['import', 'main', addFile(input, 'b', 'b\n')]), 'unsigned import');
  assert.ok(!fs.existsSync(path.join(current, 'SHA256SUMS.gpg')), 'signing off: no stale signature is carried over');
  const resign = cli.sync(['resign', 'main']);
  assert.equal(resign.code, 2, 'nothing to re-sign in a repository that does not sign');
  assert.match(resign.stderr, /does not sign/);
});

/** Configure a signing key, publish once, then break signing with `breakIt` and check an import aborts with nothing changed. */
function abortCase(breakIt: (ctx: ReturnType<typeof setup> & { fpr: string }) => NodeJS.ProcessEnv | void, reason: RegExp): void {
  const ctx = setup();
  const fpr = genKey(ctx.home, 'Abort <a@example.invalid>');
  ok(ctx.cli.sync(['config', 'main', 'signGnupgHome', ctx.home]), 'home');
  ok(ctx.cli.sync(['config', 'main', 'signKeys', fpr]), 'keys');
  ok(ctx.cli.sync(['import', 'main', addFile(ctx.input, 'a', 'a\n')]), 'first import');
  const env = breakIt({ ...ctx, fpr }) ?? {};
  const before = stateOf(ctx.base, ctx.repoDir);
  for (const args of [['import', 'main', addFile(ctx.input, 'b', 'new content\n')], ['remove', 'main', 'a']]) {
    const r = ctx.cli.sync(args, { env });
    assert.equal(r.code, 1, `${args[0]} must fail: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, reason, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot sign .*with key ${fpr}`));
    assert.deepEqual(stateOf(ctx.base, ctx.repoDir), before, `${args[0]}: nothing changed`);
  }
}

test('an expired key aborts the publish with nothing changed', { skip: SKIP }, () => {
  abortCase(({ home, fpr }) => {
    const created = Number(gpg(home, ['--with-colons', '--list-keys', fpr]).stdout.toString().split('\n').find((l) => l.startsWith('pub:'))!.split(':')[5]);
    // A newer self-signature (faked just after creation) that expires one second later.
    const r = gpg(home, ['--faked-system-time', `${created + 1}!`, '--quick-set-expire', fpr, 'seconds=1']);
    assert.equal(r.status, 0, r.stderr);
    // It expires at created + 2 s: make sure that moment has passed (a fast machine gets here sooner).
    const wait = (created + 3) * 1000 - Date.now();
    if (wait > 0) spawnSync('sleep', [String(wait / 1000)]);
  }, /expired/);
});

test('a missing key aborts the publish with nothing changed', { skip: SKIP }, () => {
  abortCase(({ home, fpr }) => {
    const r = gpg(home, ['--yes', '--delete-secret-and-public-key', fpr]);
    assert.equal(r.status, 0, r.stderr);
  }, /not in the keyring/);
});

test('a passphrase-protected key aborts the publish with nothing changed (gpg never prompts)', { skip: SKIP }, () => {
  abortCase(({ home, fpr }) => {
    const r = gpg(home, ['--pinentry-mode', 'loopback', '--passphrase-fd', '0', '--passwd', fpr], 'a passphrase\n');
    assert.equal(r.status, 0, r.stderr);
    spawnSync('gpgconf', ['--reload', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: home } });
  }, /needs a passphrase/);
});

test('a revoked key aborts the publish with nothing changed', { skip: SKIP }, () => {
  abortCase(({ home, fpr }) => {
    const rev = fs.readFileSync(path.join(home, 'openpgp-revocs.d', `${fpr}.rev`), 'utf8').replace(/^:-----/m, '-----');
    const r = gpg(home, ['--import'], rev);
    assert.equal(r.status, 0, r.stderr);
  }, /revoked/);
});

test('gpg missing, and gpg too slow (killed at signTimeoutSeconds), abort with nothing changed', { skip: SKIP }, () => {
  abortCase(() => ({ RCUREPO_GPG: '/nonexistent/gpg' }), /\/nonexistent\/gpg is not installed/);
  const ctx = setup();
  const fpr = genKey(ctx.home, 'Slow <s@example.invalid>');
  ok(ctx.cli.sync(['config', 'main', 'signGnupgHome', ctx.home]), 'home');
  ok(ctx.cli.sync(['config', 'main', 'signKeys', fpr]), 'keys');
  ok(ctx.cli.sync(['config', 'main', 'signTimeoutSeconds', '1']), 'timeout');
  const slow = path.join(ctx.dir, 'slow-gpg');
  const pidFile = path.join(ctx.dir, 'slow.pid');
  fs.writeFileSync(slow, `#!/bin/sh\necho $$ > '${pidFile}'\nsleep 20\nexec gpg "$@"\n`, { mode: 0o755 });
  const before = stateOf(ctx.base, ctx.repoDir);
  const t0 = Date.now();
  const r = ctx.cli.sync(['import', 'main', addFile(ctx.input, 'x', 'x\n')], { env: { RCUREPO_GPG: slow } });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /did not finish within 1 s and was killed/);
  assert.ok(Date.now() - t0 < 15_000, 'the timeout, not the sleep, ended it');
  assert.deepEqual(stateOf(ctx.base, ctx.repoDir), before);
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  assert.throws(() => process.kill(pid, 0), 'the slow gpg wrapper was killed');
});

test('kill -9 while signing leaves current on a snapshot whose signatures verify; the next publish works', { skip: SKIP, timeout: 60_000 }, async () => {
  const { dir, base, cli, home, input, current } = setup();
  const fpr = genKey(home, 'Kill <k@example.invalid>');
  ok(cli.sync(['config', 'main', 'signGnupgHome', home]), 'home');
  ok(cli.sync(['config', 'main', 'signKeys', fpr]), 'keys');
  ok(cli.sync(['import', 'main', addFile(input, 'a', 'a\n')]), 'first');
  const published = fs.readlinkSync(current);
  // A gpg that stalls only when signing SHA256SUMS in staging (the preflight test signature passes).
  const marker = path.join(dir, 'signing.pid');
  const wrapper = path.join(dir, 'gpg-wrapper');
  fs.writeFileSync(wrapper, `#!/bin/sh\ncase "$*" in *staging*SHA256SUMS*) echo $$ > '${marker}.tmp'; mv '${marker}.tmp' '${marker}'; sleep 30;; esac\nexec gpg "$@"\n`, { mode: 0o755 });
  const child = spawn(process.execPath, [BIN, '--base', base, 'import', 'main', addFile(input, 'b', 'b\n')], { env: { ...process.env, RCUREPO_GPG: wrapper }, stdio: 'ignore' });
  let wrapperPid: number | undefined;
  try {
    const deadline = Date.now() + 30_000;
    while (!fs.existsSync(marker)) {
      assert.ok(Date.now() < deadline, 'signing never started');
      await new Promise((r) => setTimeout(r, 50));
    }
    wrapperPid = Number(fs.readFileSync(marker, 'utf8'));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (wrapperPid) {
      try {
        process.kill(-wrapperPid, 'SIGKILL'); // the wrapper runs in its own process group
      } catch {
        /* already gone */
      }
    }
  }
  assert.equal(fs.readlinkSync(current), published, 'current did not move');
  const ring = exportKeys(home, [fpr], path.join(dir, 'ring.gpg'));
  assert.equal(sysupdateVerify(ring, path.join(current, 'SHA256SUMS.gpg'), path.join(current, 'SHA256SUMS'), dir), 0);
  ok(cli.sync(['import', 'main', path.join(input, 'b')]), 'the next publish cleans up and succeeds');
  assert.equal(sysupdateVerify(ring, path.join(current, 'SHA256SUMS.gpg'), path.join(current, 'SHA256SUMS'), dir), 0);
  ok(cli.sync(['verify', 'main']), 'verify');
});

test('status warns when a signing key expires within 30 days; keys show lists it', { skip: SKIP }, () => {
  const { cli, home } = setup();
  const r = cli.json<{ fingerprint: string }>(['keys', 'init-key', 'main', '--name', 'Short', '--email', 's@example.invalid', '--gnupg-home', home, '--expire', '10d']);
  const shown = cli.json<{ keys: Array<{ fingerprint: string; expires: string }> }>(['keys', 'show', 'main']);
  assert.equal(shown.keys[0]!.fingerprint, r.fingerprint);
  const days = (Date.parse(shown.keys[0]!.expires) - Date.now()) / 86_400_000;
  assert.ok(days > 9 && days <= 10, String(days));
  const text = cli.sync(['status', 'main']);
  ok(text, 'status');
  assert.match(text.stdout, new RegExp(`signing key ${r.fingerprint}: usable, expires`));
  assert.match(text.stdout, /WARNING: signing key [0-9A-F]{40} expires in (9|10) day/);
  const again = cli.sync(['keys', 'init-key', 'main', '--name', 'Again', '--email', 'a@example.invalid']);
  assert.equal(again.code, 2, 'a second init-key without --add is refused');
  assert.match(again.stderr, /--add/);
});

test('signFiles replaces a signature file that is a hard link to the parent snapshot\'s, never writing through it', { skip: SKIP }, async () => {
  const { signFiles, dropSignatures } = await import('../src/signing/index.js');
  const dir = tempDir('rcurepo-sign-link-');
  const home = newHome(dir);
  const fpr = genKey(home, 'Link <l@example.invalid>');
  const parent = path.join(dir, 'parent');
  const staging = path.join(dir, 'staging');
  fs.mkdirSync(parent);
  fs.mkdirSync(staging);
  fs.writeFileSync(path.join(parent, 'Release.gpg'), 'the parent generation\'s signature\n');
  fs.linkSync(path.join(parent, 'Release.gpg'), path.join(staging, 'Release.gpg')); // what a clone leaves
  fs.writeFileSync(path.join(staging, 'Release'), 'Origin: test\nSuite: stable\n');
  const s = { keys: [fpr], gnupgHome: home, timeoutMs: 30_000, sumsAsc: false };
  const jobs = [
    { source: path.join(staging, 'Release'), target: path.join(staging, 'Release.gpg'), kind: 'detached-armored' as const },
    { source: path.join(staging, 'Release'), target: path.join(staging, 'InRelease'), kind: 'clearsigned' as const },
  ];
  await signFiles(s, jobs);
  assert.equal(fs.readFileSync(path.join(parent, 'Release.gpg'), 'utf8'), 'the parent generation\'s signature\n');
  assert.equal(fs.statSync(path.join(parent, 'Release.gpg')).nlink, 1, 'the link in staging was replaced');
  const ring = exportKeys(home, [fpr], path.join(dir, 'ring.gpg'));
  assert.equal(gpgvStatus(ring, path.join(staging, 'Release.gpg'), path.join(staging, 'Release')).code, 0);
  const inrelease = fs.readFileSync(path.join(staging, 'InRelease'), 'utf8');
  assert.match(inrelease, /^-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA\d+\n\nOrigin: test\nSuite: stable\n-----BEGIN PGP SIGNATURE-----/);
  assert.equal(gpgvStatus(ring, path.join(staging, 'InRelease')).code, 0);
  const { verifySignatures } = await import('../src/signing/index.js');
  assert.deepEqual(await verifySignatures(s, jobs), []);
  fs.writeFileSync(path.join(staging, 'Release'), 'Origin: changed\n');
  const faults = await verifySignatures(s, jobs);
  assert.equal(faults.length, 2, faults.join('\n'));
  assert.match(faults.join('\n'), /Release\.gpg: does not verify/);
  assert.match(faults.join('\n'), /InRelease: its signed text differs from Release/);
  await dropSignatures(jobs);
  assert.ok(!fs.existsSync(path.join(staging, 'InRelease')) && fs.existsSync(path.join(parent, 'Release.gpg')));
  assert.deepEqual(fs.readdirSync(staging).filter((f) => f.startsWith('.rcurepo-tmp-')), [], 'no temporary file left');
});
