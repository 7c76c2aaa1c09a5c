/**
 * HTTP robustness (issue 18, defects 6, 7 and 9) against a real `rcurepo serve`: a FIFO in a snapshot,
 * over-long names, `GET /`, folders without their slash, absolute-form targets, --trust-proxy and
 * log reopening on SIGHUP.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { makeRepo, must, startServe, current } from './helpers/readers-fixture.js';
import type { Served } from './helpers/readers-fixture.js';

const fx = makeRepo('r', { 'a/small.txt': 'hello\n', 'SHA256SUMS.extra': 'x' });
let srv: Served;

before(async () => {
  must(fx.cli.sync(['config', 'r', 'serveWindowSeconds', '0']));
  srv = await startServe(fx.base);
});
after(async () => {
  assert.equal(await srv.stop(), 0);
});

/** One raw HTTP/1.1 exchange on a fresh connection (the request line exactly as given), with a timeout. */
function rawHttp(url: string, requestLine: string, headers: string[] = [], timeoutMs = 5000): Promise<{ status: number; head: string; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port), u.hostname);
    let data = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms to ${requestLine}`));
    }, timeoutMs);
    s.on('connect', () => s.write(`${requestLine}\r\nHost: ${u.host}\r\nConnection: close\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`));
    s.on('data', (d) => (data += d));
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(timer);
      const [head = '', body = ''] = data.split('\r\n\r\n', 2);
      resolve({ status: Number(head.split(' ')[1]), head, body: data.slice(head.length + 4) || body });
    });
  });
}

const get = (p: string, headers: string[] = []) => rawHttp(srv.url, `GET ${p} HTTP/1.1`, headers);

test('defect 6: a FIFO in a snapshot is refused without blocking, and the server keeps serving', async () => {
  const fifo = path.join(fx.repoDir, 'snapshots', String(current(fx.repoDir)), 'a', 'pipe');
  execFileSync('mkfifo', [fifo]);
  try {
    // More requests than the thread pool has threads: a blocking open() would take every one of them.
    const answers = await Promise.all(Array.from({ length: 12 }, () => get('/r/a/pipe')));
    for (const r of answers) assert.equal(r.status, 403, r.head);
    assert.equal((await get('/r/a/small.txt')).status, 200, 'other requests still answered');
    const listing = await get('/r/a/');
    assert.equal(listing.status, 200);
    assert.ok(!listing.body.includes('pipe'), 'a listing shows only files and folders');
  } finally {
    fs.unlinkSync(fifo);
  }
});

test('defect 7: a 300-character name is a 404 that shows no server path; no response names the base', async () => {
  const long = 'n'.repeat(300);
  for (const p of [`/r/${long}`, `/r/a/${long}`, `/r/${long}/x`, `/r/a/${long}/`]) {
    const r = await get(p);
    assert.ok(r.status === 404 || r.status === 414, `${p.slice(0, 20)}...: ${r.status}`);
    assert.ok(!r.body.includes(fx.base) && !r.head.includes(fx.base), 'base path not revealed');
    assert.ok(!/snapshots\//.test(r.body), 'no snapshot path revealed');
  }
});

test('defect 9: GET / lists the repositories (HTML and JSON)', async () => {
  const r = await get('/');
  assert.equal(r.status, 200);
  assert.match(r.body, /href="r\/"/);
  const j = await get('/', ['Accept: application/json']);
  assert.equal(j.status, 200);
  assert.deepEqual(JSON.parse(j.body).repos.map((x: { name: string }) => x.name), ['r']);
});

test('defect 9: a folder without its slash redirects to it (repository root, @GEN, sub-folder, page)', async () => {
  const gen = current(fx.repoDir);
  for (const [from, to] of [['/r', '/r/'], [`/r/@${gen}`, `/r/@${gen}/`], ['/r/a', '/r/a/'], ['/r/a?x=1', '/r/a/?x=1'], ['/r/@rcurepo', '/r/@rcurepo/']]) {
    const r = await get(from!);
    assert.equal(r.status, 301, `${from}: ${r.head}`);
    assert.match(r.head, new RegExp(`\\r\\nLocation: ${to!.replace(/[?]/g, '\\?')}\\r\\n`, 'i'), from);
  }
});

test('defect 9: an absolute-form request target is served like its path', async () => {
  const u = new URL(srv.url);
  const r = await rawHttp(srv.url, `GET http://${u.host}/r/a/small.txt HTTP/1.1`);
  assert.equal(r.status, 200, r.head);
  assert.equal(r.body, 'hello\n');
  assert.equal((await rawHttp(srv.url, `GET http://${u.host}/ HTTP/1.1`)).status, 200);
});

test('defect 9: --trust-proxy takes the client from Forwarded / X-Forwarded-For only from configured proxies', async () => {
  // Per-client pinning shows the client the server saw: with a 30 s window, a client reads the generation
  // its burst started on. Two clients behind one proxy must get their own bursts.
  must(fx.cli.sync(['config', 'r', 'serveWindowSeconds', '30']));
  const trusting = await startServe(fx.base, ['--trust-proxy', '127.0.0.0/8,::1']);
  const untrusting = await startServe(fx.base, ['--trust-proxy', '10.9.9.9']);
  try {
    const at = (s: Served, hdr: string[]) => rawHttp(s.url, 'GET /r/a/small.txt HTTP/1.1', hdr);
    const genOf = (r: { head: string }) => Number(/x-rcurepo-generation: ([0-9]+)/i.exec(r.head)![1]);
    const g0 = current(fx.repoDir);
    assert.equal(genOf(await at(trusting, ['X-Forwarded-For: 203.0.113.7'])), g0);
    assert.equal(genOf(await at(untrusting, ['X-Forwarded-For: 203.0.113.7'])), g0);
    fx.publish({ 'a/next.txt': 'next' });
    const g1 = current(fx.repoDir);
    assert.ok(g1 > g0);
    // Trusted proxy: client A stays pinned, a new client B (another forwarded address) starts on g1.
    assert.equal(genOf(await at(trusting, ['X-Forwarded-For: 203.0.113.7'])), g0, 'client A keeps its burst');
    assert.equal(genOf(await at(trusting, ['X-Forwarded-For: 203.0.113.8'])), g1, 'client B is another client');
    assert.equal(genOf(await at(trusting, ['Forwarded: for="[2001:db8::5]:4711";proto=http'])), g1, 'Forwarded for= with IPv6 and port');
    // Spoofing from the left does not change who the proxy says the client is (rightmost untrusted hop).
    assert.equal(genOf(await at(trusting, ['X-Forwarded-For: 198.51.100.1, 203.0.113.7'])), g0);
    // Peer not a configured proxy: the header is ignored, every request is the one peer (pinned to g0).
    assert.equal(genOf(await at(untrusting, ['X-Forwarded-For: 203.0.113.9'])), g0, 'header from an untrusted peer ignored');
  } finally {
    must(fx.cli.sync(['config', 'r', 'serveWindowSeconds', '0']));
    assert.equal(await trusting.stop(), 0);
    assert.equal(await untrusting.stop(), 0);
  }
  const bad = fx.cli.sync(['serve', '--listen', '127.0.0.1:0', '--trust-proxy', '10.0.0.0/99']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--trust-proxy/);
});

test('defect 9: SIGHUP reopens the access log and the event log (logrotate)', async () => {
  const dir = path.join(fx.dir, 'logs');
  fs.mkdirSync(dir, { recursive: true });
  const access = path.join(dir, 'access.log');
  const events = path.join(dir, 'events.log');
  const s = await startServe(fx.base, ['--access-log', access, '--log', events]);
  try {
    assert.equal((await rawHttp(s.url, 'GET /r/a/small.txt HTTP/1.1')).status, 200);
    await waitFor(() => fs.existsSync(access) && fs.readFileSync(access, 'utf8').includes('/r/a/small.txt'), 'first access line');
    fs.renameSync(access, `${access}.1`);
    fs.renameSync(events, `${events}.1`);
    s.proc.kill('SIGHUP');
    await waitFor(() => fs.existsSync(access) && fs.existsSync(events), 'logs reopened under their names');
    assert.equal((await rawHttp(s.url, 'GET /r/a/small.txt?again HTTP/1.1')).status, 200);
    await waitFor(() => fs.readFileSync(access, 'utf8').includes('?again'), 'new line in the new access log');
    assert.ok(!fs.readFileSync(`${access}.1`, 'utf8').includes('?again'), 'the rotated file gets nothing new');
    assert.ok(fs.readFileSync(`${events}.1`, 'utf8').includes('"event":"start"'));
  } finally {
    assert.equal(await s.stop(), 0, 'still drains and exits 0 after SIGHUP');
  }
  const stop = fs.readFileSync(events, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(stop.some((e) => e.source === 'serve' && e.event === 'stop' && e.outcome === 'ok'), 'stop event in the reopened event log');
});

async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
