/** Test helpers: run the real built CLI (bin/rcurepo.js -> dist/bundle/) as a child process. */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { track } from './children.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'rcurepo.js');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A fresh temporary directory removed at process exit. */
export function tempDir(prefix = 'rcurepo-test-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on('exit', () => {
    // Best effort: a CLI call's detached background gc may still be removing files in there, and a throw
    // here would fail the whole test file after every test passed.
    try {
      fs.rmSync(d, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    } catch {
      /* left for the system's temp cleaner */
    }
  });
  return d;
}

export function runSync(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): RunResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...opts.env }, cwd: opts.cwd ?? ROOT, encoding: 'utf8', input: opts.input });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

export function run(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = track(spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...opts.env }, cwd: opts.cwd ?? ROOT }));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Run with --base; parse --json stdout. */
export function cliIn(base: string) {
  return {
    sync: (args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) => runSync(['--base', base, ...args], opts),
    async: (args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) => run(['--base', base, ...args], opts),
    /** Run and require exit 0 (the failure names the command, its code and its output). */
    must(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): RunResult {
      const r = runSync(['--base', base, ...args], opts);
      if (r.code !== 0) throw new Error(`rcurepo ${args.join(' ')} exited ${r.code}: ${r.stdout}${r.stderr}`);
      return r;
    },
    json<T = unknown>(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): T {
      const r = runSync(['--base', base, '--json', ...args], opts);
      if (r.code !== 0) throw new Error(`rcurepo ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      return JSON.parse(r.stdout) as T;
    },
  };
}
