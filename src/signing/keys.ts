/**
 * What gpg knows about the configured keys (presence of the secret part, expiry, revocation), the public
 * keyring an operator hands to clients, and a fresh signing key for operators who have none.
 */
import { RcuError } from '../util/errors.js';
import { mkdirp } from '../util/fsx.js';
import { gpgSays, runGpg } from './gpg.js';
import type { SigningSettings } from './settings.js';

export type KeyState = 'usable' | 'missing' | 'no-secret' | 'expired' | 'revoked' | 'disabled' | 'cannot-sign' | 'invalid';

export interface KeyInfo {
  /** The fingerprint as configured. */
  fingerprint: string;
  state: KeyState;
  uid?: string;
  created?: string;
  /** ISO time, absent when the key never expires. */
  expires?: string;
}

interface ColonKey {
  kind: 'pub' | 'sec' | 'sub' | 'ssb';
  validity: string;
  created?: number;
  expires?: number;
  caps: string;
  fpr?: string;
  uid?: string;
  primary?: ColonKey;
}

/** Parse `--with-colons` key listings: primary keys and subkeys with their fingerprint and the primary's first uid. */
export function parseColons(text: string): ColonKey[] {
  const keys: ColonKey[] = [];
  let primary: ColonKey | undefined;
  let last: ColonKey | undefined;
  for (const line of text.split('\n')) {
    const f = line.split(':');
    const rec = f[0];
    if (rec === 'pub' || rec === 'sec' || rec === 'sub' || rec === 'ssb') {
      const k: ColonKey = { kind: rec, validity: f[1] ?? '', created: Number(f[5]) || undefined, expires: Number(f[6]) || undefined, caps: f[11] ?? '' };
      if (rec === 'pub' || rec === 'sec') primary = k;
      else k.primary = primary;
      keys.push(k);
      last = k;
    } else if (rec === 'fpr' && last && !last.fpr) last.fpr = (f[9] ?? '').toUpperCase();
    else if (rec === 'uid' && primary && primary.uid === undefined) primary.uid = unescapeColon(f[9] ?? '');
  }
  return keys;
}

function unescapeColon(s: string): string {
  return s.replace(/\\x([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

function stateOf(k: ColonKey, now: number): KeyState {
  const v = k.primary && k.primary.validity === 'r' ? 'r' : k.validity;
  if (v === 'r') return 'revoked';
  if (v === 'e' || (k.expires !== undefined && k.expires * 1000 <= now)) return 'expired';
  if (k.primary && (k.primary.validity === 'e' || (k.primary.expires !== undefined && k.primary.expires * 1000 <= now))) return 'expired';
  if (v === 'i') return 'invalid';
  if ((k.primary ?? k).caps.includes('D')) return 'disabled';
  // Lower-case letters are this key's own capabilities; a primary also signs through a signing subkey.
  if (!k.caps.includes('s') && !(k.kind === 'sec' && k.caps.includes('S'))) return 'cannot-sign';
  return 'usable';
}

const iso = (t: number | undefined): string | undefined => (t === undefined ? undefined : new Date(t * 1000).toISOString());

/** The state of every configured key, from one listing of secret and one of public keys. */
export async function inspectKeys(s: SigningSettings): Promise<KeyInfo[]> {
  const [sec, pub] = await Promise.all([
    runGpg(['--with-colons', '--fixed-list-mode', '--list-secret-keys'], { home: s.gnupgHome, timeoutMs: s.timeoutMs }),
    runGpg(['--with-colons', '--fixed-list-mode', '--list-keys'], { home: s.gnupgHome, timeoutMs: s.timeoutMs }),
  ]);
  for (const r of [sec, pub]) {
    if (r.timedOut) throw new RcuError('FAILURE', `gpg did not list the keys of ${s.gnupgHome ?? "gpg's default home"} within ${s.timeoutMs / 1000} s`);
  }
  const secret = parseColons(sec.stdout.toString('utf8'));
  const pubs = parseColons(pub.stdout.toString('utf8'));
  const now = Date.now();
  return s.keys.map((fpr): KeyInfo => {
    const p = pubs.find((k) => k.fpr === fpr);
    const sk = secret.find((k) => k.fpr === fpr);
    const primary = (sk ?? p)?.primary ?? sk ?? p;
    const info: KeyInfo = { fingerprint: fpr, state: 'missing', uid: primary?.uid, created: iso((sk ?? p)?.created), expires: iso((sk ?? p)?.expires ?? primary?.expires) };
    if (!p && !sk) return info;
    // Revocation and expiry come from the public key's self-signatures (the secret listing mirrors them).
    const pubState = p ? stateOf(p, now) : undefined;
    if (pubState === 'revoked' || pubState === 'expired') return { ...info, state: pubState };
    if (!sk) return { ...info, state: 'no-secret' };
    return { ...info, state: stateOf(sk, now) };
  });
}

export function describeState(k: KeyInfo): string {
  switch (k.state) {
    case 'usable':
      return 'usable';
    case 'missing':
      return 'not in the keyring';
    case 'no-secret':
      return 'only its public part is in the keyring (no secret key)';
    case 'expired':
      return `expired${k.expires ? ` on ${k.expires}` : ''}`;
    case 'revoked':
      return 'revoked';
    case 'disabled':
      return 'disabled';
    case 'cannot-sign':
      return 'not a signing key';
    case 'invalid':
      return 'invalid (gpg cannot use it)';
  }
}

/** The public keys of the configured fingerprints, binary (`armor` false) or ASCII-armored. */
export async function exportPublicKeys(s: SigningSettings, armor: boolean): Promise<Buffer> {
  const r = await runGpg(['--export-options', 'export-minimal', ...(armor ? ['--armor'] : []), '--export', ...s.keys], { home: s.gnupgHome, timeoutMs: s.timeoutMs });
  if (r.timedOut) throw new RcuError('FAILURE', `gpg did not export the public keys within ${s.timeoutMs / 1000} s`);
  if (r.code !== 0 || r.stdout.length === 0) throw new RcuError('FAILURE', `cannot export the public keys ${s.keys.join(', ')} from ${s.gnupgHome ?? "gpg's default home"}: ${gpgSays(r.stderr)}`);
  // gpg exports silently what it finds: every configured key must be in the result.
  const have = await runGpg(['--with-colons', '--import-options', 'show-only', '--import'], { home: s.gnupgHome, timeoutMs: s.timeoutMs, input: r.stdout });
  const fprs = new Set(parseColons(have.stdout.toString('utf8')).map((k) => k.fpr));
  const absent = s.keys.filter((k) => !fprs.has(k));
  if (absent.length) throw new RcuError('FAILURE', `no public key ${absent.join(', ')} in ${s.gnupgHome ?? "gpg's default home"}`);
  return r.stdout;
}

/**
 * Create an ed25519 signing-only key without a passphrase (a publishing service cannot type one) in
 * `home`, created with mode 0700 when absent. Returns its fingerprint.
 */
export async function generateSigningKey(home: string | undefined, name: string, email: string, expire = '2y'): Promise<string> {
  if (home) await mkdirp(home, 0o700);
  const uid = `${name} <${email}>`;
  const r = await runGpg(['--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', uid, 'ed25519', 'sign', expire], { home, timeoutMs: 60_000 });
  const created = r.status.find((l) => l.startsWith('KEY_CREATED '));
  if (r.code !== 0 || !created) throw new RcuError('FAILURE', `gpg could not create a key for '${uid}' in ${home ?? "gpg's default home"}: ${gpgSays(r.stderr)}`);
  return created.split(' ')[2]!.toUpperCase();
}
