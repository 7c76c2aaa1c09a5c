/**
 * `rcurepo mirror add|list|remove|push|status|authorized-keys`: mirrors of a repository. Definitions live
 * in repo.json (settings.mirrors) and change under the writer lock, like every other setting; pushes and
 * their state are in src/distribution/.
 */
import { listHistory, readCurrent } from '../engine/generations.js';
import { listRepoNames, openBase, readRepoConfig } from '../engine/repo.js';
import { authorizedKeys } from '../distribution/authorized-keys.js';
import type { AuthorizedKeys } from '../distribution/authorized-keys.js';
import type { MirrorConfig } from '../distribution/mirror-config.js';
import {
  DEFAULT_MIRROR_GRACE_SECONDS,
  DEFAULT_MIRROR_KEEP,
  describeTarget,
  findMirror,
  MIRRORS_SETTING,
  parseMirrors,
  parseTarget,
  validateMirrorName,
  validateSshOption,
} from '../distribution/mirror-config.js';
import { lagOf, readMirrorState } from '../readers/mirror-status.js';
import type { MirrorState } from '../readers/mirror-status.js';
import { pushRepo } from '../distribution/push-repo.js';
import type { PushOutcome } from '../distribution/push.js';
import { RcuError } from '../util/errors.js';
import { updateSettings, withSetting } from './settings-update.js';
import type { LockWait } from './settings-update.js';

interface Locked extends LockWait {
  base: string;
  repo: string;
}

async function editMirrors(o: Locked, operation: string, edit: (m: Record<string, unknown>) => void): Promise<void> {
  const layout = await openBase(o.base);
  const repo = layout.repo(o.repo);
  await readRepoConfig(repo); // NOT_FOUND before waiting for a lock
  await updateSettings(repo, operation, o, (settings) => {
    parseMirrors(settings); // refuse to build on a malformed setting
    const mirrors = { ...((settings[MIRRORS_SETTING] as Record<string, unknown> | undefined) ?? {}) };
    edit(mirrors);
    return withSetting(settings, MIRRORS_SETTING, Object.keys(mirrors).length === 0 ? undefined : mirrors);
  });
}

export interface AddMirrorOptions extends Locked {
  name: string;
  to: string;
  keep?: number;
  graceSeconds?: number;
  identity?: string;
  restricted?: boolean;
  sshOptions?: string[];
}

export async function addMirror(o: AddMirrorOptions): Promise<{ repo: string; mirror: MirrorConfig }> {
  validateMirrorName(o.name);
  const target = parseTarget(o.to);
  if (o.keep !== undefined && !(Number.isInteger(o.keep) && o.keep >= 1)) throw new RcuError('USAGE', '--keep must be a whole number of at least 1');
  if (o.graceSeconds !== undefined && !(Number.isInteger(o.graceSeconds) && o.graceSeconds >= 0)) throw new RcuError('USAGE', '--grace must be a whole number of seconds');
  if (target.kind === 'local' && (o.identity || o.restricted || o.sshOptions?.length)) throw new RcuError('USAGE', '--identity, --restricted and --ssh-option apply to ssh:// mirrors only');
  if (o.identity && (!o.identity.startsWith('/') || /[\s"]/.test(o.identity))) throw new RcuError('USAGE', `--identity '${o.identity}' must be an absolute path without spaces or quotes`);
  const mirror: MirrorConfig = {
    name: o.name,
    to: describeTarget(target),
    keep: o.keep ?? DEFAULT_MIRROR_KEEP,
    graceSeconds: o.graceSeconds ?? DEFAULT_MIRROR_GRACE_SECONDS,
    ...(o.identity ? { identity: o.identity } : {}),
    ...(o.restricted ? { restricted: true } : {}),
    ...(o.sshOptions?.length ? { sshOptions: o.sshOptions.map(validateSshOption) } : {}),
    added: new Date().toISOString(),
  };
  await editMirrors(o, 'mirror add', (mirrors) => {
    if (o.name in mirrors) throw new RcuError('EXISTS', `repository '${o.repo}' already has a mirror named '${o.name}' (remove it first)`);
    const { name: _name, ...stored } = mirror;
    mirrors[o.name] = stored;
  });
  return { repo: o.repo, mirror };
}

export async function removeMirror(o: Locked & { name: string }): Promise<{ repo: string; removed: string }> {
  await editMirrors(o, 'mirror remove', (mirrors) => {
    findMirror(parseMirrors({ [MIRRORS_SETTING]: mirrors }), o.repo, o.name);
    delete mirrors[o.name];
  });
  return { repo: o.repo, removed: o.name };
}

export async function listMirrors(o: { base: string; repo?: string }): Promise<{ mirrors: Array<MirrorConfig & { repo: string }> }> {
  const layout = await openBase(o.base);
  const names = o.repo ? [o.repo] : await listRepoNames(layout);
  const out: Array<MirrorConfig & { repo: string }> = [];
  for (const name of names) {
    const cfg = await readRepoConfig(layout.repo(name));
    for (const m of parseMirrors(cfg.settings)) out.push({ repo: name, ...m });
  }
  return { mirrors: out };
}

export async function pushMirrors(o: { base: string; repo: string; names?: string[]; gen?: number; waitSeconds: number; retrySeconds?: number; background?: boolean; onWait?: (mirror: string, what: string) => void }): Promise<{ repo: string; outcomes: PushOutcome[] }> {
  const layout = await openBase(o.base);
  return pushRepo(layout, o.repo, { names: o.names, gen: o.gen, waitSeconds: o.waitSeconds, retrySeconds: o.retrySeconds, background: o.background, onWait: o.onWait });
}

export interface MirrorStatus {
  repo: string;
  mirror: string;
  to: string;
  current: number | undefined;
  served: number | undefined;
  /** Generations published since the one the mirror serves (0 = up to date). */
  behind: number | undefined;
  /** When the oldest generation the mirror lacks was published. */
  behindSince?: string;
  state: MirrorState;
}

export async function mirrorStatus(o: { base: string; repo?: string }): Promise<{ mirrors: MirrorStatus[] }> {
  const layout = await openBase(o.base);
  const names = o.repo ? [o.repo] : await listRepoNames(layout);
  const out: MirrorStatus[] = [];
  for (const name of names) {
    const repo = layout.repo(name);
    const cfg = await readRepoConfig(repo);
    const current = await readCurrent(repo);
    const history = await listHistory(repo);
    for (const m of parseMirrors(cfg.settings)) {
      const state = await readMirrorState(repo, m.name);
      const served = state.served;
      let behind: number | undefined;
      let behindSince: string | undefined;
      if (current !== undefined) {
        // The same lag the repository page and /metrics show (readers/mirror-status.ts).
        const lag = await lagOf(repo, served, current, history);
        behind = served === undefined ? undefined : lag.generations;
        behindSince = lag.since;
      }
      out.push({ repo: name, mirror: m.name, to: m.to, current, served, behind, ...(behind ? { behindSince } : {}), state });
    }
  }
  return { mirrors: out };
}

export async function mirrorAuthorizedKeys(o: { base: string; repo: string; name: string; scriptPath?: string }): Promise<AuthorizedKeys> {
  const layout = await openBase(o.base);
  const cfg = await readRepoConfig(layout.repo(o.repo));
  const m = findMirror(parseMirrors(cfg.settings), o.repo, o.name);
  if (parseTarget(m.to).kind !== 'ssh') throw new RcuError('USAGE', `mirror '${o.name}' of '${o.repo}' is a local path: no ssh key to restrict`);
  return authorizedKeys(m, o.scriptPath);
}
