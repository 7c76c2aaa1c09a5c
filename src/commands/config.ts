/** `rcurepo config REPO [KEY [VALUE]]`: show or set the reader settings of a repository. */
import type { LockHolder } from '../engine/lock.js';
import { acquireWriterLock } from '../engine/lock.js';
import { openBase, readRepoConfig, writeRepoConfig } from '../engine/repo.js';
import { DEFAULT_SETTINGS, parseSetting, SETTING_KINDS, settingsFrom } from '../readers/settings.js';
import type { ReaderSettings } from '../readers/settings.js';
import { RcuError } from '../util/errors.js';
import { isSigningKey, SIGNING_KEYS } from '../signing/settings.js';
import { applySigningSetting, signingOf } from './config-signing.js';

export interface ConfigResult {
  repo: string;
  settings: ReaderSettings;
  changed?: { key: string; value: unknown };
  /** The signing settings that are set (signKeys, signGnupgHome, ...); empty when the repository does not sign. */
  signing: Record<string, unknown>;
}

export interface ConfigOptions {
  base: string;
  repo: string;
  key?: string;
  value?: string;
  unset?: boolean;
  /** Confirms `signKeys --unset`: without it signing cannot be turned off. */
  disableSigning?: boolean;
  /** Relative signGnupgHome values resolve against this. */
  cwd?: string;
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
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
  const lock = await acquireWriterLock(repo.lockTarget, { operation: 'config', waitSeconds: o.waitSeconds ?? 300, onWait: o.onWait });
  try {
    const fresh = await readRepoConfig(repo); // re-read under the lock
    if (value === undefined) delete fresh.settings[key];
    else fresh.settings[key] = value;
    await lock.assertHeld();
    await writeRepoConfig(repo, fresh);
    return { ...show(fresh.settings), changed: { key, value: value ?? null } };
  } finally {
    await lock.release();
  }
}
