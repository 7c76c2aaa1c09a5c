/** `rcurepo lease acquire|renew|release|list`: operator leases on a generation. */
import { openBase } from '../engine/repo.js';
import type { Layout } from '../engine/layout.js';
import { readRepoConfig } from '../engine/repo.js';
import { readCurrent } from '../engine/generations.js';
import { acquireLease, generationUsable, listLeases, liveness, maxTtl, readLease, releaseLease, renewLease } from '../readers/leases.js';
import { DEFAULT_LEASE_TTL } from '../readers/settings.js';
import type { LeaseListing } from '../readers/leases.js';
import { RcuError } from '../util/errors.js';

export interface LeaseCommandOptions {
  base: string;
  action: string;
  args: string[];
  gen?: number;
  ttl?: number;
  holder?: string;
  pid?: number;
  /** Say what would be leased, renewed or released; create, change or remove no lease. */
  dryRun?: boolean;
}

export type LeaseCommandResult =
  | { action: 'acquire' | 'renew'; id: string; repo: string; generation: number; path: string; expires: string; clamped: boolean }
  | { action: 'release'; id: string; released: boolean }
  | { action: 'list'; leases: LeaseListing[] };

export async function leaseCommand(o: LeaseCommandOptions): Promise<LeaseCommandResult & { dryRun?: boolean }> {
  const layout = await openBase(o.base);
  const need = (what: string) => {
    const v = o.args[0];
    if (!v) throw new RcuError('USAGE', `lease ${o.action} needs ${what}`);
    return v;
  };
  if (o.dryRun && o.action !== 'list') return { ...(await leasePreview(layout, o, need)), dryRun: true };
  switch (o.action) {
    case 'acquire': {
      const repo = need('REPO');
      const r = await acquireLease(layout, repo, { gen: o.gen, ttlSeconds: o.ttl, holder: o.holder, pid: o.pid });
      return { action: 'acquire', id: r.record.id, repo, generation: r.record.generation, path: r.path, expires: r.record.expires, clamped: r.clamped };
    }
    case 'renew': {
      const r = await renewLease(layout, need('ID'), o.ttl);
      return { action: 'renew', id: r.record.id, repo: r.record.repo, generation: r.record.generation, path: r.path, expires: r.record.expires, clamped: r.clamped };
    }
    case 'release': {
      const id = need('ID');
      return { action: 'release', id, ...(await releaseLease(layout, id)) };
    }
    case 'list':
      return { action: 'list', leases: await listLeases(layout, o.args[0]) };
    default:
      throw new RcuError('USAGE', `lease takes acquire, renew, release or list, not '${o.action}'`);
  }
}

/** --dry-run: the checks the action makes and the answer it would give, without touching a lease file. */
async function leasePreview(layout: Layout, o: LeaseCommandOptions, need: (what: string) => string): Promise<LeaseCommandResult> {
  const ttlOf = async (max: number) => {
    const ttl = o.ttl ?? Math.min(DEFAULT_LEASE_TTL, max);
    if (!(ttl > 0)) throw new RcuError('USAGE', `--ttl must be a positive number of seconds`);
    return { ttl: Math.min(ttl, max), clamped: ttl > max };
  };
  switch (o.action) {
    case 'acquire': {
      const name = need('REPO');
      const repo = layout.repo(name);
      await readRepoConfig(repo);
      const { ttl, clamped } = await ttlOf(await maxTtl(repo));
      const gen = o.gen ?? (await readCurrent(repo));
      if (gen === undefined) throw new RcuError('NOT_FOUND', `repository '${name}' has no current snapshot`);
      if (!(await generationUsable(repo, gen))) throw new RcuError('NOT_FOUND', `generation ${gen} of '${name}' is reaped or being reaped`);
      return { action: 'acquire', id: `${name}.${gen}.(new)`, repo: name, generation: gen, path: repo.snapshotDir(gen), expires: new Date(Date.now() + ttl * 1000).toISOString(), clamped };
    }
    case 'renew': {
      const { rec, repo } = await readLease(layout, need('ID'));
      const state = liveness(rec);
      if (state !== 'live') throw new RcuError('NOT_FOUND', `lease ${rec.id} is ${state === 'expired' ? 'expired' : 'dead (holder gone)'}; acquire a new one`);
      const { ttl, clamped } = await ttlOf(await maxTtl(repo));
      return { action: 'renew', id: rec.id, repo: rec.repo, generation: rec.generation, path: repo.snapshotDir(rec.generation), expires: new Date(Date.now() + ttl * 1000).toISOString(), clamped };
    }
    case 'release': {
      const id = need('ID');
      const held = await readLease(layout, id).then(
        () => true,
        (e: unknown) => {
          if (e instanceof RcuError && e.code === 'NOT_FOUND') return false;
          throw e;
        },
      );
      return { action: 'release', id, released: held };
    }
    default:
      throw new RcuError('USAGE', `lease takes acquire, renew, release or list, not '${o.action}'`);
  }
}
