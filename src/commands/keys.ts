/**
 * `rcurepo keys show|export|init-key REPO`: the configured signing keys with their expiry, the public
 * keyring clients need (binary .gpg for apt's signed-by= and systemd-sysupdate, armored .asc), and a
 * dedicated passphrase-less ed25519 key for operators who have none.
 */
import path from 'node:path';
import { openBase, readRepoConfig } from '../engine/repo.js';
import { exportPublicKeys, generateSigningKey, inspectKeys } from '../signing/keys.js';
import type { KeyInfo } from '../signing/keys.js';
import { checkCanSign } from '../signing/sign.js';
import { MAX_SIGN_KEYS, parseGnupgHome, signingSettingsOf } from '../signing/settings.js';
import { RcuError } from '../util/errors.js';
import { writeFileAtomic, mkdirp } from '../util/fsx.js';
import { updateSettings } from './settings-update.js';
import type { LockWait } from './settings-update.js';

export interface KeysShowResult {
  repo: string;
  signing: boolean;
  gnupgHome?: string;
  keys: KeyInfo[];
}

export async function keysShow(o: { base: string; repo: string }): Promise<KeysShowResult> {
  const layout = await openBase(o.base);
  const cfg = await readRepoConfig(layout.repo(o.repo));
  const s = signingSettingsOf(cfg.settings);
  if (!s) return { repo: o.repo, signing: false, keys: [] };
  return { repo: o.repo, signing: true, gnupgHome: s.gnupgHome, keys: await inspectKeys(s) };
}

export interface KeysExportResult {
  repo: string;
  keys: string[];
  files: string[];
}

export async function keysExport(o: { base: string; repo: string; out?: string; cwd: string }): Promise<KeysExportResult> {
  const layout = await openBase(o.base);
  const cfg = await readRepoConfig(layout.repo(o.repo));
  const s = signingSettingsOf(cfg.settings);
  if (!s) throw new RcuError('USAGE', `repository '${o.repo}' does not sign (no signKeys); see 'rcurepo keys init-key ${o.repo}'`);
  const dir = path.resolve(o.cwd, o.out ?? '.');
  await mkdirp(dir);
  const [bin, asc] = await Promise.all([exportPublicKeys(s, false), exportPublicKeys(s, true)]);
  const files = [path.join(dir, `${o.repo}-keyring.gpg`), path.join(dir, `${o.repo}-keyring.asc`)];
  await writeFileAtomic(files[0]!, bin);
  await writeFileAtomic(files[1]!, asc);
  return { repo: o.repo, keys: s.keys, files };
}

export interface KeysInitOptions extends LockWait {
  base: string;
  repo: string;
  name: string;
  email: string;
  /** GnuPG home to create the key in (and to configure); default the configured signGnupgHome. */
  gnupgHome?: string;
  /** Add the new key beside the configured ones (a rotation) instead of refusing. */
  add?: boolean;
  /** gpg expiry: '2y' (default), '1y', 'never', an ISO date. */
  expire?: string;
  cwd: string;
}

export interface KeysInitResult {
  repo: string;
  fingerprint: string;
  gnupgHome: string;
  signKeys: string[];
}

export async function keysInit(o: KeysInitOptions): Promise<KeysInitResult> {
  if (!o.name.trim() || !o.email.trim()) throw new RcuError('USAGE', 'keys init-key needs --name and --email (the key\'s user id)');
  if (!/^[^\s<>@]+@[^\s<>@]+$/.test(o.email)) throw new RcuError('USAGE', `--email '${o.email}' is not an e-mail address`);
  if (/[<>]/.test(o.name)) throw new RcuError('USAGE', `--name must not contain < or >`);
  const layout = await openBase(o.base);
  const repo = layout.repo(o.repo);
  const cfg = await readRepoConfig(repo);
  const configured = signingSettingsOf(cfg.settings);
  const home = o.gnupgHome !== undefined ? parseGnupgHome(o.gnupgHome, o.cwd) : configured?.gnupgHome ?? (typeof cfg.settings.signGnupgHome === 'string' ? cfg.settings.signGnupgHome : undefined);
  if (!home) throw new RcuError('USAGE', `no GnuPG home for '${o.repo}': pass --gnupg-home DIR (a directory only the publishing user can read) or set signGnupgHome first`);
  if (configured && !o.add) throw new RcuError('USAGE', `repository '${o.repo}' already signs with ${configured.keys.join(', ')}; pass --add to sign with a new key beside it (a rotation)`);
  if (configured && configured.keys.length >= MAX_SIGN_KEYS) throw new RcuError('USAGE', `repository '${o.repo}' already signs with ${MAX_SIGN_KEYS} keys`);
  if (configured && o.add && configured.gnupgHome !== home) throw new RcuError('USAGE', `--add creates the key in the configured home ${configured.gnupgHome ?? "(gpg's default)"}; drop --gnupg-home`);
  const fingerprint = await generateSigningKey(home, o.name.trim(), o.email.trim(), o.expire ?? '2y');
  let keys: string[] = [];
  await updateSettings(repo, 'keys init-key', o, async (settings) => {
    const before = signingSettingsOf(settings);
    keys = [...(before?.keys ?? []), fingerprint];
    const next = { ...settings, signGnupgHome: home, signKeys: keys.join(',') };
    await checkCanSign(signingSettingsOf(next)!);
    return next;
  });
  return { repo: o.repo, fingerprint, gnupgHome: home, signKeys: keys };
}
