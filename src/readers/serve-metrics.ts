/**
 * `GET /metrics` in the Prometheus text format (version 0.0.4). Request counters and the latency
 * histogram are kept in memory by the serving process; everything else is read from the base at scrape
 * time: per repository the current generation, snapshots kept, last publish (age and duration, from the
 * history records), publishes so far, live leases; the last gc run (BASE/gc-last.json); pool blobs and
 * bytes (pool-count.ts; refreshed at most once a minute, and after a publish or gc); per mirror
 * of a repository what its pushes recorded and how far it is behind (mirror-status.ts).
 */
import type { Layout } from '../engine/layout.js';
import { listHistory, listSnapshots, readCurrent, readHistory } from '../engine/generations.js';
import { listRepoNames, readRepoConfig } from '../engine/repo.js';
import { readGcRecord } from './gc-record.js';
import { listLeases } from './leases.js';
import { mirrorStatus } from './mirror-status.js';
import { PoolCounter } from './pool-count.js';
import type { PoolTotals } from './pool-count.js';
import type { MirrorLag } from './mirror-status.js';

/** Upper bounds of the latency buckets, seconds. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const POOL_REFRESH_MS = 60_000;

interface Counter {
  requests: number;
  bytes: number;
}

export class ServeMetrics {
  /** repo ('' for requests that named no repository) -> status -> counters. */
  private byRepo = new Map<string, Map<number, Counter>>();
  private bucketCounts = new Array<number>(BUCKETS.length + 1).fill(0);
  private latencySum = 0;
  private latencyCount = 0;
  private pool: { at: number; blobs: number; bytes: number } | undefined;
  private poolRefresh: Promise<void> | undefined;
  private poolCounter: PoolCounter | undefined;

  constructor(private readonly layout: Layout) {}

  /** One finished response. Runs per request: three map lookups and a short bucket scan. */
  record(repo: string, status: number, bytes: number, seconds: number): void {
    let statuses = this.byRepo.get(repo);
    if (!statuses) this.byRepo.set(repo, (statuses = new Map()));
    let c = statuses.get(status);
    if (!c) statuses.set(status, (c = { requests: 0, bytes: 0 }));
    c.requests++;
    if (bytes > 0) c.bytes += bytes;
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    this.bucketCounts[i]!++;
    this.latencySum += seconds;
    this.latencyCount++;
  }

  async render(): Promise<string> {
    const out: string[] = [];
    const family = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

    family('rcurepo_http_requests_total', 'counter', 'HTTP responses by repository (empty: none named) and status.');
    for (const [repo, statuses] of this.byRepo) for (const [status, c] of statuses) out.push(`rcurepo_http_requests_total{repo="${repo}",status="${status}"} ${c.requests}`);
    family('rcurepo_http_response_bytes_total', 'counter', 'HTTP body bytes sent by repository and status.');
    for (const [repo, statuses] of this.byRepo) for (const [status, c] of statuses) out.push(`rcurepo_http_response_bytes_total{repo="${repo}",status="${status}"} ${c.bytes}`);
    family('rcurepo_http_request_duration_seconds', 'histogram', 'Time from request to the last byte handed to the socket.');
    let cum = 0;
    BUCKETS.forEach((le, i) => {
      cum += this.bucketCounts[i]!;
      out.push(`rcurepo_http_request_duration_seconds_bucket{le="${le}"} ${cum}`);
    });
    out.push(`rcurepo_http_request_duration_seconds_bucket{le="+Inf"} ${this.latencyCount}`);
    out.push(`rcurepo_http_request_duration_seconds_sum ${this.latencySum}`);
    out.push(`rcurepo_http_request_duration_seconds_count ${this.latencyCount}`);

    const now = Date.now();
    const repos = await listRepoNames(this.layout);
    const rows = await Promise.all(repos.map((name) => this.repoRow(name)));
    const perRepo: Array<[string, string, string, (r: RepoRow) => number | undefined]> = [
      ['rcurepo_current_generation', 'gauge', 'Generation the current pointer names.', (r) => r.current],
      ['rcurepo_snapshots', 'gauge', 'Snapshot trees kept (current, graced, leased, pinned, the newest K).', (r) => r.snapshots],
      ['rcurepo_publishes', 'gauge', 'History records kept (one per publish).', (r) => r.publishes],
      ['rcurepo_last_publish_timestamp_seconds', 'gauge', 'When the current generation was published (Unix time).', (r) => r.lastPublish],
      ['rcurepo_last_publish_age_seconds', 'gauge', 'Seconds since the current generation was published.', (r) => (r.lastPublish === undefined ? undefined : now / 1000 - r.lastPublish)],
      ['rcurepo_last_publish_duration_seconds', 'gauge', 'How long the publish of the current generation took (from its history record).', (r) => r.publishDuration],
      ['rcurepo_live_leases', 'gauge', 'Leases alive (not expired, holder alive), servers included.', (r) => r.leases],
    ];
    for (const [name, type, help, get] of perRepo) {
      family(name, type, help);
      for (const r of rows) {
        const v = get(r);
        if (v !== undefined) out.push(`${name}{repo="${r.name}"} ${round(v)}`);
      }
    }

    // Each configured mirror, from what its pushes recorded (meta/mirrors/NAME.state.json).
    const mirrors = rows.flatMap((r) => r.mirrors.map((m) => ({ labels: `repo="${r.name}",mirror="${labelValue(m.mirror)}"`, m })));
    const perMirror: Array<[string, string, (m: MirrorLag) => number | null | undefined]> = [
      ['rcurepo_mirror_served_generation', 'Generation the mirror serves (no sample before its first push).', (m) => m.served],
      ['rcurepo_mirror_lag_generations', 'Generations published that the mirror does not serve yet (0: up to date).', (m) => m.lagGenerations],
      ['rcurepo_mirror_lag_seconds', 'Seconds since the first generation the mirror lacks was published (0: up to date).', (m) => m.lagSeconds],
      ['rcurepo_mirror_last_push_timestamp_seconds', 'When the last push that sent a snapshot completed (Unix time).', (m) => (m.lastPush ? Date.parse(m.lastPush.at) / 1000 : undefined)],
      ['rcurepo_mirror_last_push_duration_seconds', 'How long the last push that sent a snapshot took.', (m) => m.lastPush?.durationSeconds],
      ['rcurepo_mirror_last_push_sent_bytes', 'Bytes the last push sent (rsync statistics).', (m) => m.lastPush?.bytesSent],
      ['rcurepo_mirror_last_success_timestamp_seconds', 'When a push (or a check finding the mirror up to date) last succeeded (Unix time).', (m) => (m.lastSuccessAt ? Date.parse(m.lastSuccessAt) / 1000 : undefined)],
      ['rcurepo_mirror_failures', 'Failed push attempts since the last success (0: the last attempt succeeded).', (m) => m.failures],
    ];
    for (const [name, help, get] of perMirror) {
      family(name, 'gauge', help);
      for (const { labels, m } of mirrors) {
        const v = get(m);
        if (v !== null && v !== undefined && Number.isFinite(v)) out.push(`${name}{${labels}} ${round(v)}`);
      }
    }

    const gc = await readGcRecord(this.layout);
    const gcGauges: Array<[string, string, number | undefined]> = [
      ['rcurepo_gc_last_run_timestamp_seconds', 'When the last gc run started (Unix time).', gc ? Date.parse(gc.time) / 1000 : undefined],
      ['rcurepo_gc_last_duration_seconds', 'How long the last gc run took.', gc?.durationSeconds],
      ['rcurepo_gc_last_success', '1 if the last gc run succeeded, 0 if it failed.', gc ? (gc.outcome === 'ok' ? 1 : 0) : undefined],
      ['rcurepo_gc_last_success_timestamp_seconds', 'When gc last succeeded (Unix time).', gc?.lastSuccess ? Date.parse(gc.lastSuccess) / 1000 : undefined],
    ];
    for (const [name, help, v] of gcGauges) {
      family(name, 'gauge', help);
      if (v !== undefined) out.push(`${name} ${round(v)}`);
    }

    // A publish or a gc since the last count changes the pool: count again rather than show stale figures.
    const changedAt = Math.max(gc ? Date.parse(gc.time) + gc.durationSeconds * 1000 : 0, ...rows.map((r) => (r.lastPublish ?? 0) * 1000));
    const pool = await this.poolNow(changedAt);
    family('rcurepo_pool_blobs', 'gauge', 'Blobs in the content-addressed pool.');
    out.push(`rcurepo_pool_blobs ${pool.blobs}`);
    family('rcurepo_pool_bytes', 'gauge', 'Bytes of the blobs in the pool.');
    out.push(`rcurepo_pool_bytes ${pool.bytes}`);
    family('rcurepo_pool_scan_timestamp_seconds', 'gauge', 'When the pool figures were counted (they are refreshed at most once a minute).');
    out.push(`rcurepo_pool_scan_timestamp_seconds ${pool.at / 1000}`);
    return out.join('\n') + '\n';
  }

  private async repoRow(name: string): Promise<RepoRow> {
    const repo = this.layout.repo(name);
    const [current, snaps, hist, leases] = await Promise.all([readCurrent(repo), listSnapshots(repo), listHistory(repo), listLeases(this.layout, name).catch(() => [])]);
    const rec = current === undefined ? undefined : await readHistory(repo, current).catch(() => undefined);
    const settings = await readRepoConfig(repo).then((c) => c.settings, () => ({}));
    return {
      name,
      current,
      snapshots: snaps.length,
      publishes: hist.length,
      lastPublish: rec ? Date.parse(rec.time) / 1000 : undefined,
      publishDuration: rec?.durationSeconds,
      leases: leases.filter((l) => l.state === 'live').length,
      mirrors: await mirrorStatus(repo, settings, current).catch(() => []),
    };
  }

  /** Pool totals, counted at most once a minute (the first scrape waits for the count). */
  private async poolNow(changedAt: number): Promise<{ at: number; blobs: number; bytes: number }> {
    const stale = !this.pool || Date.now() - this.pool.at > POOL_REFRESH_MS || changedAt >= this.pool.at;
    if (stale && !this.poolRefresh) {
      this.poolRefresh = this.countPool()
        .then((p) => void (this.pool = p))
        .finally(() => (this.poolRefresh = undefined));
    }
    // Wait for the count when there is none, or when what we have predates a change (a scrape right after
    // a publish or gc must show it); otherwise answer with the last count while a new one runs.
    if (!this.pool || changedAt >= this.pool.at) await this.poolRefresh;
    return this.pool!;
  }

  private countPool(): Promise<PoolTotals> {
    return (this.poolCounter ??= new PoolCounter(this.layout.blobsDir)).count();
  }
}

interface RepoRow {
  name: string;
  current: number | undefined;
  snapshots: number;
  publishes: number;
  lastPublish: number | undefined;
  publishDuration: number | undefined;
  leases: number;
  mirrors: MirrorLag[];
}

/** A label value in the text format: backslash, double quote and newline escaped. */
function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function round(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(3);
}
