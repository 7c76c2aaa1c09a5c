/**
 * Reader-side repository settings (repo.json "settings"); an absent key means the default.
 * Invalid values fall back to the default rather than failing a reaper or a server at 3 a.m.;
 * `rcurepo config` validates what operators set.
 */
import type { RepoLayout } from '../engine/layout.js';
import { readRepoConfig } from '../engine/repo.js';
import { DEFAULT_XZ_PRESET } from '../formats/shared/xz-blocks.js';

export interface ReaderSettings {
  /** Newest generations never reaped (current included). */
  keep: number;
  /** Seconds a superseded generation stays (its grace period). */
  graceSeconds: number;
  /** Upper bound of any lease's TTL, so no lease pins a snapshot forever. */
  leaseMaxTtlSeconds: number;
  /** Start `gc REPO` in the background after each publish. */
  gcAfterPublish: boolean;
  /** HTTP: requests of one client address within this window read one generation. */
  serveWindowSeconds: number;
  /** eopkg: xz level (0-9) of index blocks; read by the format, kept here so `config` can set it. */
  indexXzPreset: number;
  /** Keep a hard-link clone of `current` ready (made in the background) for the next transaction. */
  spareClone: boolean;
  /** Keep a second clone (the twin) that each transaction carries forward as the next spare. */
  spareTwin: boolean;
  /** eopkg: publish the uncompressed eopkg-index.xml and its checksums beside the .xz (clients fetch only the .xz). */
  plainIndex: boolean;
  /** Push to the repository's mirrors in the background after each publish (when it has mirrors). */
  mirrorPushAfterPublish: boolean;
  /** eopkg: after a publish that brought new tips, make the missing delta packages in the background. */
  deltasAfterPublish: boolean;
}

export const DEFAULT_SETTINGS: ReaderSettings = {
  keep: 3,
  graceSeconds: 3600,
  leaseMaxTtlSeconds: 86400,
  gcAfterPublish: true,
  serveWindowSeconds: 30,
  indexXzPreset: DEFAULT_XZ_PRESET, // the format's own default: what is written when nothing is set
  spareClone: true,
  spareTwin: true,
  plainIndex: true,
  mirrorPushAfterPublish: true,
  deltasAfterPublish: false,
};

/** Operator lease TTL when none is given (renewable). */
export const DEFAULT_LEASE_TTL = 3600;

type Kind = 'int' | 'number' | 'bool';
export const SETTING_KINDS: Record<keyof ReaderSettings, Kind> = {
  keep: 'int',
  graceSeconds: 'number',
  leaseMaxTtlSeconds: 'number',
  gcAfterPublish: 'bool',
  serveWindowSeconds: 'number',
  indexXzPreset: 'int',
  spareClone: 'bool',
  spareTwin: 'bool',
  plainIndex: 'bool',
  mirrorPushAfterPublish: 'bool',
  deltasAfterPublish: 'bool',
};

/** Parse an operator-supplied value; undefined when it does not fit the setting. */
export function parseSetting(key: keyof ReaderSettings, raw: unknown): number | boolean | undefined {
  const kind = SETTING_KINDS[key];
  if (kind === 'bool') {
    if (raw === true || raw === 'true' || raw === 'yes' || raw === '1' || raw === 1) return true;
    if (raw === false || raw === 'false' || raw === 'no' || raw === '0' || raw === 0) return false;
    return undefined;
  }
  // Plain decimal only: `0x10` or `1e3` typed by an operator is a mistake, not 16 or 1000.
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(n) || n < 0) return undefined;
  if (kind === 'int' && !Number.isInteger(n)) return undefined;
  if (key === 'indexXzPreset' && n > 9) return undefined;
  return n;
}

export function settingsFrom(raw: Record<string, unknown>): ReaderSettings {
  const out = { ...DEFAULT_SETTINGS } as Record<keyof ReaderSettings, number | boolean>;
  for (const key of Object.keys(SETTING_KINDS) as Array<keyof ReaderSettings>) {
    if (raw[key] === undefined) continue;
    const v = parseSetting(key, raw[key]);
    if (v !== undefined) out[key] = v;
  }
  const s = out as unknown as ReaderSettings;
  if (s.keep < 1) s.keep = 1; // current is always kept anyway; K >= 1 keeps the arithmetic honest
  return s;
}

export async function readReaderSettings(repo: RepoLayout): Promise<ReaderSettings> {
  return settingsFrom((await readRepoConfig(repo)).settings);
}
