/** `rcurepo serve`: run the HTTP server until SIGTERM/SIGINT, then drain and return. */
import fs from 'node:fs';
import { openBase } from '../engine/repo.js';
import { startServer } from '../readers/serve.js';
import { RcuError } from '../util/errors.js';

export interface ServeResult {
  listen: string;
  requests: number;
  forcedClose: boolean;
}

export function parseListen(s: string | undefined): { host: string; port: number } {
  const v = s ?? '127.0.0.1:8080';
  const m = /^(?:\[([^\]]+)\]|([^:]*)):([0-9]{1,5})$/.exec(v) ?? (/^[0-9]{1,5}$/.test(v) ? [v, undefined, '127.0.0.1', v] : null);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new RcuError('USAGE', `--listen takes ADDR:PORT (e.g. 127.0.0.1:8080, [::]:80), not '${v}'`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export async function serve(o: { base: string; listen?: string; accessLog?: string; drainSeconds?: number; onListening: (url: string) => void }): Promise<ServeResult> {
  const layout = await openBase(o.base);
  const { host, port } = parseListen(o.listen);
  let log: ((line: string) => void) | undefined;
  let logStream: fs.WriteStream | undefined;
  if (o.accessLog === undefined || o.accessLog === '-') log = (l) => process.stdout.write(l);
  else if (o.accessLog !== 'off') {
    logStream = fs.createWriteStream(o.accessLog, { flags: 'a' });
    log = (l) => logStream!.write(l);
  }
  const server = await startServer({ layout, host, port, log, drainSeconds: o.drainSeconds });
  const a = server.address;
  const url = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  o.onListening(url);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  const r = await server.drain();
  if (logStream) await new Promise<void>((r2) => logStream!.end(() => r2()));
  return { listen: url, requests: r.requests, forcedClose: r.forced > 0 };
}
