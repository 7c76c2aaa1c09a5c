/** Shared set-up of the hooks tests: a base with one `files` repository, uploads, manifests, a watcher child. */
import { track } from './children.js';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach } from 'node:test';
import { BIN, cliIn, tempDir } from './cli.js';

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function setupBase(repo = 'r') {
  const dir = tempDir('rcurepo-hooks-');
  const base = path.join(dir, 'base');
  const cli = cliIn(base);
  for (const args of [['init'], ['create-repo', repo, '--format', 'files']]) {
    const r = cli.sync(args);
    if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  }
  return { dir, base, cli };
}

/** Write a file the way an uploader should: under a dot name, then renamed into place. */
export function upload(dir: string, name: string, content: string | Buffer): string {
  fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
  const tmp = path.join(dir, `.${path.basename(name)}.part`);
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, path.join(dir, name));
  return path.join(dir, name);
}

export function manifestText(target: string, files: Array<{ path: string; sha256: string }>): string {
  return `[manifest]\nversion = "1.0"\ntarget = "${target}"\n` + files.map((f) => `\n[[file]]\npath = "${f.path}"\nsha256 = "${f.sha256}"\n`).join('');
}

/** Upload files then their manifest (the commit signal, last). */
export function uploadWithManifest(dir: string, name: string, target: string, files: Record<string, string>): void {
  for (const [p, c] of Object.entries(files)) upload(dir, p, c);
  upload(dir, name, manifestText(target, Object.entries(files).map(([p, c]) => ({ path: p, sha256: sha256(c) }))));
}

export interface WatcherChild {
  proc: ChildProcessWithoutNullStreams;
  events: Array<Record<string, unknown>>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

export function startWatcher(base: string, args: string[]): WatcherChild {
  const proc = track(spawn(process.execPath, [BIN, '--base', base, 'watch', ...args], { stdio: ['pipe', 'pipe', 'pipe'] }));
  const events: Array<Record<string, unknown>> = [];
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  createInterface({ input: proc.stdout }).on('line', (l) => {
    try {
      events.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      events.push({ event: 'noise', line: l });
    }
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('close', (code, signal) => resolve({ code, signal })));
  return { proc, events, exit, stderr: () => err };
}

export async function until(what: string, cond: () => boolean, timeoutMs = 20_000, stepMs = 50): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Entries of the incoming directory that are uploads still waiting (not state, not rejected, not in-progress). */
export function pendingUploads(incoming: string): string[] {
  return fs.readdirSync(incoming).filter((n) => !n.startsWith('.') && n !== 'rejected');
}

export function listRepo(cli: ReturnType<typeof cliIn>, repo: string): string[] {
  const r = cli.json<{ entries?: Array<{ path: string }>; files?: Array<{ path: string }> } | Array<{ path: string }>>(['list', repo]);
  const arr = Array.isArray(r) ? r : (r.entries ?? r.files ?? []);
  return arr.map((e) => e.path);
}

/** Watcher options that keep tests quick: short settle and poll intervals. */
export const FAST_WATCH = ['--settle', '0.2', '--poll', '0.05'];

/**
 * A `startWatcher` whose watchers are SIGKILLed after each test of the calling file (a failed test
 * never leaves one running into the next). Call once at the top level of a test file.
 */
export function watchersKilledAfterEach(): (base: string, args: string[]) => WatcherChild {
  const live = new Set<WatcherChild>();
  afterEach(() => {
    for (const w of live) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL');
    live.clear();
  });
  return (base, args) => {
    const w = startWatcher(base, args);
    live.add(w);
    return w;
  };
}
