/**
 * Worker thread of prepare-threads.ts: stages, places and describes the files it is sent (prepareOne),
 * answering each batch with one message. A separately bundled entry point (dist/bundle/prepare-worker.js).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Layout } from '../engine/layout.js';
import { Pool } from '../engine/pool.js';
import { prepareOne } from '../engine/importer.js';
import { getFormat } from '../formats/registry.js';
import { isRcuError } from '../util/errors.js';
import type { PrepareJob, PrepareReply, PrepareWorkerData, WireFault } from './prepare-threads.js';

const data = workerData as PrepareWorkerData;
const pool = new Pool(new Layout(data.base));
const format = await getFormat(data.format);
const port = parentPort!;

function toWire(e: unknown): WireFault {
  const err = e as Error & { code?: unknown; errno?: unknown; syscall?: unknown; path?: unknown };
  return {
    message: err?.message ?? String(e),
    rcuCode: isRcuError(e) ? e.code : undefined,
    details: isRcuError(e) ? e.details : undefined,
    errno: typeof err?.code === 'string' ? err.code : undefined,
  };
}

// Batches are handled one after another (a batch's files in order): the thread is the parallelism.
let chain = Promise.resolve();
port.on('message', (jobs: PrepareJob[]) => {
  chain = chain.then(async () => {
    const replies: PrepareReply[] = [];
    for (const j of jobs) {
      try {
        replies.push({ i: j.i, outcome: await prepareOne(pool, format, { abs: j.abs, rel: j.rel }, data.opts) });
      } catch (e) {
        replies.push({ i: j.i, fault: toWire(e) });
      }
    }
    port.postMessage(replies);
  });
});
port.postMessage('ready');
