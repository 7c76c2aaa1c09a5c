/**
 * How far each mirror of a repository is behind, read from what `mirror push` records per mirror in
 * `meta/mirrors/NAME.state.json` (docs/FORMAT.md). The reading lives here, below both the pushes
 * (distribution/, which write the record and import this) and the pages and metrics of the server
 * (readers/), so `mirror status`, the repository page and /metrics compute the lag one way.
 */
import path from 'node:path';
import type { RepoLayout } from '../engine/layout.js';
import { listHistory, readHistory } from '../engine/generations.js';
import { readJsonIfExists } from '../util/fsx.js';

/** Mirror names: they name files under meta/mirrors/, so nothing that could leave that folder. */
export const MIRROR_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface MirrorState {
  /** Generation the mirror's `current` was last seen serving. */
  served?: number;
  /** End of the last successful push (or check that found the mirror up to date). */
  lastSuccessAt?: string;
  /** The last push that sent a snapshot. */
  lastPush?: { generation: number; at: string; durationMs: number; bytesSent: number; literalBytes: number; fileListBytes: number; totalFileBytes: number; files: number; linkedFrom: string[] };
  lastAttemptAt?: string;
  lastError?: { at: string; generation?: number; message: string; code: string } | null;
  /** Failed attempts since the last success. */
  failures?: number;
}

/** Local files of a mirror: state (last push), the per-mirror push lock, the running upload. */
export function mirrorsMetaDir(repo: RepoLayout): string {
  return path.join(repo.metaDir, 'mirrors');
}
export function mirrorStateFile(repo: RepoLayout, name: string): string {
  return path.join(mirrorsMetaDir(repo), `${name}.state.json`);
}

/** The record of a mirror; {} when it has none yet (never pushed) or a torn one (the next push rewrites it). */
export async function readMirrorState(repo: RepoLayout, name: string): Promise<MirrorState> {
  try {
    return (await readJsonIfExists<MirrorState>(mirrorStateFile(repo, name))) ?? {};
  } catch (e) {
    if (e instanceof SyntaxError) return {};
    throw e;
  }
}

/**
 * How far a mirror serving `served` (undefined: nothing yet, it lacks every generation) is behind
 * `current`: the generations published since (numbers are allocated only by publishes), and when the
 * first of them was published (from its history record), i.e. since when the mirror is out of date.
 */
export async function lagOf(repo: RepoLayout, served: number | undefined, current: number, history?: number[]): Promise<{ generations: number; since?: string }> {
  const from = served ?? 0;
  const generations = Math.max(0, current - from);
  if (generations === 0) return { generations };
  const first = (history ?? (await listHistory(repo))).find((g) => g > from && g <= current);
  const since = first === undefined ? undefined : (await readHistory(repo, first).catch(() => undefined))?.time;
  return { generations, ...(since ? { since } : {}) };
}

/** One mirror as the repository page (and its JSON) and /metrics show it. */
export interface MirrorLag {
  mirror: string;
  /** Generation the mirror serves; null: no push has completed yet. */
  served: number | null;
  /** Generations published that the mirror does not serve yet (0: up to date); null: no current generation. */
  lagGenerations: number | null;
  /** Seconds since the first of those was published (0: up to date); null: unknown (no history record). */
  lagSeconds: number | null;
  /** When the first generation the mirror lacks was published. */
  behindSince: string | null;
  /** The last push that sent a snapshot: its generation, when it completed, how long it took, bytes sent. */
  lastPush: { generation: number; at: string; durationSeconds: number; bytesSent: number } | null;
  /** The last push or check that succeeded. */
  lastSuccessAt: string | null;
  /** The last attempt's error, when it failed (cleared by the next success). */
  lastError: { at: string; generation: number | null; code: string; message: string } | null;
  /** Failed attempts since the last success. */
  failures: number;
}

/** Names of the mirrors configured in settings.mirrors (repo.json), sorted; malformed ones are `mirror list`'s to report. */
export function configuredMirrors(settings: Record<string, unknown>): string[] {
  const v = settings.mirrors;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [];
  return Object.keys(v)
    .filter((n) => MIRROR_NAME.test(n))
    .sort((a, b) => a.localeCompare(b));
}

/** Fields of a record as the types the page and the metrics expect (the file is a cache and could be torn or edited). */
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Every configured mirror of a repository with its lag behind `current` (undefined: nothing published). */
export async function mirrorStatus(repo: RepoLayout, settings: Record<string, unknown>, current: number | undefined, now = Date.now()): Promise<MirrorLag[]> {
  const names = configuredMirrors(settings);
  if (names.length === 0) return [];
  const history = await listHistory(repo);
  return Promise.all(
    names.map(async (mirror): Promise<MirrorLag> => {
      const s = await readMirrorState(repo, mirror).catch((): MirrorState => ({}));
      const served = num(s.served);
      const lag = current === undefined ? undefined : await lagOf(repo, served, current, history);
      const since = lag?.since ? Date.parse(lag.since) : NaN;
      const push = s.lastPush && num(s.lastPush.generation) !== undefined ? s.lastPush : undefined;
      const err = s.lastError && typeof s.lastError === 'object' ? s.lastError : undefined;
      return {
        mirror,
        served: served ?? null,
        lagGenerations: lag ? lag.generations : null,
        lagSeconds: !lag ? null : lag.generations === 0 ? 0 : Number.isNaN(since) ? null : Math.max(0, Math.round((now - since) / 1000)),
        behindSince: str(lag?.since) ?? null,
        lastPush: push ? { generation: push.generation, at: str(push.at) ?? '', durationSeconds: (num(push.durationMs) ?? 0) / 1000, bytesSent: num(push.bytesSent) ?? 0 } : null,
        lastSuccessAt: str(s.lastSuccessAt) ?? null,
        lastError: err ? { at: str(err.at) ?? '', generation: num(err.generation) ?? null, code: str(err.code) ?? '', message: str(err.message) ?? '' } : null,
        failures: num(s.failures) ?? 0,
      };
    }),
  );
}
