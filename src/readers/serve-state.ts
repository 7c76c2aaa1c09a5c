/**
 * What the HTTP server knows about repositories: which exist, their settings, generations still in
 * their grace period (for the missing-path fallback), and the per-client generation pins. Everything
 * is re-read at most once a second; `current` itself is read per request (readlink, never cached).
 * The `...Now` methods are the synchronous fast path of a request: they answer from memory (plus one
 * readlink) or say "take the slow path" (undefined).
 */
import fs from 'node:fs';
import type { Layout, RepoLayout } from '../engine/layout.js';
import { listSnapshots, readCurrent, readSuperseded } from '../engine/generations.js';
import { parseGeneration } from '../engine/layout.js';
import { readRepoConfig } from '../engine/repo.js';
import { RcuError, errnoCode, isRcuError } from '../util/errors.js';
import { settingsFrom } from './settings.js';
import type { ReaderSettings } from './settings.js';
import type { ServerLeases } from './server-leases.js';

const REFRESH_MS = 1000;

export interface RepoInfo {
  repo: RepoLayout;
  settings: ReaderSettings;
  graced?: { at: number; gens: number[] };
}

/** Checksum/signature companions: `X.sha1sum` then `X` must come from one generation. */
const COMPANION = /\.(sha1sum|sha256sum|sha512sum|md5sum|sha1|sha256|sha512|md5|sig|asc|gpg)$/;

interface Pin {
  gen: number;
  firstSeen: number;
  window: number;
}

export class ServeState {
  private repos = new Map<string, { p: Promise<RepoInfo | undefined>; at: number; done: boolean; v?: RepoInfo }>();
  private superseded = new Map<string, number | null>();
  private pins = new Map<string, Pin>();
  /** client, repo, path of the file a served companion describes -> the companion's generation. */
  private companions = new Map<string, Pin>();
  /**
   * A client's previous burst generation, kept one more window as a fallback for missing paths only: a
   * client busy fetching files of an index read just before its burst pin expired still finds them.
   */
  private previous = new Map<string, Pin>();
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
    const entry: { p: Promise<RepoInfo | undefined>; at: number; done: boolean; v?: RepoInfo } = { p, at: now, done: false };
    this.repos.set(name, entry);
    p.then(
      (v) => {
        entry.v = v;
        entry.done = true;
      },
      () => this.repos.delete(name),
    );
    return p;
  }

  /** The repository if it is known and fresh (loaded less than a second ago); else undefined: call repo(). */
  repoNow(name: string, now: number): RepoInfo | undefined {
    const c = this.repos.get(name);
    return c && c.done && now - c.at < REFRESH_MS ? c.v : undefined;
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
   * The generation a request without @GEN reads. If this client just fetched a checksum/signature of
   * this very path, the generation that companion came from (so the pair always agrees). Else the one
   * this client's burst started on, if the burst is younger than the window; else `current` now (a new
   * burst). Pins hold a server lease, so a pinned generation is never reaped under a client, and no pin
   * outlives the window.
   */
  async resolve(info: RepoInfo, client: string, relPath: string): Promise<number | undefined> {
    const now = Date.now();
    const fast = this.resolveNow(info, client, relPath, now);
    if (fast !== undefined) return fast;
    const ck = `${client}\0${info.repo.name}\0${relPath}`;
    const comp = this.companions.get(ck);
    if (comp && now - comp.firstSeen < comp.window) return comp.gen;
    const key = `${client}\0${info.repo.name}`;
    const pin = this.pins.get(key);
    if (pin && now - pin.firstSeen < pin.window) return pin.gen;
    const gen = await readCurrent(info.repo);
    if (gen === undefined) return undefined;
    if (pin) {
      this.unpin(this.previous, key);
      this.pins.delete(key); // its lease moves with it
      this.previous.set(key, { gen: pin.gen, firstSeen: now, window: pin.window });
    }
    const windowMs = info.settings.serveWindowSeconds * 1000;
    if (windowMs > 0 && (await this.leases.acquire(info.repo.name, gen))) {
      this.pins.set(key, { gen, firstSeen: now, window: windowMs });
    }
    return gen;
  }

  /**
   * resolve() without waiting: the companion's or the burst's generation while it holds, or (window 0,
   * no pins) `current` read now with one readlink. Undefined: a new burst starts, call resolve().
   */
  resolveNow(info: RepoInfo, client: string, relPath: string, now: number): number | undefined {
    if (this.companions.size > 0) {
      const comp = this.companions.get(`${client}\0${info.repo.name}\0${relPath}`);
      if (comp && now - comp.firstSeen < comp.window) return comp.gen;
    }
    if (info.settings.serveWindowSeconds <= 0) {
      if (this.pins.size > 0 && this.pins.has(`${client}\0${info.repo.name}`)) return undefined; // window just set to 0: let resolve() move the pin
      return readCurrentSync(info.repo);
    }
    const pin = this.pins.get(`${client}\0${info.repo.name}`);
    if (pin && now - pin.firstSeen < pin.window) return pin.gen;
    return undefined;
  }

  /**
   * After serving `relPath` from `gen`: if it is a companion, remember its generation for the file it
   * describes. The caller holds a lease on `gen`, so taking one more reference does not wait.
   */
  served(info: RepoInfo, client: string, relPath: string, gen: number): void {
    const windowMs = info.settings.serveWindowSeconds * 1000;
    if (windowMs <= 0) return;
    const m = COMPANION.exec(relPath);
    if (!m) return;
    const ck = `${client}\0${info.repo.name}\0${relPath.slice(0, m.index)}`;
    const old = this.companions.get(ck);
    if (old?.gen === gen) {
      old.firstSeen = Date.now(); // a fresh fetch of the companion: the pair's window starts again
      return;
    }
    const pinIt = () => {
      this.unpin(this.companions, ck);
      this.companions.set(ck, { gen, firstSeen: Date.now(), window: windowMs });
    };
    if (this.leases.tryAcquire(info.repo.name, gen)) return pinIt();
    void this.leases.acquire(info.repo.name, gen).then((ok) => ok && pinIt(), () => undefined);
  }

  /** Generations this client is pinned to in this repository (its burst, its checksum companions). */
  pinnedGenerations(client: string, repoName: string): number[] {
    const out = new Set<number>();
    for (const map of [this.pins, this.previous]) {
      const pin = map.get(`${client}\0${repoName}`);
      if (pin) out.add(pin.gen);
    }
    const prefix = `${client}\0${repoName}\0`;
    for (const [k, p] of this.companions) if (k.startsWith(prefix)) out.add(p.gen);
    return [...out].sort((a, b) => b - a);
  }

  /** Forget a client's pin (its generation went away). */
  drop(client: string, repoName: string, relPath: string): void {
    this.unpin(this.pins, `${client}\0${repoName}`);
    this.unpin(this.previous, `${client}\0${repoName}`);
    this.unpin(this.companions, `${client}\0${repoName}\0${relPath}`);
  }

  private unpin(map: Map<string, Pin>, key: string): void {
    const pin = map.get(key);
    if (!pin) return;
    map.delete(key);
    this.leases.release(key.split('\0')[1]!, pin.gen);
  }

  private expirePins(): void {
    const now = Date.now();
    for (const [k, p] of this.pins) {
      if (now - p.firstSeen < p.window) continue;
      // An expired burst pin becomes the client's fallback generation for one more window (lease kept).
      this.pins.delete(k);
      this.unpin(this.previous, k);
      this.previous.set(k, { gen: p.gen, firstSeen: now, window: p.window });
    }
    for (const map of [this.previous, this.companions]) for (const [k, p] of map) if (now - p.firstSeen >= p.window) this.unpin(map, k);
  }

  close(): void {
    clearInterval(this.timer);
    for (const map of [this.pins, this.previous, this.companions]) for (const k of [...map.keys()]) this.unpin(map, k);
  }
}

/** readCurrent() with a synchronous readlink (about 2 µs): "the generation current when the request arrives". */
function readCurrentSync(repo: RepoLayout): number | undefined {
  let target: string;
  try {
    target = fs.readlinkSync(repo.currentLink);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
  const gen = target.startsWith('snapshots/') ? parseGeneration(target.slice(10)) : undefined;
  if (gen === undefined) throw new RcuError('INTEGRITY', `${repo.currentLink} points to '${target}', not a snapshot`);
  return gen;
}
