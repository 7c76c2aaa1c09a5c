/**
 * eopkg clients (eopkg/pisi) fetch eopkg-index.xml.xz and check it against its .sha1sum only; they verify
 * no signature. For people who check by hand, a repository with signing configured (signKeys) also
 * publishes an armored detached signature of the compressed index, made in staging like every index file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { missingSignatures, signFiles, signingSettingsOf, verifySignatures } from '../../signing/index.js';
import type { SignJob, SigningSettings } from '../../signing/index.js';

export const INDEX_XZ = 'eopkg-index.xml.xz';
export const INDEX_XZ_ASC = `${INDEX_XZ}.asc`;

function jobFor(dir: string): SignJob {
  return { source: path.join(dir, INDEX_XZ), target: path.join(dir, INDEX_XZ_ASC), kind: 'detached-armored' };
}

/** Sign the staged index when the repository signs; returns the signature files written. */
export async function signIndex(settings: Record<string, unknown>, stagingDir: string): Promise<string[]> {
  const s = signingSettingsOf(settings);
  if (!s) return [];
  await signFiles(s, [jobFor(stagingDir)]);
  return [INDEX_XZ_ASC];
}

/** quick (the transaction's own staging): the signature is there; full: gpgv checks it when present. */
export async function checkIndexSignature(settings: Record<string, unknown>, dir: string, quick: boolean | undefined): Promise<string[]> {
  const s: SigningSettings | undefined = signingSettingsOf(settings);
  if (!s) return [];
  const job = jobFor(dir);
  if (quick) return missingSignatures(s, [job]);
  return fs.existsSync(job.target) ? verifySignatures(s, [job]) : [];
}
