/**
 * One `xz` started ahead of need. A one-package publish compresses exactly one group of its index, and
 * the compressor's own start (exec, liblzma setting up its match finder) would otherwise begin only once
 * the index is planned, with the stream already waiting for that group. warmXz(args) starts the process
 * with pipes while the caller plans; the first single-block compression with the same command line takes
 * it (takeWarmXz); coolXz() ends one nobody took (its stdin closed, it compresses nothing and exits).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { exited, xzEnv } from './xz-blocks.js';

export interface WarmXz {
  /** Feed the whole input and get xz's whole output. */
  run(input: Uint8Array): Promise<Buffer>;
}

let warm: { key: string; p: ChildProcess; out: Buffer[]; done: Promise<void> } | undefined;

export function warmXz(args: readonly string[]): void {
  if (warm) return;
  const p = spawn('xz', args as string[], { stdio: ['pipe', 'pipe', 'pipe'], env: xzEnv() });
  const out: Buffer[] = [];
  p.stdout!.on('data', (b: Buffer) => out.push(b));
  p.stdin!.on('error', () => undefined); // EPIPE when xz failed to start; reported by its exit
  const done = exited(p, args);
  done.catch(() => undefined); // awaited by whoever takes it; an untaken one's outcome does not matter
  warm = { key: args.join('\0'), p, out, done };
}

/** The warm process when it was started with exactly `args` (it is then no longer warm for anyone else). */
export function takeWarmXz(args: readonly string[]): WarmXz | undefined {
  if (!warm || warm.key !== args.join('\0')) return undefined;
  const w = warm;
  warm = undefined;
  return {
    async run(input) {
      w.p.stdin!.end(input);
      await w.done;
      return Buffer.concat(w.out);
    },
  };
}

export function coolXz(): void {
  warm?.p.stdin!.end();
  warm = undefined;
}
