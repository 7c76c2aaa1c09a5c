/** HTTP request matrix against `rcurepo serve` (a real child process, loopback, node fetch / http). */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { makeRepo, must, randomFile, sha256, startServe, current, readerLeases } from './helpers/readers-fixture.js';
import type { Served } from './helpers/readers-fixture.js';

const big = randomFile(300_000);
const small = Buffer.from('hello world\n');
const fx = makeRepo('r', { 'a/big.bin': big, 'a/small.txt': small, 'a/x.xml': '<x/>' });
let srv: Served;

before(async () => {
  // Pins hold server leases; tests that reap set their own window later.
  must(fx.cli.sync(['config', 'r', 'serveWindowSeconds', '0']));
  srv = await startServe(fx.base);
});
after(async () => {
  assert.equal(await srv.stop(), 0, 'drains and exits 0 on SIGTERM');
  assert.deepEqual(readerLeases(fx.repoDir), [], 'server leases released');
});

/** Raw request (no client-side URL normalisation, so traversal attempts reach the server as sent). */
function raw(method: string, p: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return rawAt(srv.url, method, p, headers);
}

function rawAt(url: string, method: string, p: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    // A fresh connection per request (agent: false). With the global agent's keep-alive, a socket the
    // server closed after its keep-alive timeout while this process sat in a synchronous CLI call is
    // still in the pool when the next request picks it: 'socket hang up' (seen under heavy load).
    const req = http.request({ host: u.hostname, port: u.port, method, path: p, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('GET: body, strong ETag from the content hash, generation header, content type', async () => {
  const r = await raw('GET', '/r/a/big.bin');
  assert.equal(r.status, 200);
  assert.equal(sha256(r.body), sha256(big));
  assert.equal(r.headers.etag, `"${sha256(big)}"`);
  assert.equal(r.headers['x-rcurepo-generation'], String(current(fx.repoDir)));
  assert.equal(r.headers['accept-ranges'], 'bytes');
  assert.equal((await raw('GET', '/r/a/x.xml')).headers['content-type'], 'application/xml');
  const sums = await raw('GET', '/r/SHA256SUMS');
  assert.equal(sums.headers.etag, `"${sha256(sums.body)}"`, 'index files get a strong ETag too');
});

test('HEAD: headers only', async () => {
  const r = await raw('HEAD', '/r/a/big.bin');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-length'], String(big.length));
  assert.equal(r.body.length, 0);
});

test('ranges: single, open, suffix, unsatisfiable, multiple (whole body), If-Range', async () => {
  let r = await raw('GET', '/r/a/big.bin', { Range: 'bytes=10-19' });
  assert.equal(r.status, 206);
  assert.equal(r.headers['content-range'], `bytes 10-19/${big.length}`);
  assert.deepEqual(r.body, big.subarray(10, 20));
  r = await raw('GET', '/r/a/big.bin', { Range: `bytes=${big.length - 5}-` });
  assert.deepEqual(r.body, big.subarray(big.length - 5));
  r = await raw('GET', '/r/a/big.bin', { Range: 'bytes=-100' });
  assert.equal(r.status, 206);
  assert.deepEqual(r.body, big.subarray(big.length - 100));
  r = await raw('GET', '/r/a/big.bin', { Range: 'bytes=100000-200000' });
  assert.equal(r.body.length, 100001, 'large range streamed');
  assert.deepEqual(r.body, big.subarray(100000, 200001));
  r = await raw('GET', '/r/a/big.bin', { Range: `bytes=${big.length}-` });
  assert.equal(r.status, 416);
  assert.equal(r.headers['content-range'], `bytes */${big.length}`);
  r = await raw('GET', '/r/a/big.bin', { Range: 'bytes=0-1,5-6' });
  assert.equal(r.status, 200);
  r = await raw('GET', '/r/a/big.bin', { Range: 'bytes=0-1', 'If-Range': '"0000"' });
  assert.equal(r.status, 200, 'If-Range mismatch: whole body');
  r = await raw('GET', '/r/a/big.bin', { Range: 'bytes=0-1', 'If-Range': `"${sha256(big)}"` });
  assert.equal(r.status, 206);
});

test('conditional GET: If-None-Match and If-Modified-Since', async () => {
  const first = await raw('GET', '/r/a/small.txt');
  let r = await raw('GET', '/r/a/small.txt', { 'If-None-Match': first.headers.etag! });
  assert.equal(r.status, 304);
  assert.equal(r.body.length, 0);
  r = await raw('GET', '/r/a/small.txt', { 'If-None-Match': `"nope", W/${first.headers.etag}` });
  assert.equal(r.status, 304);
  r = await raw('GET', '/r/a/small.txt', { 'If-None-Match': '"nope"' });
  assert.equal(r.status, 200);
  r = await raw('GET', '/r/a/small.txt', { 'If-Modified-Since': first.headers['last-modified']! });
  assert.equal(r.status, 304);
  r = await raw('GET', '/r/a/small.txt', { 'If-Modified-Since': new Date(0).toUTCString() });
  assert.equal(r.status, 200);
});

test('no request reads outside the snapshot tree', async () => {
  for (const p of ['/r/../repo.json', '/r/a/../../repo.json', '/r/%2e%2e/repo.json', '/r/a%2f..%2f..%2frepo.json', '/r/%2E%2E/%2E%2E/rcurepo-layout.json', '/r/a/small.txt%00', '/r/..%5c..%5crepo.json', '/r/@1/../../repo.json']) {
    const r = await raw('GET', p);
    assert.ok(r.status === 400 || r.status === 404, `${p}: ${r.status}`);
    assert.ok(!r.body.toString().includes('"format"'), `${p} leaked repo.json`);
  }
  // Double encoding stays literal: %252e%252e is the name "%2e%2e", which does not exist.
  assert.equal((await raw('GET', '/r/%252e%252e/repo.json')).status, 404);
});

test('a symlink planted in a snapshot is refused', async () => {
  // Snapshots never contain symlinks; plant one (as an attacker with write access would) to check.
  const gen = current(fx.repoDir);
  const link = path.join(fx.repoDir, 'snapshots', String(gen), 'evil');
  fs.symlinkSync('/etc', link);
  try {
    assert.equal((await raw('GET', '/r/evil/passwd')).status, 403);
    assert.equal((await raw('GET', '/r/evil')).status, 403);
  } finally {
    fs.unlinkSync(link);
  }
});

test('unknown repository, missing path, other methods', async () => {
  let r = await raw('GET', '/nope/a');
  assert.equal(r.status, 404);
  assert.match(r.body.toString(), /no repository named 'nope'/);
  r = await raw('GET', '/r/a/missing');
  assert.equal(r.status, 404);
  assert.equal((await raw('POST', '/r/a/small.txt')).status, 405);
});

test('pinned generation: served, and a reaped one is a 404 with a clear body', async () => {
  const old = current(fx.repoDir);
  fx.publish({ 'b/new.txt': 'new' });
  must(fx.cli.sync(['remove', 'r', 'a/small.txt']));
  let r = await raw('GET', `/r/@${old}/a/small.txt`);
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-rcurepo-generation'], String(old));
  must(fx.cli.sync(['config', 'r', 'keep', '1']));
  must(fx.cli.sync(['config', 'r', 'graceSeconds', '0']));
  await new Promise((res) => setTimeout(res, 6500)); // the server lets its idle lease go
  must(fx.cli.sync(['gc', 'r']));
  r = await raw('GET', `/r/@${old}/a/small.txt`);
  assert.equal(r.status, 404);
  assert.match(r.body.toString(), new RegExp(`generation ${old} of 'r' has been reaped`));
  assert.equal((await raw('GET', '/r/@99999/a')).status, 404);
});

test('a path missing from current is served from a generation still in its grace period', async () => {
  must(fx.cli.sync(['config', 'r', 'keep', '3']));
  must(fx.cli.sync(['config', 'r', 'graceSeconds', '3600']));
  fx.publish({ 'c/gone.txt': 'soon gone' });
  const had = current(fx.repoDir);
  must(fx.cli.sync(['remove', 'r', 'c/gone.txt']));
  await new Promise((res) => setTimeout(res, 1100)); // server caches repo settings for 1 s
  const r = await raw('GET', '/r/c/gone.txt');
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'soon gone');
  assert.equal(r.headers['x-rcurepo-generation'], String(had));
});

test('one client burst reads one generation; a companion and its file always agree', async () => {
  must(fx.cli.sync(['config', 'r', 'serveWindowSeconds', '30']));
  await new Promise((res) => setTimeout(res, 1100));
  const a = await raw('GET', '/r/SHA256SUMS');
  fx.publish({ 'd/next.txt': String(Date.now()) });
  const b = await raw('GET', '/r/SHA256SUMS');
  assert.equal(b.headers['x-rcurepo-generation'], a.headers['x-rcurepo-generation'], 'pinned inside the window');
  assert.deepEqual(b.body, a.body);
  const c = await raw('GET', `/r/@${current(fx.repoDir)}/SHA256SUMS`);
  assert.notEqual(c.headers['x-rcurepo-generation'], a.headers['x-rcurepo-generation']);
});

test('files above the memory cache are streamed: body, ranges, HEAD, 304 (--cache-mb 0)', async () => {
  const s2 = await startServe(fx.base, ['--cache-mb', '0']);
  try {
    const get = (p: string, headers: Record<string, string> = {}, method = 'GET') => rawAt(s2.url, method, p, headers);
    let r = await get('/r/a/big.bin');
    assert.equal(r.status, 200);
    assert.equal(sha256(r.body), sha256(big));
    assert.equal(r.headers.etag, `"${sha256(big)}"`);
    r = await get('/r/a/big.bin', { Range: 'bytes=100000-200000' });
    assert.equal(r.status, 206);
    assert.deepEqual(r.body, big.subarray(100000, 200001));
    r = await get('/r/a/big.bin', {}, 'HEAD');
    assert.equal(r.headers['content-length'], String(big.length));
    assert.equal(r.body.length, 0);
    r = await get('/r/a/big.bin', { 'If-None-Match': `"${sha256(big)}"` });
    assert.equal(r.status, 304);
  } finally {
    assert.equal(await s2.stop(), 0);
  }
});

test('--workers 2: every worker serves, SIGTERM drains all of them and releases their leases', async () => {
  const s2 = await startServe(fx.base, ['--workers', '2', '--balance', 'connection']);
  const u = new URL(s2.url);
  const gen = current(fx.repoDir);
  // New connections each time (round robin): both workers answer.
  for (let i = 0; i < 6; i++) {
    const r = await new Promise<{ status: number; body: Buffer; gen: string }>((resolve, reject) => {
      http
        .get({ host: u.hostname, port: u.port, path: `/r/@${gen}/a/big.bin`, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), gen: String(res.headers['x-rcurepo-generation']) }));
        })
        .on('error', reject);
    });
    assert.equal(r.status, 200);
    assert.equal(sha256(r.body), sha256(big));
    assert.equal(r.gen, String(gen));
  }
  assert.equal(await s2.stop(), 0, 'the primary exits 0 once its workers drained');
  assert.match(s2.stderr(), /drained after 6 requests/);
  // The workers are gone and so are their lease files (the main server's may remain: it holds its own).
  const held = readerLeases(fx.repoDir);
  for (const l of held) assert.equal(l.pid, srv.proc.pid, 'only the main test server holds leases');
});
