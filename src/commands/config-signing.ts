/**
 * `rcurepo config REPO signKeys|signGnupgHome|signTimeoutSeconds|signSumsAsc ...`: signing settings are
 * checked before they are stored. A change that leaves the repository signing must pass a test signature
 * with the resulting settings; signing stops only through `signKeys --unset --disable-signing`, so an
 * empty value, a typo or a stray --unset can never silently turn it off.
 */
import fsp from 'node:fs/promises';
import type { RepoLayout } from '../engine/layout.js';
import { settingsFrom } from '../readers/settings.js';
import { checkCanSign } from '../signing/sign.js';
import { normaliseSigningValue, signingSettingsOf } from '../signing/settings.js';
import type { SigningKey } from '../signing/settings.js';
import { isRcuError, RcuError } from '../util/errors.js';
import { SIGNING_KEYS } from '../signing/settings.js';
import { updateSettings, withSetting } from './settings-update.js';
import type { LockWait } from './settings-update.js';

/** The signing settings that are set, for display. */
export function signingOf(settings: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(SIGNING_KEYS.filter((k) => settings[k] !== undefined).map((k) => [k, settings[k]]));
}

export interface SigningSettingResult {
  settings: ReturnType<typeof settingsFrom>;
  signing: Record<string, unknown>;
  changed: { key: string; value: unknown };
}

/** The value to set (or --unset) and how to wait for the lock: shared by every `config` change. */
export interface SettingChangeOptions extends LockWait {
  value?: string;
  unset?: boolean;
  /** Confirms `signKeys --unset`: without it signing cannot be turned off. */
  disableSigning?: boolean;
  /** Relative signGnupgHome values resolve against this. */
  cwd?: string;
}

export interface SigningSettingChange extends SettingChangeOptions {
  key: SigningKey;
}

export async function applySigningSetting(repo: RepoLayout, o: SigningSettingChange): Promise<SigningSettingResult> {
  if (o.disableSigning && !(o.key === 'signKeys' && o.unset)) throw new RcuError('USAGE', `--disable-signing goes with 'signKeys --unset' only`);
  if (o.key === 'signKeys' && o.unset && !o.disableSigning) {
    throw new RcuError('USAGE', `unsetting signKeys turns signing off: every later publish is unsigned. Confirm with 'rcurepo config ${repo.name} signKeys --unset --disable-signing'`);
  }
  const value = o.unset ? undefined : normaliseSigningValue(o.key, o.value ?? '', o.cwd);
  if (o.key === 'signGnupgHome' && typeof value === 'string') {
    const st = await fsp.stat(value).catch(() => undefined);
    if (!st?.isDirectory()) throw new RcuError('BAD_INPUT', `signGnupgHome: ${value} is not a directory (create a key there with 'rcurepo keys init-key', or name an existing GnuPG home)`);
  }
  const stored = await updateSettings(repo, 'config', o, async (settings) => {
    const next = withSetting(settings, o.key, value);
    const signing = signingSettingsOf(next);
    if (signing) {
      try {
        await checkCanSign(signing);
      } catch (e) {
        if (!isRcuError(e)) throw e;
        throw new RcuError('BAD_INPUT', `${o.key} not changed: with it the repository could not sign (${e.message})`, { details: e.details });
      }
    }
    return next;
  });
  return { settings: settingsFrom(stored), signing: signingOf(stored), changed: { key: o.key, value: value ?? null } };
}
