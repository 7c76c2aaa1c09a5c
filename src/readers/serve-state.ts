/**
 * What the HTTP server knows about repositories: which exist, their settings, generations still in
 * their grace period (for the missing-path fallback), and the per-client generation pins. Everything
 * is re-read at most once a second; `current` itself is read per request.
 */
import type { Layout, RepoLayout } from '../engine/layout.js';
import { listSnapshots, readCurrent, readSuperseded } from '../engine/generations.js';
import { readRepoConfig } from '../engine/repo.js';
import { isRcuError } from '../util/errors.js';
import { settingsFrom } from './settings.js';
import type { ReaderSettings } from './settings.js';
import type { ServerLeases } from './server-leases.js';

const REFRESH_MS = 1000;

interface RepoInfo {
  repo: RepoLayout;
  settings: ReaderSettings;
  graced?: { at: number; gens: number[] };
}

interface Pin {
  gen: number;
  firstSeen: number;
  window: number;
}

export class ServeState {
  private repos = new Map<string, { p: Promise<RepoInfo | undefined>; at: number }>();
  private superseded = new Map<string, number | null>();
  private pins = new Map<string, Pin>();
  private timer: NodeJS.Timeout;

  constructor(
    private readonly layout: Layout,
    private readonly leases: ServerLeases,
  ) {
    this.timer = setInterval(() => this.expirePins(), 500);
    this.timer.unref();
  }

  /** The repository, or undefined when there is none by that name. */
  repo(name: string): Promise<RepoInfo | undefined> {
    const c = this.repos.get(name);
    const now = Date.now();
    if (c && now - c.at < REFRESH_MS) return c.p;
    if (this.repos.size > 1000) this.repos.clear(); // unknown names must not grow the map without bound
    const p = this.load(name);
    this.repos.set(name, { p, at: now });
    p.catch(() => this.repos.delete(name));
    return p;
  }

  private async load(name: string): Promise<RepoInfo | undefined> {
    let repo: RepoLayout;
    try {
      repo = this.layout.repo(name);
      return { repo, settings: settingsFrom((await readRepoConfig(repo)).settings) };
    } catch (e) {
      if (isRcuError(e, 'USAGE') || isRcuError(e, 'NOT_FOUND')) return undefined;
      throw e;
    }
  }

  /** Generations older than current still inside their grace period, newest first. */
  async graced(info: RepoInfo, current: number): Promise<number[]> {
    const now = Date.now();
    if (info.graced && now - info.graced.at < REFRESH_MS) return info.graced.gens;
    const out: number[] = [];
    for (const gen of (await listSnapshots(info.repo)).reverse()) {
      if (gen >= current) continue;
      const k = `${info.repo.name}\0${gen}`;
      let at = this.superseded.get(k);
      if (at === undefined) {
        at = (await readSuperseded(info.repo, gen))?.getTime() ?? null;
        if (at !== null) this.superseded.set(k, at); // written once; absent may still appear
      }
      // Unknown supersede time: the reaper treats it as "now", so it is inside its grace period.
      if (at === null || now - at < info.settings.graceSeconds * 1000) out.push(gen);
    }
    if (this.superseded.size > 10_000) this.superseded.clear();
    info.graced = { at: now, gens: out };
    return out;
  }

  /**
   * The generation a request without @GEN reads: the one this client's burst started on, if the burst
   * is younger than the window, else `current` now (which starts a new burst). Pins hold a server
   * lease, so a pinned generation is never reaped under a client.
   */
  async resolve(info: RepoInfo, client: string): Promise<number | undefined> {
    const key = `${client}\0${info.repo.name}`;
    const pin = this.pins.get(key);
    const now = Date.now();
    if (pin && now - pin.firstSeen < pin.window) return pin.gen;
    const gen = await readCurrent(info.repo);
    if (gen === undefined) return undefined;
    this.unpin(key);
    const windowMs = info.settings.serveWindowSeconds * 1000;
    if (windowMs > 0 && (await this.leases.acquire(info.repo.name, gen))) {
      this.pins.set(key, { gen, firstSeen: now, window: windowMs });
    }
    return gen;
  }

  /** Forget a client's pin (its generation went away). */
  drop(client: string, repoName: string): void {
    this.unpin(`${client}\0${repoName}`);
  }

  private unpin(key: string): void {
    const pin = this.pins.get(key);
    if (!pin) return;
    this.pins.delete(key);
    this.leases.release(key.slice(key.indexOf('\0') + 1), pin.gen);
  }

  private expirePins(): void {
    const now = Date.now();
    for (const [k, p] of this.pins) if (now - p.firstSeen >= p.window) this.unpin(k);
  }

  close(): void {
    clearInterval(this.timer);
    for (const k of [...this.pins.keys()]) this.unpin(k);
  }
}
