/**
 * Check signature files the way clients do: gpgv against a keyring holding exactly the configured public
 * keys (exported from the signing home); a signature passes when it is valid and made by a configured key.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { errnoCode } from '../util/errors.js';
import { gpgSays, runGpg } from './gpg.js';
import { exportPublicKeys } from './keys.js';
import type { SignJob } from './sign.js';
import type { SigningSettings } from './settings.js';

/**
 * Faults of each job's signature (empty = all verify): missing file, bad or unknown signature, no
 * configured key among the signers, a clearsigned text that differs from its source.
 * `label` prefixes the messages (e.g. 'gen 7').
 */
export async function verifySignatures(s: SigningSettings, jobs: readonly SignJob[], label = ''): Promise<string[]> {
  const faults: string[] = [];
  const prefix = label ? `${label}: ` : '';
  const present: SignJob[] = [];
  for (const j of jobs) {
    if (!fs.existsSync(j.target)) faults.push(`${prefix}${path.basename(j.target)} is missing (the repository signs with ${s.keys.join(', ')})`);
    else present.push(j);
  }
  if (present.length === 0) return faults;
  let keyring: Buffer;
  try {
    keyring = await exportPublicKeys(s, false);
  } catch (e) {
    return [...faults, `${prefix}cannot check signatures: ${(e as Error).message}`];
  }
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'rcurepo-verify-'));
  try {
    const ring = path.join(dir, 'keys.gpg');
    await fsp.writeFile(ring, keyring, { mode: 0o600 });
    for (const j of present) faults.push(...(await verifyOne(s, j, ring)).map((f) => `${prefix}${path.basename(j.target)}: ${f}`));
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
  return faults;
}

async function verifyOne(s: SigningSettings, j: SignJob, ring: string): Promise<string[]> {
  const args = j.kind === 'clearsigned' ? ['--keyring', ring, '--output', '-', j.target] : ['--keyring', ring, j.target, j.source];
  const r = await runGpg(args, { gpgv: true, timeoutMs: s.timeoutMs });
  if (r.timedOut) return [`gpgv did not finish within ${s.timeoutMs / 1000} s`];
  const faults: string[] = [];
  const bad = r.status.filter((l) => /^(BADSIG|ERRSIG|EXPKEYSIG|REVKEYSIG|NODATA|BADARMOR)\b/.test(l));
  if (bad.length) faults.push(`does not verify (${bad.map((l) => l.split(' ').slice(0, 2).join(' ')).join(', ')})`);
  const signers = new Set<string>();
  for (const l of r.status.filter((x) => x.startsWith('VALIDSIG '))) {
    const f = l.split(' ');
    signers.add(f[1]!.toUpperCase());
    if (f[10]) signers.add(f[10].toUpperCase());
  }
  // Publishing makes one signature per configured key; an older snapshot may predate a rotation, so one
  // configured key suffices here (a client holding that key accepts the file).
  if (r.code !== 0 && faults.length === 0) faults.push(`does not verify: ${gpgSays(r.stderr)}`);
  if (faults.length === 0 && !s.keys.some((k) => signers.has(k))) faults.push(`no valid signature by any configured key (${s.keys.join(', ')})`);
  if (j.kind === 'clearsigned' && faults.length === 0) {
    let source: Buffer | undefined;
    try {
      source = await fsp.readFile(j.source);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
    }
    if (source && !sameText(source, r.stdout)) faults.push(`its signed text differs from ${path.basename(j.source)}`);
  }
  return faults;
}

/** Clearsigning drops trailing whitespace per line and the final newline's presence may differ. */
function sameText(a: Buffer, b: Buffer): boolean {
  const norm = (x: Buffer) => x.toString('utf8').replace(/[ \t\r]+$/gm, '').replace(/\n+$/, '');
  return norm(a) === norm(b);
}

/** The cheap check for a transaction's own staging tree: every signature file exists and is not empty. */
export function missingSignatures(s: SigningSettings, jobs: readonly SignJob[]): string[] {
  const out: string[] = [];
  for (const j of jobs) {
    const st = fs.statSync(j.target, { throwIfNoEntry: false });
    if (!st || st.size === 0) out.push(`${path.basename(j.target)} is missing or empty (the repository signs with ${s.keys.join(', ')})`);
  }
  return out;
}
