/**
 * `mirror authorized-keys REPO NAME`: what the mirror's operator installs so that the push key can do
 * only what a push needs. One forced command per key (OpenSSH uses the first line that matches a key, so
 * one key cannot have two): the installed mirror script, which hands `rsync --server` uploads to rrsync
 * (write-only, confined to PATH/snapshots, `--link-dest=/PREV` form) and accepts nothing else but its
 * validated verbs (hello, lock, refresh, unlock, breaklock, activate GEN, prune).
 */
import fsp from 'node:fs/promises';
import type { MirrorConfig } from './mirror-config.js';
import { parseTarget } from './mirror-config.js';
import { REMOTE_SCRIPT } from './remote-script.js';
import { errnoCode, RcuError } from '../util/errors.js';

export const DEFAULT_SCRIPT_PATH = '/usr/local/lib/rcurepo/mirror.sh';

export interface AuthorizedKeys {
  mirror: string;
  path: string;
  scriptPath: string;
  /** The authorized_keys line(s). */
  lines: string[];
  /** Install steps for the mirror host, as comments. */
  notes: string[];
  script: string;
}

async function publicKey(identity: string | undefined): Promise<string> {
  if (!identity) return '<public key of the push key>';
  const pub = `${identity}.pub`;
  try {
    const text = (await fsp.readFile(pub, 'utf8')).trim();
    if (!/^(ssh-|ecdsa-|sk-)\S+ \S+/.test(text)) throw new RcuError('BAD_INPUT', `${pub}: not an OpenSSH public key`);
    return text.split('\n')[0]!;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return `<public key of ${identity} (${pub} is missing)>`;
    throw e;
  }
}

export async function authorizedKeys(mirror: MirrorConfig, scriptPath = DEFAULT_SCRIPT_PATH): Promise<AuthorizedKeys> {
  const t = parseTarget(mirror.to);
  if (!scriptPath.startsWith('/') || /[\s"'\\]/.test(scriptPath)) throw new RcuError('USAGE', `--script-path '${scriptPath}' must be an absolute path without spaces or quotes`);
  const key = await publicKey(mirror.identity);
  const lines = [`command="sh ${scriptPath} ${t.path}",restrict ${key}`];
  const notes = [
    `# On the mirror host (needs sshd, rsync with rrsync, and a POSIX sh):`,
    `#   install the script: rcurepo mirror authorized-keys REPO ${mirror.name} --script > ${scriptPath}`,
    `#   and add the line below to the push user's ~/.ssh/authorized_keys.`,
    `# Uploads are confined to ${t.path}/snapshots by rrsync (write-only); every other command is refused`,
    `# unless it is one of the script's verbs with plain arguments.${mirror.restricted ? '' : `\n# Then mark the mirror restricted: rcurepo mirror remove, then mirror add ... --restricted.`}`,
  ];
  return { mirror: mirror.name, path: t.path, scriptPath, lines, notes, script: REMOTE_SCRIPT };
}
