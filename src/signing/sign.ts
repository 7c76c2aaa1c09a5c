/**
 * What formats call inside a transaction, on files of the staging tree: make signatures with every
 * configured key in one gpg call per signature file, and write them by temporary name + rename. The
 * staging clone may hold the parent's signature file as a hard link to the parent snapshot's inode: the
 * rename replaces that link and never writes through it. Any failure throws RcuError('FAILURE') naming
 * the keys and the reason, before the transaction publishes anything.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { RcuError } from '../util/errors.js';
import { tmpName } from '../util/fsx.js';
import { gpgSays, runGpg } from './gpg.js';
import { describeState, inspectKeys } from './keys.js';
import { describeKeys } from './settings.js';
import type { SigningSettings } from './settings.js';

/**
 * - `detached`: binary detached signature (`.gpg`: SHA256SUMS.gpg)
 * - `detached-armored`: ASCII-armored detached signature (`.asc`, Debian's Release.gpg)
 * - `clearsigned`: the text with its signature inline (Debian's InRelease)
 */
export type SignatureKind = 'detached' | 'detached-armored' | 'clearsigned';

export interface SignJob {
  /** The file to sign (absolute path, usually in staging). */
  source: string;
  /** The signature file to write (absolute path; replaced by rename). */
  target: string;
  kind: SignatureKind;
}

const KIND_ARGS: Record<SignatureKind, string[]> = {
  detached: ['--detach-sign'],
  'detached-armored': ['--armor', '--detach-sign'],
  clearsigned: ['--clearsign'],
};

/** Sign every job (in parallel: one gpg process each). Resolves when all signature files are in place. */
export async function signFiles(s: SigningSettings, jobs: readonly SignJob[]): Promise<void> {
  const results = await Promise.allSettled(jobs.map((j) => signOne(s, j)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Sign one file; see signFiles. */
export async function signFile(s: SigningSettings, job: SignJob): Promise<void> {
  await signOne(s, job);
}

async function signOne(s: SigningSettings, job: SignJob): Promise<void> {
  const bytes = await signatureBytes(s, ['--output', '-', ...KIND_ARGS[job.kind], job.source], path.basename(job.source));
  const dir = path.dirname(job.target);
  const tmp = tmpName(dir, path.basename(job.target));
  try {
    await fsp.writeFile(tmp, bytes, { flag: 'wx', mode: 0o644 });
    // Durability comes from the transaction's filesystem sync before publishing.
    await fsp.rename(tmp, job.target);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}

/**
 * A test signature of a few bytes in memory: proves, before a transaction writes anything, that gpg runs
 * and every configured key signs now (present, not expired or revoked, no passphrase needed).
 */
export async function checkCanSign(s: SigningSettings): Promise<void> {
  await signatureBytes(s, ['--output', '-', '--detach-sign'], 'a test text', Buffer.from('rcurepo signing check\n'));
}

/** Run one signing gpg call with all keys; return its output or throw the reason. */
async function signatureBytes(s: SigningSettings, args: string[], what: string, input?: Buffer): Promise<Buffer> {
  const users = s.keys.flatMap((k) => ['--local-user', k]);
  let r;
  try {
    r = await runGpg([...users, ...args], { home: s.gnupgHome, timeoutMs: s.timeoutMs, input });
  } catch (e) {
    throw new RcuError('FAILURE', `signing ${what} with ${describeKeys(s)} failed: ${(e as Error).message}`, { cause: e });
  }
  if (r.timedOut) throw new RcuError('FAILURE', `signing ${what} with ${describeKeys(s)} failed: gpg did not finish within ${s.timeoutMs / 1000} s and was killed (signTimeoutSeconds)`);
  const made = new Set(r.status.filter((l) => l.startsWith('SIG_CREATED ')).map((l) => l.split(' ')[6]?.toUpperCase()));
  if (r.code === 0 && r.stdout.length > 0 && made.size >= s.keys.length) return r.stdout;
  throw new RcuError('FAILURE', `signing ${what} with ${describeKeys(s)} failed: ${await reasonOf(s, r.status, r.stderr, r.signal)}`, {
    details: [`gpg: ${gpgSays(r.stderr)}`],
  });
}

/** Why a signing call failed, in words an operator can act on: per-key state first, then gpg's status. */
async function reasonOf(s: SigningSettings, status: string[], stderr: string, signal: NodeJS.Signals | null): Promise<string> {
  if (signal) return `gpg was killed by ${signal}`;
  let keys: Awaited<ReturnType<typeof inspectKeys>> | undefined;
  try {
    keys = await inspectKeys(s);
  } catch {
    /* fall back to gpg's status */
  }
  const bad = keys?.filter((k) => k.state !== 'usable') ?? [];
  if (bad.length) return bad.map((k) => `key ${k.fingerprint} is ${describeState(k)}`).join('; ');
  const failure = status.find((l) => l.startsWith('FAILURE ') || l.startsWith('ERROR '));
  // 67108949 / 67109041: GPG_ERR_NO_PIN_ENTRY / GPG_ERR_NO_PASSPHRASE from the agent.
  if (/No pinentry|No passphrase|Inappropriate ioctl/i.test(stderr) || (failure && /6710(8949|9041)/.test(failure))) {
    return `a key needs a passphrase, and signing never prompts: use a key without a passphrase for publishing (see 'rcurepo keys init-key'), or preset it in gpg-agent`;
  }
  if (/No secret key/i.test(stderr)) return 'a secret key is missing';
  return gpgSays(stderr);
}
