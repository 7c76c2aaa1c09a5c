/**
 * The event log: one JSON line per event from every part of rcurepo (serve, watch, gc, publishes), with
 * one schema (README, "Event log"):
 *
 *   time        ISO 8601 UTC, always
 *   source      'serve' | 'watch' | 'gc' | 'publish', always
 *   event       what happened (per source: start, stop, request-error, accepted, rejected, reaped, ...), always
 *   outcome     'ok' | 'refused' | 'failed' | 'retry' | 'info', always
 *   repo        repository name, when the event concerns one
 *   generation  generation number, when one is concerned
 *   duration    seconds (float), for events that took time
 *   client      client address, serve only
 *   ...         further fields per event; new fields may be added, none of the above is renamed
 *
 * A process writes to one sink: stderr, stdout, a file (`--log FILE`, opened O_APPEND so several
 * processes can share it; the daemons reopen it on SIGHUP for logrotate), or nowhere. It lives in util/ so every
 * layer can emit without importing anything above it. Writes to a file are synchronous: events are rare (not one
 * per served request), and a line written before a crash must not be lost in a buffer.
 */
import fs from 'node:fs';
import { RcuError } from './errors.js';

export type Source = 'serve' | 'watch' | 'gc' | 'publish';
export type Outcome = 'ok' | 'refused' | 'failed' | 'retry' | 'info';

export interface EventFields {
  event: string;
  outcome: Outcome;
  repo?: string;
  generation?: number;
  duration?: number;
  client?: string;
  [k: string]: unknown;
}

/** Standard streams go through process.stdout/stderr (ordered with other output, no EAGAIN on pipes). */
type Sink = { kind: 'stream'; stream: NodeJS.WriteStream } | { kind: 'file'; path: string; fd: number };

let sink: Sink | undefined;

/** Where events go: '-' or 'stderr', 'stdout', 'off', or a file path. The first call wins unless `force`. */
export function configureEventLog(target: string, opts: { force?: boolean } = {}): void {
  if (sink && !opts.force) return;
  closeEventLog();
  if (target === 'off') {
    sink = undefined;
    return;
  }
  if (target === '-' || target === 'stderr') sink = { kind: 'stream', stream: process.stderr };
  else if (target === 'stdout') sink = { kind: 'stream', stream: process.stdout };
  else {
    let fd: number;
    try {
      fd = fs.openSync(target, 'a', 0o640);
    } catch (e) {
      throw new RcuError('USAGE', `--log ${target}: cannot open for appending (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    sink = { kind: 'file', path: target, fd };
  }
}

/** True once a sink is set (a daemon's default applies only when the command line chose none). */
export function eventLogConfigured(): boolean {
  return sink !== undefined;
}

/** Close and open the file again (logrotate moved it away): later lines go to the new file. */
export function reopenEventLog(): void {
  if (sink?.kind !== 'file') return;
  const fd = fs.openSync(sink.path, 'a', 0o640);
  const old = sink.fd;
  sink.fd = fd;
  fs.closeSync(old);
}

export function closeEventLog(): void {
  if (sink?.kind === 'file') fs.closeSync(sink.fd);
  sink = undefined;
}

/** Write one event (no-op without a sink). Never throws: a full disk must not fail what is being logged. */
export function emitEvent(source: Source, fields: EventFields): void {
  if (!sink) return;
  const line = JSON.stringify({ time: new Date().toISOString(), source, ...fields }) + '\n';
  try {
    if (sink.kind === 'stream') sink.stream.write(line);
    else fs.writeSync(sink.fd, line);
  } catch {
    /* the log is best effort; the operation it describes is not */
  }
}

/** Seconds since a performance.now() reading, rounded to the millisecond. */
export function secondsSince(t0: number): number {
  return Math.round(performance.now() - t0) / 1000;
}
