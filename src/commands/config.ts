/** `rcurepo config REPO [KEY [VALUE]]`: show or set the reader settings of a repository. */
import { openBase, readRepoConfig } from '../engine/repo.js';
import { DEFAULT_SETTINGS, parseSetting, SETTING_KINDS, settingsFrom } from '../readers/settings.js';
import type { ReaderSettings } from '../readers/settings.js';
import { RcuError } from '../util/errors.js';
import { isSigningKey, SIGNING_KEYS } from '../signing/settings.js';
import { applySigningSetting, signingOf } from './config-signing.js';
import type { SettingChangeOptions } from './config-signing.js';
import { updateSettings, withSetting } from './settings-update.js';

export interface ConfigResult {
  repo: string;
  settings: ReaderSettings;
  changed?: { key: string; value: unknown };
  /** The signing settings that are set (signKeys, signGnupgHome, ...); empty when the repository does not sign. */
  signing: Record<string, unknown>;
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
  const show = (settings: Record<string, unknown>): ConfigResult => ({ repo: o.repo, settings: settingsFrom(settings), signing: signingOf(settings) });
  if (o.key === undefined) return show(cfg.settings);
  if (isSigningKey(o.key)) {
    if (o.value === undefined && !o.unset) return show(cfg.settings);
    return { ...(await applySigningSetting(repo, { ...o, key: o.key })), repo: o.repo };
  }
  if (!(o.key in SETTING_KINDS)) throw new RcuError('USAGE', `unknown setting '${o.key}'; known: ${[...Object.keys(SETTING_KINDS), ...SIGNING_KEYS].join(', ')}`);
  const key = o.key as keyof ReaderSettings;
  if (o.value === undefined && !o.unset) return show(cfg.settings);
  let value: number | boolean | undefined;
  if (!o.unset) {
    value = parseSetting(key, o.value);
    if (value === undefined) throw new RcuError('USAGE', `'${o.value}' is not a valid ${SETTING_KINDS[key]} for ${key} (default ${String(DEFAULT_SETTINGS[key])})`);
    if (key === 'keep' && (value as number) < 1) throw new RcuError('USAGE', 'keep must be at least 1');
  }
  if (o.dryRun) return { ...show(withSetting(cfg.settings, key, value)), changed: { key, value: value ?? null }, dryRun: true };
  const stored = await updateSettings(repo, 'config', o, (settings) => withSetting(settings, key, value));
  return { ...show(stored), changed: { key, value: value ?? null } };
}
