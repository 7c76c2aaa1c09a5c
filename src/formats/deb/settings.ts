/**
 * A deb repository's configuration, kept in repo.json under settings.deb (where eopkg keeps its index
 * settings): its distributions, each with components and architectures, Release fields, and the layout.
 * Set by create-repo and add-dist; read by place() and writeIndexes().
 */
import { RcuError } from '../../util/errors.js';
import { ARCH_NAME } from './control.js';

export interface DistConfig {
  codename: string;
  /** Suite (e.g. stable); defaults to the codename. */
  suite: string;
  components: string[];
  architectures: string[];
  origin?: string;
  label?: string;
  description?: string;
  /**
   * Origin/Label/Codename values an operator accepted as a deliberate change (clients then need
   * `apt-get update --allow-releaseinfo-change` once); any other change is refused at publish.
   */
  acceptedReleaseInfo?: Record<string, string>;
}

export interface DebSettings {
  /** Flat layout: Packages and Release at the tree root (one distribution, one component). */
  flat: boolean;
  dists: DistConfig[];
}

const CODENAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const COMPONENT = /^[a-z0-9][a-z0-9._-]*$/;
/** Release field values are one line of printable text. */
const ONE_LINE = /^[^\n\r]*$/;

function list(v: unknown, what: string, re: RegExp): string[] {
  const items = (Array.isArray(v) ? v.map(String) : String(v ?? '').split(/[,\s]+/)).map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new RcuError('USAGE', `${what}: at least one name is needed`);
  for (const i of items) if (!re.test(i)) throw new RcuError('USAGE', `${what}: '${i}' is not a valid name`);
  if (new Set(items).size !== items.length) throw new RcuError('USAGE', `${what}: a name is listed twice`);
  return items;
}

function text(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const s = String(v);
  if (!ONE_LINE.test(s) || s.trim() !== s) throw new RcuError('USAGE', `${what}: must be one line without surrounding spaces`);
  return s;
}

/** Build and validate one distribution's configuration from command options. */
export function makeDist(o: { codename: string; suite?: string; components?: unknown; architectures?: unknown; origin?: unknown; label?: unknown; description?: unknown }): DistConfig {
  if (!CODENAME.test(o.codename)) throw new RcuError('USAGE', `--dist '${o.codename}' is not a valid codename (letters, digits, . _ -)`);
  const suite = o.suite === undefined || o.suite === '' ? o.codename : String(o.suite);
  if (!CODENAME.test(suite)) throw new RcuError('USAGE', `--suite '${suite}' is not a valid suite name`);
  const architectures = list(o.architectures ?? 'amd64', '--architectures', ARCH_NAME);
  if (architectures.includes('all')) throw new RcuError('USAGE', "--architectures: 'all' is not an index architecture (Architecture: all packages appear in every architecture's index)");
  const d: DistConfig = { codename: o.codename, suite, components: list(o.components ?? 'main', '--components', COMPONENT), architectures };
  const origin = text(o.origin, '--origin');
  const label = text(o.label, '--label');
  const description = text(o.description, '--description');
  if (origin !== undefined) d.origin = origin;
  if (label !== undefined) d.label = label;
  if (description !== undefined) d.description = description;
  return d;
}

/** The deb settings of a repository; a fault here is a damaged repo.json. */
export function debSettings(settings: Record<string, unknown>): DebSettings {
  const raw = settings.deb as Partial<DebSettings> | undefined;
  if (!raw || !Array.isArray(raw.dists) || raw.dists.length === 0) {
    throw new RcuError('FAILURE', "repository settings have no deb distributions (settings.deb.dists in repo.json; create the repository with 'create-repo NAME --format deb --dist CODENAME')");
  }
  const dists = raw.dists.map((d) => {
    const dist = makeDist(d as DistConfig);
    const acc = (d as DistConfig).acceptedReleaseInfo;
    if (acc && typeof acc === 'object') dist.acceptedReleaseInfo = Object.fromEntries(Object.entries(acc).filter(([, v]) => typeof v === 'string'));
    return dist;
  });
  if (new Set(dists.map((d) => d.codename)).size !== dists.length) throw new RcuError('FAILURE', 'settings.deb.dists: a codename is listed twice');
  if (new Set(dists.map((d) => d.suite)).size !== dists.length) throw new RcuError('FAILURE', 'settings.deb.dists: a suite is listed twice');
  const flat = raw.flat === true;
  if (flat && (dists.length !== 1 || dists[0]!.components.length !== 1)) throw new RcuError('FAILURE', 'a flat deb repository has exactly one distribution with one component');
  return { flat, dists };
}

/** The distribution `name` (codename or suite), or the first one. */
export function pickDist(s: DebSettings, name: string | undefined): DistConfig {
  if (name === undefined) return s.dists[0]!;
  const d = s.dists.find((x) => x.codename === name || x.suite === name);
  if (!d) throw new RcuError('USAGE', `no distribution '${name}' (known: ${s.dists.map((x) => x.codename).join(', ')})`);
  return d;
}
