/** `rcurepo config REPO [KEY [VALUE]]`: show or set the reader settings (and uploadKeyring) of a repository. */
import path from 'node:path';
import { openBase, readRepoConfig } from '../engine/repo.js';
import { DEFAULT_SETTINGS, parseSetting, SETTING_KINDS, settingsFrom } from '../readers/settings.js';
import type { ReaderSettings } from '../readers/settings.js';
import { RcuError } from '../util/errors.js';
import { isSigningKey, SIGNING_KEYS } from '../signing/settings.js';
import { applySigningSetting, signingOf } from './config-signing.js';
import type { SettingChangeOptions } from './config-signing.js';
import { updateSettings, withSetting } from './settings-update.js';
import { checkKeyringFile } from '../signing/uploader.js';

/** The setting naming the keyring of allowed uploaders (signing/uploader.ts). */
export const UPLOAD_KEYRING = 'uploadKeyring';

export interface ConfigResult {
  repo: string;
  settings: ReaderSettings;
  changed?: { key: string; value: unknown };
  /** The signing settings that are set (signKeys, signGnupgHome, ...); empty when the repository does not sign. */
  signing: Record<string, unknown>;
  /** Keyring of the keys whose signed upload manifests (.changes) are accepted; unset: any upload. */
  uploadKeyring?: string;
  dryRun?: boolean;
}

export interface ConfigOptions extends SettingChangeOptions {
  base: string;
  repo: string;
  key?: string;
  dryRun?: boolean;
}

export async function config(o: ConfigOptions): Promise<ConfigResult> {
  const layout = await openBase(o.base);
  const repo = layout.repo(o.repo);
  const cfg = await readRepoConfig(repo);
  const show = (settings: Record<string, unknown>): ConfigResult => ({
    repo: o.repo,
    settings: settingsFrom(settings),
    signing: signingOf(settings),
    ...(typeof settings[UPLOAD_KEYRING] === 'string' ? { uploadKeyring: settings[UPLOAD_KEYRING] } : {}),
  });
  if (o.key === undefined) return show(cfg.settings);
  if (isSigningKey(o.key)) {
    if (o.value === undefined && !o.unset) return show(cfg.settings);
    return { ...(await applySigningSetting(repo, { ...o, key: o.key })), repo: o.repo };
  }
  if (!(o.key in SETTING_KINDS) && o.key !== UPLOAD_KEYRING) throw new RcuError('USAGE', `unknown setting '${o.key}'; known: ${[...Object.keys(SETTING_KINDS), ...SIGNING_KEYS, UPLOAD_KEYRING].join(', ')}`);
  const key = o.key as keyof ReaderSettings;
  if (o.value === undefined && !o.unset) return show(cfg.settings);
  let value: number | boolean | string | undefined;
  if (o.key === UPLOAD_KEYRING) {
    // Stored absolute: the watcher and imports run from other folders.
    if (!o.unset) {
      value = path.resolve(o.cwd ?? process.cwd(), o.value ?? '');
      checkKeyringFile(value);
    }
  } else if (!o.unset) {
    value = parseSetting(key, o.value);
    if (value === undefined) throw new RcuError('USAGE', `'${o.value}' is not a valid ${SETTING_KINDS[key]} for ${key} (default ${String(DEFAULT_SETTINGS[key])})`);
    if (key === 'keep' && (value as number) < 1) throw new RcuError('USAGE', 'keep must be at least 1');
  }
  if (o.dryRun) return { ...show(withSetting(cfg.settings, key, value)), changed: { key, value: value ?? null }, dryRun: true };
  const stored = await updateSettings(repo, 'config', o, (settings) => withSetting(settings, key, value));
  return { ...show(stored), changed: { key, value: value ?? null } };
}
