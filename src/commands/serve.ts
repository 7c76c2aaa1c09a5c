/**
 * `rcurepo serve`: run the HTTP server until SIGTERM/SIGINT, then drain and return.
 *
 * With `--workers N` (N > 1) this process becomes a primary that accepts connections and hands each to
 * one of N worker processes (node:cluster), each with its own server state and leases (leases are per
 * process by design). `--balance address` (the default) sends every connection of one client address to
 * the same worker, so the per-client guarantees (one generation per burst, a checksum and its file from
 * one generation) hold exactly as with one process; `--balance connection` spreads connections round
 * robin, and those guarantees then hold per connection only. SIGTERM to the primary stops accepting,
 * forwards SIGTERM to the workers, and waits for every one of them to drain.
 */
import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import fs from 'node:fs';
import net from 'node:net';
import { openBase } from '../engine/repo.js';
import { startServer } from '../readers/serve.js';
import { RcuError } from '../util/errors.js';
import { configureEventLog, emitEvent, eventLogConfigured, reopenEventLog } from '../util/event-log.js';
import { parseTrustProxy } from '../readers/trust-proxy.js';

export interface ServeResult {
  listen: string;
  requests: number;
  forcedClose: boolean;
  /** True in a worker process (the primary reports for all of them). */
  worker?: boolean;
}

export type Balance = 'address' | 'connection';

export function parseListen(s: string | undefined): { host: string; port: number } {
  const v = s ?? '127.0.0.1:8080';
  const m = /^(?:\[([^\]]+)\]|([^:]*)):([0-9]{1,5})$/.exec(v) ?? (/^[0-9]{1,5}$/.test(v) ? [v, undefined, '127.0.0.1', v] : null);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new RcuError('USAGE', `--listen takes ADDR:PORT (e.g. 127.0.0.1:8080, [::]:80), not '${v}'`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/**
 * Access log lines, buffered: one write per `capacity` bytes or per 100 ms instead of one per request.
 * Each line is copied into a byte buffer as it comes (it dies young: no string chain kept alive until the
 * flush, nothing to flatten then), and a full buffer is handed to `write` whole and replaced. `capacity`
 * also bounds each write (pipes: PIPE_BUF) so lines of several processes sharing one pipe never
 * interleave; only a single line longer than that is written on its own.
 */
function bufferedLog(write: (chunk: Buffer) => void, capacity = 64 * 1024): { log: (line: string) => void; flush: () => void } {
  let buf = Buffer.allocUnsafe(capacity);
  let len = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (len === 0) return;
    const full = buf.subarray(0, len);
    // The write may still read it after this returns: the next lines go to a fresh buffer.
    buf = Buffer.allocUnsafe(capacity);
    len = 0;
    write(full);
  };
  return {
    log(line) {
      // A UTF-16 code unit takes at most 3 bytes in UTF-8: room checked without measuring the line.
      if (capacity - len < line.length * 3) {
        flush();
        if (capacity < line.length * 3) return write(Buffer.from(line));
      }
      len += buf.write(line, len);
      if (!timer) timer = setTimeout(flush, 100);
    },
    flush,
  };
}

/**
 * The access log, opened now (a bad path is a usage error at start, not a crash later) with O_APPEND:
 * each write lands whole at the end, also with several worker processes. A write error later (disk
 * full, file system gone) is reported once in the event log; serving goes on.
 */
function openAccessLog(file: string): fs.WriteStream {
  let fd: number;
  try {
    fd = fs.openSync(file, 'a', 0o640);
  } catch (e) {
    throw new RcuError('USAGE', `--access-log ${file}: cannot open for appending (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const ws = fs.createWriteStream(file, { fd });
  let reported = false;
  ws.on('error', (e) => {
    if (!reported) emitEvent('serve', { event: 'access-log-error', outcome: 'failed', error: e.message });
    reported = true;
  });
  return ws;
}

function stopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      if (cluster.isWorker) {
        // The primary forwards the signal it got, and a terminal sends SIGINT to the whole group: a second
        // one must not kill a worker mid-drain.
        process.on('SIGTERM', () => undefined);
        process.on('SIGINT', () => undefined);
      }
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

export async function serve(o: {
  base: string;
  listen?: string;
  accessLog?: string;
  drainSeconds?: number;
  /** Bytes of file bodies each process keeps in memory. */
  cacheBytes?: number;
  workers?: number;
  balance?: Balance;
  /** `--trust-proxy ADDR[,CIDR...]`. */
  trustProxy?: string;
  onListening: (url: string) => void;
}): Promise<ServeResult> {
  const layout = await openBase(o.base);
  const { host, port } = parseListen(o.listen);
  const trustProxy = parseTrustProxy(o.trustProxy);
  // A daemon logs its events to stderr (the journal under systemd) unless --log chose a file.
  if (!eventLogConfigured()) configureEventLog('-');
  const workers = o.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) throw new RcuError('USAGE', `--workers takes a number from 1 to 256, not '${o.workers}'`);
  const balance = o.balance ?? 'address';
  if (balance !== 'address' && balance !== 'connection') throw new RcuError('USAGE', `--balance takes 'address' or 'connection', not '${String(balance)}'`);
  if (workers > 1 && cluster.isPrimary) {
    emitEvent('serve', { event: 'start', outcome: 'info', listen: o.listen ?? `${host}:${port}`, workers, pid: process.pid });
    const r = await primary({ host, port, workers, balance, drainSeconds: o.drainSeconds, onListening: o.onListening });
    emitEvent('serve', { event: 'stop', outcome: 'ok', requests: r.requests, forcedClose: r.forcedClose });
    return r;
  }

  let logger: { log: (line: string) => void; flush: () => void } | undefined;
  let logStream: fs.WriteStream | undefined;
  if (o.accessLog === undefined || o.accessLog === '-') logger = bufferedLog((c) => process.stdout.write(c), cluster.isWorker ? 4096 : 64 * 1024);
  else if (o.accessLog !== 'off') {
    // O_APPEND: each write lands whole at the end, also with several worker processes.
    logStream = openAccessLog(o.accessLog);
    logger = bufferedLog((c) => logStream!.write(c));
  }
  // SIGHUP (logrotate's postrotate): flush, then write on to a freshly opened file by the same name.
  const accessLog = o.accessLog;
  const onHup = () => {
    reopenEventLog();
    if (!logStream || !accessLog) return;
    logger!.flush();
    const old = logStream;
    try {
      logStream = openAccessLog(accessLog);
    } catch (e) {
      emitEvent('serve', { event: 'log-reopen', outcome: 'failed', error: (e as Error).message }); // keep writing to the old one
      return;
    }
    old.end();
  };
  process.on('SIGHUP', onHup);
  const inWorker = cluster.isWorker;
  const stopped = stopSignal();
  const server = await startServer({ layout, host, port, log: logger?.log, drainSeconds: o.drainSeconds, cacheBytes: o.cacheBytes, noListen: inWorker, trustProxy });
  if (!inWorker) emitEvent('serve', { event: 'start', outcome: 'info', listen: `${server.address.address}:${server.address.port}`, workers: 1, pid: process.pid });
  if (inWorker) {
    process.on('message', (m: unknown, handle: unknown) => {
      if (m === 'rcurepo:connection' && handle instanceof net.Socket) server.connection(handle);
    });
    process.send!('rcurepo:ready');
  }
  const a = server.address;
  const url = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  if (!inWorker) o.onListening(url);
  await stopped;
  const r = await server.drain();
  process.off('SIGHUP', onHup);
  if (!inWorker) emitEvent('serve', { event: 'stop', outcome: 'ok', requests: r.requests, forcedClose: r.forced > 0 });
  logger?.flush();
  if (logStream) await new Promise<void>((r2) => logStream!.end(() => r2()));
  if (inWorker) {
    await new Promise<void>((r2) => process.send!({ t: 'rcurepo:drained', requests: r.requests, forced: r.forced }, () => r2()));
    process.disconnect();
  }
  return { listen: url, requests: r.requests, forcedClose: r.forced > 0, worker: inWorker };
}

/** The primary of `--workers N`: accept, hand connections to workers, forward SIGTERM, wait for them. */
async function primary(o: { host: string; port: number; workers: number; balance: Balance; drainSeconds?: number; onListening: (url: string) => void }): Promise<ServeResult> {
  const live: Array<Worker | undefined> = [];
  let stopping = false;
  let requests = 0;
  let forced = false;
  const exited: Array<Promise<void>> = [];
  let readyCount = 0;
  let allReady!: () => void;
  let failed!: (e: Error) => void;
  const ready = new Promise<void>((r, j) => ((allReady = r), (failed = j)));

  const fork = (slot: number) => {
    const w = cluster.fork();
    live[slot] = undefined;
    let wasReady = false;
    w.on('message', (m: unknown) => {
      if (m === 'rcurepo:ready') {
        live[slot] = w;
        if (!wasReady && ++readyCount === o.workers) allReady();
        wasReady = true;
        return;
      }
      const d = m as { t?: string; requests?: number; forced?: number };
      if (d?.t === 'rcurepo:drained') {
        requests += d.requests ?? 0;
        if (d.forced) forced = true;
      }
    });
    exited[slot] = new Promise<void>((resolve) => {
      w.once('exit', () => {
        if (live[slot] === w) live[slot] = undefined;
        if (!wasReady && !stopping) {
          stopping = true;
          for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGTERM');
          failed(new RcuError('FAILURE', `serve worker ${slot} exited before it was ready (see its error above)`));
        } else if (!stopping) {
          // A worker died (not asked to): replace it, after a pause so a crash loop does not spin.
          setTimeout(() => !stopping && fork(slot), 1000);
        }
        resolve();
      });
    });
  };
  for (let i = 0; i < o.workers; i++) fork(i);
  await ready;

  let rr = 0;
  const pick = (socket: net.Socket): Worker | undefined => {
    const n = live.length;
    let i: number;
    if (o.balance === 'connection') i = rr++ % n;
    else {
      // FNV-1a of the client address: one client, one worker (its pins live there).
      let h = 0x811c9dc5;
      const s = socket.remoteAddress ?? '';
      for (let k = 0; k < s.length; k++) h = Math.imul(h ^ s.charCodeAt(k), 0x01000193);
      i = (h >>> 0) % n;
    }
    // A dead slot (being replaced): the next live one.
    for (let k = 0; k < n; k++) {
      const w = live[(i + k) % n];
      if (w && w.isConnected()) return w;
    }
    return undefined;
  };
  const acceptor = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
    const w = pick(socket);
    if (!w) return void socket.destroy();
    w.send('rcurepo:connection', socket, { keepOpen: false }, (e) => e && socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    acceptor.once('error', reject);
    acceptor.listen(o.port, o.host, () => {
      acceptor.off('error', reject);
      resolve();
    });
  });
  const a = acceptor.address() as net.AddressInfo;
  const url = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  o.onListening(url);
  // logrotate signals the process it knows (this one): the workers write the access log, pass it on.
  const forwardHup = () => {
    reopenEventLog();
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP');
  };
  process.on('SIGHUP', forwardHup);
  await stopSignal();
  process.off('SIGHUP', forwardHup);
  stopping = true;
  acceptor.close(); // handed-over connections belong to the workers now
  for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
  await Promise.all(exited);
  return { listen: url, requests, forcedClose: forced };
}
