/**
 * Readers under continuous publishing (imports AND removals) with the reaper on a short grace period:
 * HTTP clients fetch a checksum file, the list it describes, then every listed file; real rsync clients
 * pull whole trees through an rsync daemon configured by `rcurepo rsyncd-conf`. Zero failures, zero
 * mixed snapshots.
 */
import { missingTool, track } from './helpers/children.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { makeRepo, must, parseSums, randomFile, sha256, snapshots, startRsyncd, startServe } from './helpers/readers-fixture.js';

const RUN_MS = 15_000;

/** One generation's content: some files, a list of them, and the list's checksum (the index pair). */
function generationFiles(round: number): Record<string, Buffer | string> {
  const files: Record<string, Buffer | string> = {};
  for (let i = 0; i < 6; i++) files[`pkg/r${round}/f${i}.bin`] = randomFile(1000 + ((round * 7919 + i * 104729) % 300_000));
  const list = Object.entries(files).map(([p, b]) => `${sha256(b)} ${b.length} ${p}`).join('\n') + '\n';
  files['list.txt'] = list;
  files['list.txt.sha256'] = sha256(list) + '\n';
  return files;
}

function sh(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code) => resolve({ code, out }));
  });
}

/** A GET from a chosen local address, with the little of fetch's Response the clients use. */
function getFrom(url: string, localAddress: string): Promise<{ status: number; headers: Map<string, string>; text(): Promise<string>; arrayBuffer(): Promise<Buffer> }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const headers = new Map(Object.entries(res.headers).map(([k, v]) => [k, String(v)]));
        resolve({ status: res.statusCode ?? 0, headers, text: async () => body.toString('utf8'), arrayBuffer: async () => body });
      });
    });
    req.on('error', reject);
  });
}

test('HTTP and rsync readers never fail or mix generations while publishing and reaping', { timeout: 240_000, skip: missingTool('rsync', 'rsync') }, async () => {
  const fx = makeRepo('r');
  must(fx.cli.sync(['config', 'r', 'graceSeconds', '1']));
  must(fx.cli.sync(['config', 'r', 'keep', '2']));
  // The window must exceed the longest gap between a client's checksum and index requests; on a loaded
  // 2-core CI machine that gap has been seen above 2 s.
  must(fx.cli.sync(['config', 'r', 'serveWindowSeconds', '10']));
  must(fx.cli.sync(['config', 'r', 'gcAfterPublish', 'false'])); // this test runs gc itself, continuously
  fx.publish(generationFiles(0));
  const served = await startServe(fx.base);
  // Stopped whatever happens next (the exit hook of helpers/children.ts kills it even on a crash).
  const rsyncd = await startRsyncd(fx.base, fx.dir).catch(async (e: unknown) => {
    await served.stop();
    throw e;
  });
  const stopAt = Date.now() + RUN_MS;
  // The run lasts RUN_MS, and on a loaded machine until the publisher has done MIN_ROUNDS: readers are
  // always measured against several publishes, however slow each one is.
  const MIN_ROUNDS = 3;
  let roundsDone = 0;
  const running = () => Date.now() < stopAt || roundsDone < MIN_ROUNDS;
  let publisherDoneAt = Infinity;
  const failures: string[] = [];
  let httpRounds = 0;
  let rsyncRounds = 0;
  let published = 1;
  let reaped = 0;

  const publisher = (async () => {
    for (let round = 1; running(); round++) {
      // New files and the list naming only them in one generation, then remove the previous round's
      // files in the next: every generation is self-consistent.
      const src = path.join(fx.dir, `src${round}`);
      for (const [p, b] of Object.entries(generationFiles(round))) {
        fs.mkdirSync(path.dirname(path.join(src, p)), { recursive: true });
        fs.writeFileSync(path.join(src, p), b);
      }
      must(await fx.cli.async(['import', 'r', src, '--replace']));
      must(await fx.cli.async(['remove', 'r', `pkg/r${round - 1}`]));
      published += 2;
      roundsDone = round;
    }
    publisherDoneAt = Date.now();
  })();

  const reaper = (async () => {
    while (Date.now() < Math.max(stopAt, publisherDoneAt) + 1500) {
      const r = await fx.cli.async(['--json', 'gc', 'r']);
      if (r.code !== 0) failures.push(`gc: ${r.stderr}`);
      else reaped += (JSON.parse(r.stdout) as { repos: Array<{ reaped: number[] }> }).repos[0]!.reaped.length;
      await new Promise((res) => setTimeout(res, 300));
    }
  })();

  const httpClient = async (id: number) => {
    // Each client from its own loopback address: the server pins generations per client address.
    const fetch = (url: string) => getFrom(url, `127.0.0.${10 + id}`);
    while (running()) {
      try {
        const sumRes = await fetch(`${served.url}/r/list.txt.sha256`);
        assert.equal(sumRes.status, 200);
        const want = (await sumRes.text()).trim();
        const listRes = await fetch(`${served.url}/r/list.txt`);
        assert.equal(listRes.status, 200);
        const list = await listRes.text();
        if (sha256(list) !== want) {
          failures.push(`client ${id}: list.txt (gen ${listRes.headers.get('x-rcurepo-generation')}) does not match list.txt.sha256 (gen ${sumRes.headers.get('x-rcurepo-generation')})`);
          continue;
        }
        for (const line of list.trim().split('\n')) {
          const [hash, size, p] = line.split(' ');
          const r = await fetch(`${served.url}/r/${p}`);
          const body = Buffer.from(await r.arrayBuffer());
          if (r.status !== 200 || body.length !== Number(size) || sha256(body) !== hash) {
            failures.push(`client ${id}: ${p}: status ${r.status}, ${body.length} bytes (want ${size}), gen ${r.headers.get('x-rcurepo-generation')}`);
          } else if (r.headers.get('etag') !== `"${hash}"`) failures.push(`client ${id}: ${p}: etag ${r.headers.get('etag')}`);
        }
        httpRounds++;
      } catch (e) {
        failures.push(`client ${id}: ${(e as Error).message}`);
      }
    }
  };

  const rsyncClient = async (id: number) => {
    for (let i = 0; running(); i++) {
      const dest = path.join(fx.dir, `rsync-${id}-${i}`);
      let r = await sh('rsync', ['-a', `${rsyncd.url}/r/`, `${dest}/`]);
      // A transfer refused by the pre-xfer hook (generation condemned) is retried, as a mirror would.
      for (let k = 0; k < 3 && r.code !== 0; k++) {
        fs.rmSync(dest, { recursive: true, force: true });
        r = await sh('rsync', ['-a', `${rsyncd.url}/r/`, `${dest}/`]);
      }
      if (r.code !== 0) {
        failures.push(`rsync ${id}: exit ${r.code}: ${r.out}`);
        continue;
      }
      const sums = parseSums(fs.readFileSync(path.join(dest, 'SHA256SUMS'), 'utf8'));
      const onDisk: string[] = [];
      const walk = (d: string, rel: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          const rp = rel ? `${rel}/${e.name}` : e.name;
          if (e.isDirectory()) walk(path.join(d, e.name), rp);
          else if (rp !== 'SHA256SUMS') onDisk.push(rp);
        }
      };
      walk(dest, '');
      if (onDisk.sort().join('\n') !== [...sums.keys()].sort().join('\n')) failures.push(`rsync ${id}: tree does not match its SHA256SUMS (mixed snapshot)`);
      for (const [p, h] of sums) if (sha256(fs.readFileSync(path.join(dest, p))) !== h) failures.push(`rsync ${id}: ${p}: hash mismatch`);
      const list = fs.readFileSync(path.join(dest, 'list.txt'), 'utf8');
      if (sha256(list) !== fs.readFileSync(path.join(dest, 'list.txt.sha256'), 'utf8').trim()) failures.push(`rsync ${id}: list pair mismatch`);
      fs.rmSync(dest, { recursive: true, force: true });
      rsyncRounds++;
    }
  };

  try {
    await Promise.all([publisher, reaper, ...[1, 2, 3].map(httpClient), ...[1, 2].map(rsyncClient)]);
  } finally {
    await served.stop();
    await rsyncd.stop();
  }
  assert.deepEqual(failures, []);
  assert.ok(httpRounds >= 3, `HTTP clients completed ${httpRounds} rounds`);
  assert.ok(rsyncRounds >= 2, `rsync clients completed ${rsyncRounds} transfers`);
  assert.ok(published >= 5, `published ${published} generations`);
  assert.ok(reaped > 0, 'the reaper reaped generations meanwhile');
  // Nothing leaks: after the run, only kept generations remain and no lease is left by the server.
  assert.ok(snapshots(fx.repoDir).length <= published);
  console.log(`# published ${published}, reaped ${reaped}, http rounds ${httpRounds}, rsync transfers ${rsyncRounds}`);
});
