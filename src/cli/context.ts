/**
 * What every CLI wiring module shares: global options, output (human or --json), waiting messages.
 * Commands never print; they return data and the wiring prints it here.
 */
import type { LockHolder } from '../engine/lock.js';
import { RcuError } from '../util/errors.js';

export interface GlobalOptions {
  base?: string;
  json?: boolean;
  wait?: number | string;
  'dry-run'?: boolean;
  _?: string[];
  [k: string]: unknown;
}

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export class CliContext {
  constructor(readonly io: Io) {}

  base(opts: GlobalOptions): string {
    const b = opts.base ?? this.io.env.RCUREPO_BASE;
    if (!b) throw new RcuError('USAGE', 'no base directory: pass --base DIR or set RCUREPO_BASE');
    return String(b);
  }

  waitSeconds(opts: GlobalOptions): number {
    if (opts.wait === undefined) return 300;
    const n = Number(opts.wait);
    if (!Number.isFinite(n) || n < 0) throw new RcuError('USAGE', `--wait takes a number of seconds, not '${String(opts.wait)}'`);
    return n;
  }

  /** The lock-wait notice: printed once, on stderr, naming the holder. */
  onWait = (holder: LockHolder | undefined): void => {
    if (holder) this.io.stderr(`waiting for the writer lock held by pid ${holder.pid} (${holder.user}@${holder.host}, ${holder.operation} since ${holder.since})\n`);
    else this.io.stderr('waiting for the writer lock\n');
  };

  /** Print a command's result: JSON with --json, else the human rendering. */
  emit(opts: GlobalOptions, data: unknown, human: () => string): void {
    if (opts.json) this.io.stdout(JSON.stringify(data, null, 2) + '\n');
    else {
      const text = human();
      if (text) this.io.stdout(text.endsWith('\n') ? text : text + '\n');
    }
  }

  /** Positional arguments after the named ones (sade collects extras in `_`). */
  rest(opts: GlobalOptions): string[] {
    return (opts._ ?? []).map(String);
  }
}

export function intArg(value: unknown, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new RcuError('USAGE', `${name} must be a whole number, not '${String(value)}'`);
  return n;
}

export { bytes, table } from '../util/text.js';
