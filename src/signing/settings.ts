/**
 * Signing settings of a repository (repo.json "settings"):
 *   signKeys           comma-separated fingerprints (40 or 64 hex digits); present = the repository signs
 *   signGnupgHome      the GnuPG home holding the secret keys (absolute; default gpg's own)
 *   signTimeoutSeconds a gpg call taking longer is killed and the publish aborts (default 30)
 *   signSumsAsc        files format: also write SHA256SUMS.asc (armored) beside SHA256SUMS.gpg
 *
 * Unlike the reader settings (which fall back to defaults), a malformed signing setting is an error:
 * a repository configured to sign must never publish unsigned because its configuration went bad.
 */
import path from 'node:path';
import { RcuError } from '../util/errors.js';

export interface SigningSettings {
  /** Upper-case fingerprints; every signature is made by all of them (key rotation). */
  keys: string[];
  /** Absolute GnuPG home, or undefined for gpg's default. */
  gnupgHome?: string;
  timeoutMs: number;
  /** files format: write SHA256SUMS.asc too. */
  sumsAsc: boolean;
}

export const SIGNING_KEYS = ['signKeys', 'signGnupgHome', 'signTimeoutSeconds', 'signSumsAsc'] as const;
export type SigningKey = (typeof SIGNING_KEYS)[number];
export const DEFAULT_SIGN_TIMEOUT_SECONDS = 30;
export const MAX_SIGN_KEYS = 4;

export function isSigningKey(key: string): key is SigningKey {
  return (SIGNING_KEYS as readonly string[]).includes(key);
}

/** Parse `FPR[,FPR2]`; throws USAGE naming the bad part. Spaces inside a fingerprint are allowed (gpg prints them). */
export function parseSignKeys(raw: unknown): string[] {
  const text = Array.isArray(raw) ? raw.join(',') : typeof raw === 'string' ? raw : '';
  const keys = text
    .split(',')
    .map((k) => k.replace(/\s+/g, '').toUpperCase())
    .filter((k) => k !== '');
  if (keys.length === 0) throw new RcuError('USAGE', `signKeys names no key ('${String(raw)}'); to stop signing use 'config REPO signKeys --unset --disable-signing'`);
  for (const k of keys) {
    if (!/^([0-9A-F]{40}|[0-9A-F]{64})$/.test(k)) throw new RcuError('USAGE', `signKeys: '${k}' is not a full key fingerprint (40 or 64 hex digits; see 'gpg --list-secret-keys --with-colons', lines 'fpr')`);
  }
  if (new Set(keys).size !== keys.length) throw new RcuError('USAGE', `signKeys names a key twice: ${keys.join(',')}`);
  if (keys.length > MAX_SIGN_KEYS) throw new RcuError('USAGE', `signKeys names ${keys.length} keys; at most ${MAX_SIGN_KEYS} (two suffice for a rotation)`);
  return keys;
}

export function parseGnupgHome(raw: unknown, cwd = process.cwd()): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw new RcuError('USAGE', `signGnupgHome must name a directory`);
  return path.resolve(cwd, raw);
}

export function parseTimeoutSeconds(raw: unknown): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!Number.isFinite(n) || n <= 0 || n > 3600) throw new RcuError('USAGE', `signTimeoutSeconds must be a number of seconds between 0 and 3600, not '${String(raw)}'`);
  return n;
}

export function parseBool(key: string, raw: unknown): boolean {
  if (raw === true || raw === 'true' || raw === 'yes' || raw === '1' || raw === 1) return true;
  if (raw === false || raw === 'false' || raw === 'no' || raw === '0' || raw === 0) return false;
  throw new RcuError('USAGE', `${key} must be true or false, not '${String(raw)}'`);
}

/**
 * The signing settings of a repository, or undefined when it does not sign (no `signKeys`).
 * Throws RcuError('FAILURE') when signing is configured but a setting is unusable.
 */
export function signingSettingsOf(settings: Record<string, unknown>): SigningSettings | undefined {
  if (settings.signKeys === undefined) return undefined;
  try {
    return {
      keys: parseSignKeys(settings.signKeys),
      gnupgHome: settings.signGnupgHome === undefined ? undefined : parseGnupgHome(settings.signGnupgHome, '/'),
      timeoutMs: 1000 * (settings.signTimeoutSeconds === undefined ? DEFAULT_SIGN_TIMEOUT_SECONDS : parseTimeoutSeconds(settings.signTimeoutSeconds)),
      sumsAsc: settings.signSumsAsc === undefined ? false : parseBool('signSumsAsc', settings.signSumsAsc),
    };
  } catch (e) {
    throw new RcuError('FAILURE', `signing is configured but its settings are unusable (${(e as Error).message}); nothing is published unsigned: fix it with 'rcurepo config'`, { cause: e });
  }
}

/** Normalise one operator-supplied signing setting for storage (throws USAGE when invalid). */
export function normaliseSigningValue(key: SigningKey, raw: string, cwd?: string): string | number | boolean {
  switch (key) {
    case 'signKeys':
      return parseSignKeys(raw).join(',');
    case 'signGnupgHome':
      return parseGnupgHome(raw, cwd);
    case 'signTimeoutSeconds':
      return parseTimeoutSeconds(raw);
    case 'signSumsAsc':
      return parseBool(key, raw);
  }
}

/** Short form of a fingerprint for messages: the last 16 digits (the long key id). */
export function shortFpr(fpr: string): string {
  return fpr.slice(-16);
}

/** "key A1B2... (and C3D4...)" for messages, plus the home in use. */
export function describeKeys(s: SigningSettings): string {
  return `key${s.keys.length > 1 ? 's' : ''} ${s.keys.join(', ')} in ${s.gnupgHome ?? "gpg's default home"}`;
}
