/**
 * `rcurepo watch [--incoming DIR] [--repo REPO]`: the incoming-directory daemon (src/hooks/watcher.ts).
 * Logs one JSON line per event; returns (and main.ts exits 0) on SIGTERM or SIGINT, after finishing the
 * uploads it is importing.
 */
import path from 'node:path';
import { openBase, readRepoConfig } from '../engine/repo.js';
import { watchIncoming } from '../hooks/watcher.js';
import { RcuError } from '../util/errors.js';
import { configureEventLog, emitEvent, eventLogConfigured, reopenEventLog } from '../util/event-log.js';
import type { Outcome } from '../util/event-log.js';

export interface WatchCommandOptions {
  base: string;
  incoming?: string;
  repo?: string;
  settleSeconds?: number;
  pollSeconds?: number;
  waitSeconds?: number;
  cwd: string;
  /** One look, reporting what would be imported or rejected; nothing is imported or moved. */
  dryRun?: boolean;
}

/** The event log's outcome of each watcher event. */
const OUTCOMES: Record<string, Outcome> = { accepted: 'ok', rejected: 'refused', retry: 'retry', stop: 'ok' };

export const DEFAULT_SETTLE_SECONDS = 5;
export const DEFAULT_POLL_SECONDS = 0.5;

export async function watch(o: WatchCommandOptions): Promise<{ accepted: number; rejected: number }> {
  const layout = await openBase(o.base);
  if (o.repo !== undefined) await readRepoConfig(layout.repo(o.repo)); // NOT_FOUND now, not per upload
  const settle = o.settleSeconds ?? DEFAULT_SETTLE_SECONDS;
  const poll = o.pollSeconds ?? DEFAULT_POLL_SECONDS;
  if (!(settle >= 0) || !(poll > 0)) throw new RcuError('USAGE', '--settle must be >= 0 and --poll > 0 seconds');
  const incoming = path.resolve(o.cwd, o.incoming ?? path.join(layout.base, 'incoming'));
  // The watcher's events (and the publishes it makes) are the event log; stdout unless --log chose.
  if (!eventLogConfigured()) configureEventLog('stdout');
  if (o.dryRun) {
    const { previewIncoming } = await import('./watch-preview.js');
    for (const ev of await previewIncoming({ layout, incoming, repo: o.repo })) emitEvent('watch', { ...ev, outcome: 'info', dryRun: true });
    return { accepted: 0, rejected: 0 };
  }
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', reopenEventLog); // logrotate moved --log FILE away
  try {
    return await watchIncoming({
      layout,
      incoming,
      repo: o.repo,
      settleMs: settle * 1000,
      pollMs: poll * 1000,
      waitSeconds: o.waitSeconds ?? 300,
      log: (ev) => emitEvent('watch', { ...ev, event: String(ev.event), outcome: OUTCOMES[String(ev.event)] ?? 'info' }),
      signal: ac.signal,
    });
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    process.off('SIGHUP', reopenEventLog);
  }
}
