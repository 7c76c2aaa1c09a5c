/**
 * Worker thread of prepare-threads.ts: stages, places and describes the files it is sent (prepareOne),
 * answering each batch with one message. A separately bundled entry point (dist/bundle/prepare-worker.js).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Layout } from '../engine/layout.js';
import { Pool } from '../engine/pool.js';
import { prepareOne } from '../engine/importer.js';
import { getFormat } from '../formats/registry.js';
import { errorToWire } from '../util/errors.js';
import type { PrepareJob, PrepareReply, PrepareWorkerData } from './prepare-threads.js';

const data = workerData as PrepareWorkerData;
const pool = new Pool(new Layout(data.base));
const format = await getFormat(data.format);
const port = parentPort!;

// Batches are handled one after another (a batch's files in order): the thread is the parallelism.
let chain = Promise.resolve();
port.on('message', (jobs: PrepareJob[]) => {
  chain = chain.then(async () => {
    const replies: PrepareReply[] = [];
    for (const j of jobs) {
      try {
        replies.push({ i: j.i, outcome: await prepareOne(pool, format, { abs: j.abs, rel: j.rel, placeAt: j.placeAt }, data.opts) });
      } catch (e) {
        replies.push({ i: j.i, fault: errorToWire(e) });
      }
    }
    port.postMessage(replies);
  });
});
port.postMessage('ready');
