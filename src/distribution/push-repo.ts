/**
 * `mirror push REPO [NAME...]`: push to each selected mirror. This is also exactly what runs in the
 * background after a publish (`--background`): it pushes whatever is `current` when it gets its turn (so a
 * mirror two generations behind receives only the newest), pushes again when `current` moved during the
 * push, and retries a failing mirror with backoff (5 s doubling to 5 min, for up to `retrySeconds`),
 * holding no lock while it sleeps. Mirrors are pushed side by side: one that is down never delays another.
 */
import path from 'node:path';
import type { Layout } from '../engine/layout.js';
import { readCurrent } from '../engine/generations.js';
import { acquireWriterLock } from '../engine/lock.js';
import { claimPending } from '../publish/pending.js';
import { readRepoConfig } from '../engine/repo.js';
import { isRcuError, RcuError } from '../util/errors.js';
import type { MirrorConfig } from './mirror-config.js';
import { findMirror, mirrorsMetaDir, parseMirrors } from './mirror-config.js';
import { pushMirror } from './push.js';
import type { PushOutcome } from './push.js';
import { mkdirp } from '../util/fsx.js';

export interface PushRepoOptions {
  names?: string[];
  gen?: number;
  waitSeconds: number;
  onWait?: (mirror: string, what: string) => void;
  /** Retry failures with backoff for this long, and follow `current` until it stops moving. */
  retrySeconds?: number;
  /** Backoff of the first retry (ms); doubles up to 5 min. */
  firstBackoffMs?: number;
  /** Run as the after-publish reaction: one such run per repository, claiming its pending marker. */
  background?: boolean;
}

/** The after-publish reaction's name (publish/reactions.ts): its pending marker is claimed here. */
export const MIRROR_PUSH_REACTION = 'mirror-push';

export const DEFAULT_BACKGROUND_RETRY_SECONDS = 3600;
const MAX_BACKOFF_MS = 300_000;

/** Failures that no retry can fix (bad target, wrong format, refused argument). */
function permanent(e: unknown): boolean {
  return isRcuError(e) && (e.code === 'LAYOUT' || e.code === 'BAD_INPUT' || e.code === 'USAGE' || e.code === 'NOT_FOUND');
}

function failed(m: MirrorConfig, e: unknown, started: number): PushOutcome {
  const code = isRcuError(e) ? e.code : 'FAILURE';
  return { mirror: m.name, to: m.to, status: 'failed', durationMs: Date.now() - started, error: { code, message: (e as Error)?.message ?? String(e) } };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Settling {
  /** Mirrors whose loop has not ended yet. */
  running: number;
}

async function pushWithRetries(layout: Layout, repoName: string, m: MirrorConfig, o: PushRepoOptions, settling: Settling): Promise<PushOutcome> {
  const deadline = Date.now() + (o.retrySeconds ?? 0) * 1000;
  let backoff = o.firstBackoffMs ?? 5000;
  const follow = !!o.retrySeconds && o.gen === undefined;
  for (;;) {
    const started = Date.now();
    try {
      const r = await pushMirror(layout, repoName, m, { gen: o.gen, waitSeconds: o.waitSeconds, onWait: (w) => o.onWait?.(m.name, w) });
      // Following `current`: a publish during the push is pushed now rather than by a later run; and while
      // another mirror is still being retried (this run keeps the repository's background turn), newer
      // publishes are pushed here too.
      while (follow) {
        if ((await readCurrent(layout.repo(repoName))) !== r.generation) break;
        if (settling.running <= 1) return r;
        await sleep(2000);
      }
      if (!follow) return r;
      continue;
    } catch (e) {
      if (!o.retrySeconds || permanent(e) || Date.now() + backoff > deadline) return failed(m, e, started);
      await sleep(backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }
}

export async function pushRepo(layout: Layout, repoName: string, o: PushRepoOptions): Promise<{ repo: string; outcomes: PushOutcome[] }> {
  const cfg = await readRepoConfig(layout.repo(repoName));
  const all = parseMirrors(cfg.settings);
  const chosen = o.names?.length ? o.names.map((n) => findMirror(all, repoName, n)) : all;
  if (chosen.length === 0) throw new RcuError('NOT_FOUND', `repository '${repoName}' has no mirrors (add one with 'rcurepo mirror add ${repoName} NAME --to ...')`);
  const run = async () => {
    const settling: Settling = { running: chosen.length };
    return Promise.all(
      chosen.map((m) =>
        pushWithRetries(layout, repoName, m, o, settling).finally(() => {
          settling.running--;
        }),
      ),
    );
  };
  if (!o.background) return { repo: repoName, outcomes: await run() };
  // One background run per repository at a time; it claims the pending marker only once it has its turn,
  // so a burst of publishes leaves at most one more child waiting (publish/pending.ts).
  const repo = layout.repo(repoName);
  await mkdirp(mirrorsMetaDir(repo));
  const turn = await acquireWriterLock(path.join(mirrorsMetaDir(repo), 'background'), { operation: 'mirror push --background', waitSeconds: (o.retrySeconds ?? 0) + 600 });
  try {
    await claimPending(repo, MIRROR_PUSH_REACTION);
    return { repo: repoName, outcomes: await run() };
  } finally {
    await turn.release();
  }
}
