/** `rcurepo lease acquire|renew|release|list`: operator leases on a generation. */
import { openBase } from '../engine/repo.js';
import { acquireLease, listLeases, releaseLease, renewLease } from '../readers/leases.js';
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
}

export type LeaseCommandResult =
  | { action: 'acquire' | 'renew'; id: string; repo: string; generation: number; path: string; expires: string; clamped: boolean }
  | { action: 'release'; id: string; released: boolean }
  | { action: 'list'; leases: LeaseListing[] };

export async function leaseCommand(o: LeaseCommandOptions): Promise<LeaseCommandResult> {
  const layout = await openBase(o.base);
  const need = (what: string) => {
    const v = o.args[0];
    if (!v) throw new RcuError('USAGE', `lease ${o.action} needs ${what}`);
    return v;
  };
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
