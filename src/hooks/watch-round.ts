/**
 * The watcher's rounds: one round takes every settled upload, up to a bound, and imports them all at
 * once, held at the gates of group-commit.ts until every one is queued, so the round costs ONE publish
 * (a burst of 50 build-bot uploads is one or two publishes, not one per handful). The bounds keep what
 * one round stages and what its leader reads reasonable; what is left over goes into the next round.
 */
import { commitGates } from './group-commit.js';
import type { CommitGate } from './group-commit.js';

export const ROUND_MAX_UPLOADS = 256;
export const ROUND_MAX_BYTES = 1 << 30;
/**
 * Rounds running at once. With 2, the next round prepares and queues while the one before it publishes
 * (its publish follows at once, by group commit); measured under load, that split a burst of 50 uploads
 * into 3 publishes where one round at a time made 2 (bench/publish-latency.ts, 2,000 packages: 4.13x
 * against 3.21x, on a busier moment of the machine): uploads arriving during a publish wait and share
 * the next one whole.
 */
export const ROUNDS_IN_FLIGHT = 1;

/**
 * How long a round whose first upload is ready waits for uploads still settling: a burst of build bots
 * arrives over a second or so, and one publish less is worth more than that. Never longer than 2 s.
 */
export function gatherMs(settleMs: number): number {
  return Math.min(Math.max(settleMs, 1000), 2000);
}

/** A burst still arriving: the next round waits until no new upload has appeared for this long. */
export const QUIET_MS = 150;
/** The same for the first round of an idle watcher: what a lone upload waits for company. */
export const FIRST_QUIET_MS = 60;

/**
 * Whether uploads are still arriving. Uploads marked ready are not waited for by the settle rule, so
 * without this a burst would be cut into a round per scan. A round is taken once the scans have seen no
 * new upload for FIRST_QUIET_MS (a lone upload pays that once), or, when uploads were already waiting as
 * the previous round ended (build bots uploading while it published), for QUIET_MS: an uploader that
 * waits for its verdict has nothing there, bots uploading at once do. Both within gatherMs.
 */
export class BurstWatch {
  private known = new Set<string>();
  private lastNew = 0;
  private burst = false;
  private roundJustEnded = false;

  roundEnded(): void {
    this.roundJustEnded = true;
  }

  /** Each scan's waiting uploads (by name). */
  scanned(names: readonly string[], now = Date.now()): void {
    const next = new Set(names);
    for (const n of next) if (!this.known.has(n)) this.lastNew = now;
    this.known = next;
    if (this.roundJustEnded) this.burst = names.length > 0;
    this.roundJustEnded = false;
    if (names.length === 0) this.burst = false;
  }

  /** How much longer to wait for more uploads before taking a round (0: take it now). */
  waitMs(now = Date.now()): number {
    return Math.max(0, this.lastNew + (this.burst ? QUIET_MS : FIRST_QUIET_MS) - now);
  }

  roundStarted(): void {
    this.burst = false;
  }
}

/** An upload ready to be taken: its size (for the round's bound) and how to import it. */
export interface Job {
  /** The upload's name in incoming (a manifest or a bare file): never in two rounds at once. */
  name: string;
  bytes: number;
  run: (gate: CommitGate) => Promise<void>;
}

/** A job that imports nothing (a refusal decided while scanning): it weighs nothing in a round. */
export function refusalJob(name: string, run: () => Promise<void>): Job {
  return { name, bytes: 0, run: () => run() };
}

/** As many jobs as one round takes, in scan order (manifests first, by name); always at least one. */
export function takeRound(jobs: readonly Job[]): Job[] {
  let bytes = 0;
  let n = 0;
  while (n < jobs.length && n < ROUND_MAX_UPLOADS && (n === 0 || bytes + jobs[n]!.bytes <= ROUND_MAX_BYTES)) bytes += jobs[n++]!.bytes;
  return jobs.slice(0, n);
}

/** Whether waiting for more uploads could not make the next round any bigger. */
export function roundIsFull(jobs: readonly Job[]): boolean {
  return takeRound(jobs).length < jobs.length || jobs.length >= ROUND_MAX_UPLOADS;
}

/**
 * Run every job of a round at once; each is held at its gate once queued until all are. A job fails only
 * when its own verdict could not be recorded: that is reported, the upload stays in incoming and is
 * looked at again, and the other jobs of the round are not affected.
 */
export async function runRound(round: readonly Job[], onError: (name: string, reason: string) => void): Promise<void> {
  const gates = commitGates(round.length);
  const results = await Promise.allSettled(round.map((job, i) => job.run(gates[i]!).finally(() => void gates[i]!.arrive())));
  results.forEach((r, i) => {
    if (r.status === 'rejected') onError(round[i]!.name, (r.reason as Error)?.message ?? String(r.reason));
  });
}
