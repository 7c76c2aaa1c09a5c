/**
 * Mirror definitions: where a repository's snapshots are pushed. Kept in repo.json under
 * settings.mirrors (configuration, edited under the writer lock like the other settings); what happened
 * at the last push is state, kept apart in meta/mirrors/ (mirror-state.ts).
 */
import path from 'node:path';
import type { RepoLayout } from '../engine/layout.js';
import { RcuError } from '../util/errors.js';
import { MIRROR_NAME, mirrorsMetaDir } from '../readers/mirror-status.js';

export { mirrorsMetaDir, mirrorStateFile } from '../readers/mirror-status.js';

export const MIRRORS_SETTING = 'mirrors';
export const DEFAULT_MIRROR_KEEP = 3;
export const DEFAULT_MIRROR_GRACE_SECONDS = 3600;

export type MirrorTarget =
  | { kind: 'local'; path: string }
  | { kind: 'ssh'; user: string; host: string; port: number; path: string };

export interface MirrorConfig {
  name: string;
  /** As the operator gave it: ssh://USER@HOST[:PORT]/PATH or /local/path. */
  to: string;
  keep: number;
  graceSeconds: number;
  /** Private key for ssh (`ssh -i`); default: the pushing user's keys. */
  identity?: string;
  /** The key is restricted by `mirror authorized-keys` lines: verbs go through the installed script, uploads through rrsync. */
  restricted?: boolean;
  /** Extra `ssh -o` options, e.g. UserKnownHostsFile=/etc/rcurepo/known_hosts. */
  sshOptions?: string[];
  added?: string;
}

/** Characters allowed in a mirror PATH: it travels through a remote shell and rsync's argument parsing. */
const SAFE_PATH = /^\/[A-Za-z0-9._+@,=:/-]*$/;
const SAFE_USER = /^[A-Za-z0-9._][A-Za-z0-9._-]{0,63}$/;
const SAFE_HOST = /^([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]+\])$/;
const SAFE_SSH_OPTION = /^[A-Za-z]+=[A-Za-z0-9._+@,:/~-]+$/;

export function validateMirrorName(name: string): string {
  if (!MIRROR_NAME.test(name)) throw new RcuError('USAGE', `invalid mirror name '${name}': use 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit`);
  return name;
}

function checkPath(p: string, to: string): string {
  const norm = path.posix.normalize(p).replace(/\/+$/, '') || '/';
  if (!SAFE_PATH.test(norm) || norm === '/' || norm.split('/').includes('..')) {
    throw new RcuError('USAGE', `mirror path '${p}' (from '${to}') must be an absolute path other than / made of A-Z a-z 0-9 . _ + @ , = : / -`);
  }
  return norm;
}

/** Parse `--to`: `ssh://USER@HOST[:PORT]/PATH` or an absolute local path. */
export function parseTarget(to: string): MirrorTarget {
  if (to.startsWith('ssh://')) {
    const m = /^ssh:\/\/([^@/]+)@(\[[^\]]+\]|[^:/]+)(?::([0-9]{1,5}))?(\/.*)$/.exec(to);
    if (!m) throw new RcuError('USAGE', `mirror target '${to}' is not ssh://USER@HOST[:PORT]/PATH`);
    const [, user, host, port, p] = m;
    if (!SAFE_USER.test(user!)) throw new RcuError('USAGE', `mirror target '${to}': invalid user name '${user}'`);
    if (!SAFE_HOST.test(host!)) throw new RcuError('USAGE', `mirror target '${to}': invalid host '${host}'`);
    const portNum = port === undefined ? 22 : Number(port);
    if (!(portNum >= 1 && portNum <= 65535)) throw new RcuError('USAGE', `mirror target '${to}': port must be 1-65535`);
    return { kind: 'ssh', user: user!, host: host!, port: portNum, path: checkPath(p!, to) };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(to)) throw new RcuError('USAGE', `mirror target '${to}': only ssh:// and local absolute paths are supported`);
  if (!to.startsWith('/')) throw new RcuError('USAGE', `mirror target '${to}' must be ssh://USER@HOST[:PORT]/PATH or an absolute local path`);
  return { kind: 'local', path: checkPath(to, to) };
}

export function describeTarget(t: MirrorTarget): string {
  return t.kind === 'local' ? t.path : `ssh://${t.user}@${t.host}${t.port === 22 ? '' : `:${t.port}`}${t.path}`;
}

export function validateSshOption(o: string): string {
  if (!SAFE_SSH_OPTION.test(o)) throw new RcuError('USAGE', `--ssh-option '${o}' must look like Name=value (e.g. UserKnownHostsFile=/etc/rcurepo/known_hosts)`);
  return o;
}

function asInt(v: unknown, dflt: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : dflt;
}

/** The mirrors of a repository from its settings; a malformed entry is refused (so `mirror list` shows the problem). */
export function parseMirrors(settings: Record<string, unknown>): MirrorConfig[] {
  const v = settings[MIRRORS_SETTING];
  if (v === undefined) return [];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new RcuError('INTEGRITY', `settings.${MIRRORS_SETTING} must be an object of mirrors by name`);
  return Object.entries(v as Record<string, Partial<MirrorConfig>>)
    .map(([name, m]) => {
      if (typeof m?.to !== 'string') throw new RcuError('INTEGRITY', `settings.${MIRRORS_SETTING}.${name} has no 'to'`);
      parseTarget(m.to);
      return {
        name,
        to: m.to,
        keep: Math.max(1, asInt(m.keep, DEFAULT_MIRROR_KEEP)),
        graceSeconds: asInt(m.graceSeconds, DEFAULT_MIRROR_GRACE_SECONDS),
        ...(typeof m.identity === 'string' ? { identity: m.identity } : {}),
        ...(m.restricted ? { restricted: true } : {}),
        ...(Array.isArray(m.sshOptions) ? { sshOptions: m.sshOptions.filter((o): o is string => typeof o === 'string') } : {}),
        ...(typeof m.added === 'string' ? { added: m.added } : {}),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Whether a repository has mirrors (the after-publish push is enabled by this). */
export function hasMirrors(settings: Record<string, unknown>): boolean {
  const v = settings[MIRRORS_SETTING];
  return typeof v === 'object' && v !== null && Object.keys(v).length > 0;
}

export function findMirror(mirrors: MirrorConfig[], repoName: string, name: string): MirrorConfig {
  const m = mirrors.find((x) => x.name === name);
  if (!m) throw new RcuError('NOT_FOUND', `repository '${repoName}' has no mirror named '${name}'${mirrors.length ? ` (it has: ${mirrors.map((x) => x.name).join(', ')})` : ''}`);
  return m;
}

/** The per-mirror push lock, next to the mirror's state in meta/mirrors/. */
export function mirrorLockTarget(repo: RepoLayout, name: string): string {
  return path.join(mirrorsMetaDir(repo), `${name}.push`);
}
/** The process group of a running upload (so the next pusher can stop what a killed one left running). */
export function mirrorUploadFile(repo: RepoLayout, name: string): string {
  return path.join(mirrorsMetaDir(repo), `${name}.upload`);
}
