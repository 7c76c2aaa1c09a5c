/**
 * Distributions of a deb repository: the settings create-repo writes, and `add-dist`, which adds one and
 * publishes its (possibly empty) indexes in the same transaction that records it in repo.json.
 */
import { openBase, readRepoConfig } from '../engine/repo.js';
import type { TransactionResult } from '../engine/transaction.js';
import type { LockHolder } from '../engine/lock.js';
import { getFormat } from '../formats/registry.js';
import { RcuError } from '../util/errors.js';
import { publishingTransaction } from '../publish/after-publish.js';

export interface DebCreateOptions {
  dist?: string;
  suite?: string;
  components?: string;
  architectures?: string;
  origin?: string;
  label?: string;
  description?: string;
  flat?: boolean;
}

/** repo.json settings of a new deb repository. */
export async function debCreateSettings(o: DebCreateOptions): Promise<Record<string, unknown>> {
  const { makeDist, debSettings } = await import('../formats/deb/index.js');
  if (o.dist === undefined) throw new RcuError('USAGE', 'a deb repository needs --dist CODENAME (e.g. --dist bookworm)');
  const dist = makeDist({ codename: o.dist, suite: o.suite, components: o.components, architectures: o.architectures, origin: o.origin, label: o.label, description: o.description });
  const settings = { deb: { flat: !!o.flat, dists: [dist] } };
  try {
    debSettings(settings);
  } catch (e) {
    throw new RcuError('USAGE', (e as Error).message);
  }
  return settings;
}

export interface AddDistOptions extends DebCreateOptions {
  base: string;
  repo: string;
  dist: string;
  dryRun?: boolean;
  waitSeconds?: number;
  onWait?: (h: LockHolder | undefined) => void;
}

export async function addDist(opts: AddDistOptions): Promise<TransactionResult> {
  const { makeDist, debSettings } = await import('../formats/deb/index.js');
  const layout = await openBase(opts.base);
  const repo = layout.repo(opts.repo);
  const cfg = await readRepoConfig(repo);
  if (cfg.format !== 'deb') throw new RcuError('USAGE', `add-dist applies to deb repositories; '${opts.repo}' is ${cfg.format}`);
  if (opts.flat) throw new RcuError('USAGE', '--flat is chosen when the repository is created');
  const dist = makeDist({ codename: opts.dist, suite: opts.suite, components: opts.components, architectures: opts.architectures, origin: opts.origin, label: opts.label, description: opts.description });
  const format = await getFormat('deb');
  return publishingTransaction(
    { layout, repoName: opts.repo, format, operation: 'add-dist', args: [opts.dist], dryRun: opts.dryRun, waitSeconds: opts.waitSeconds, onWait: opts.onWait },
    async (state) => {
      const current = debSettings(state.config.settings);
      if (current.flat) throw new RcuError('USAGE', `'${opts.repo}' is a flat repository: it has exactly one distribution`);
      if (current.dists.some((d) => d.codename === dist.codename || d.suite === dist.suite || d.codename === dist.suite || d.suite === dist.codename)) {
        throw new RcuError('EXISTS', `'${opts.repo}' already has a distribution named ${dist.codename} or ${dist.suite}`);
      }
      const settings = { ...state.config.settings, deb: { ...current, dists: [...current.dists, dist] } };
      return { adds: [], removes: [], settings };
    },
  );
}
