/**
 * Bulk imports prepare their files on worker threads: reading a package's metadata (zip member, inflate,
 * strict XML) costs about a millisecond of CPU each, and staging it several file creations; one thread
 * leaves the other CPUs idle. Each worker takes small batches from a shared queue, so a slow file holds
 * back only its own batch.
 *
 * Only the bundled CLI has the worker script (dist/bundle/prepare-worker.js); run from sources (tests
 * under tsx) the import prepares on the main thread, the same function either way (prepareOne).
 */
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ParallelPrepare, PrepareOutcome, SourceFile } from '../engine/importer.js';
import type { PlaceOptions } from '../formats/format.js';
import { RcuError, errorFromWire, type WireError } from '../util/errors.js';

export interface PrepareWorkerData {
  base: string;
  format: string;
  opts: PlaceOptions;
}
export interface PrepareJob extends SourceFile {
  i: number;
}
export type PrepareReply = { i: number; outcome: PrepareOutcome; fault?: undefined } | { i: number; fault: WireError; outcome?: undefined };

/** Files per message: large enough to amortise messaging, small enough to balance the threads. */
const BATCH = 16;
/** Below this many files the threads' start-up (~50 ms each) costs more than they save. */
const MIN_FILES = 64;

/** Heap limits of a prepare thread (MB). */
const WORKER_YOUNG_MB = 8;
const WORKER_OLD_MB = 96;

const workerUrl = new URL('./prepare-worker.js', import.meta.url);
let workerAvailable: boolean | undefined;

/** RCUREPO_PREPARE_THREADS overrides the thread count (0 or 1: prepare on the main thread). */
function threadCount(): number {
  const env = process.env.RCUREPO_PREPARE_THREADS;
  if (env !== undefined && env !== '') return Math.max(0, Math.min(16, Number.parseInt(env, 10) || 0));
  return Math.min(4, os.availableParallelism?.() ?? os.cpus().length);
}

/** A ParallelPrepare for `fileCount` files, or undefined when the main thread should do it. */
export function prepareThreadsFor(base: string, format: string, opts: PlaceOptions, fileCount: number): ParallelPrepare | undefined {
  const threads = Math.min(threadCount(), Math.ceil(fileCount / BATCH));
  if (threads < 2 || fileCount < MIN_FILES) return undefined;
  workerAvailable ??= fs.existsSync(fileURLToPath(workerUrl));
  if (!workerAvailable) return undefined;
  const workerData: PrepareWorkerData = { base, format, opts: { prefix: opts.prefix, dist: opts.dist, component: opts.component, settings: opts.settings } };
  return { threads, run: (files, onOutcome) => runThreads(threads, workerData, files, onOutcome) };
}

function runThreads(threads: number, workerData: PrepareWorkerData, files: readonly SourceFile[], onOutcome: (i: number, o: PrepareOutcome) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let next = 0;
    let answered = 0;
    let fault: unknown;
    const workers: Worker[] = [];
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      for (const w of workers) void w.terminate();
      if (fault !== undefined) reject(fault);
      else resolve();
    };
    let sent = 0; // files handed out, compared with `answered` to know when all in flight are back
    const send = (w: Worker): void => {
      // After a fault nothing new starts; what is in flight still answers (its staged copies must be known).
      if (fault !== undefined || next >= files.length) return;
      const jobs: PrepareJob[] = [];
      for (; jobs.length < BATCH && next < files.length; next++) jobs.push({ i: next, abs: files[next]!.abs, rel: files[next]!.rel, ...(files[next]!.placeAt !== undefined ? { placeAt: files[next]!.placeAt } : {}) });
      sent += jobs.length;
      w.postMessage(jobs);
    };
    const finishWhenDone = (): void => {
      if (answered === sent && (next >= files.length || fault !== undefined)) finish();
    };
    for (let t = 0; t < threads; t++) {
      // A worker holds one file at a time (whole up to 4 MiB, streamed above), so small heaps suffice; V8's
      // defaults would let each grow by ~100 MB of garbage between collections, counted in the import's RSS.
      const w = new Worker(workerUrl, { workerData, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB, maxOldGenerationSizeMb: WORKER_OLD_MB } });
      workers.push(w);
      w.on('message', (m: 'ready' | PrepareReply[]) => {
        if (m === 'ready') {
          // Two batches each: the next is waiting when one is answered.
          send(w);
          send(w);
        } else {
          for (const r of m) {
            answered++;
            if (r.fault) fault ??= errorFromWire(r.fault);
            else onOutcome(r.i, r.outcome);
          }
          send(w);
        }
        finishWhenDone();
      });
      // A crashed thread loses its batch (its staged copies are left for the pool's cleanup): nothing more
      // can be trusted to answer, so stop here.
      w.on('error', (e) => {
        fault ??= e;
        finish();
      });
      w.on('exit', (code) => {
        if (finished) return; // terminated by finish()
        fault ??= new RcuError('FAILURE', `a prepare thread stopped (exit code ${code})`);
        finish();
      });
    }
  });
}
