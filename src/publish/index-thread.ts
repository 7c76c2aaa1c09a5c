/**
 * Large changes write their indexes on a worker thread with a heap of its own. A bulk import of 50,000
 * packages holds the whole change in the main thread's heap (inputs, staged copies, entries); building
 * the index there (reading every package's metadata, rendering and compressing ~116 MiB of XML) grew
 * that heap further between collections, and the process's peak RSS with it. On a thread the index's
 * garbage is collected against the thread's own small heap, and all of it is handed back when the thread
 * ends. The thread's heap is not a cap on the repository: its limit grows with the entry count.
 *
 * Only the bundled CLI has the worker script (dist/bundle/index-worker.js); from sources (tests under
 * tsx) the indexes are written on the main thread, the same format code either way.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { IndexJob } from '../engine/transaction.js';
import { errorFromWire, RcuError, type WireError } from '../util/errors.js';
import { trace } from '../util/trace.js';
import { collectGarbage } from '../util/collect-garbage.js';

export interface IndexWorkerData extends IndexJob {
  base: string;
  format: string;
}
export type IndexWorkerReply = { ok: true } | { fault: WireError };

/** Changes smaller than this index on the main thread: a thread's start-up would cost more than it saves. */
const MIN_ADDS = 1000;
/** The thread's young generation (MB): small, as the index keeps little alive for long. */
const YOUNG_MB = 8;

const workerUrl = new URL('./index-worker.js', import.meta.url);
let workerAvailable: boolean | undefined;

/** RCUREPO_INDEX_THREAD=0 writes every index on the main thread (for comparisons). */
function enabled(): boolean {
  if (process.env.RCUREPO_INDEX_THREAD === '0') return false;
  workerAvailable ??= fs.existsSync(fileURLToPath(workerUrl));
  return workerAvailable;
}

/** The transaction's indexElsewhere for a base and format: true when the thread wrote the indexes. */
export function indexOnThread(base: string, format: string): (job: IndexJob) => Promise<boolean> {
  return async (job) => {
    if (job.adds < MIN_ADDS || !enabled()) return false;
    const data: IndexWorkerData = { ...job, base, format };
    // Old generation: room for the entries and the index's plan (a few KiB each) over a fixed base.
    const oldMb = 128 + Math.ceil(job.entries.length / 256);
    // This thread waits for the index: collect the earlier steps' garbage now (a bulk import's staging
    // and plan), or it stays on the heap, and in the peak RSS, while the thread works beside it.
    collectGarbage();
    trace('index-thread: collected');
    await new Promise<void>((resolve, reject) => {
      const w = new Worker(workerUrl, { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB, maxOldGenerationSizeMb: oldMb } });
      let answered = false;
      w.once('message', (m: IndexWorkerReply) => {
        answered = true;
        if ('fault' in m) reject(errorFromWire(m.fault));
        else resolve();
      });
      w.once('error', (e) => {
        answered = true;
        reject(new RcuError('FAILURE', `the index thread failed: ${e.message}`));
      });
      w.once('exit', (code) => {
        if (!answered) reject(new RcuError('FAILURE', `the index thread stopped without an answer (exit code ${code})`));
      });
    });
    trace('index-thread');
    return true;
  };
}
