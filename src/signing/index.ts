/**
 * The signing API formats use inside a transaction (and commands use for `keys`, `config`, `status`).
 *
 *   const signing = signingSettingsOf(ctx.settings);          // undefined: this repository does not sign
 *   if (signing) await signFiles(signing, [
 *     { source: path.join(dir, 'Release'), target: path.join(dir, 'InRelease'), kind: 'clearsigned' },
 *     { source: path.join(dir, 'Release'), target: path.join(dir, 'Release.gpg'), kind: 'detached-armored' },
 *   ]);
 *   // verifyIndexes: quick -> missingSignatures(signing, jobs); full -> await verifySignatures(signing, jobs)
 */
import { signingSettingsOf } from './settings.js';
import { checkCanSign } from './sign.js';

export { signingSettingsOf, SIGNING_KEYS, isSigningKey, normaliseSigningValue, describeKeys } from './settings.js';
export type { SigningSettings, SigningKey } from './settings.js';
export { signFiles, signFile, checkCanSign, dropSignatures } from './sign.js';
export type { SignJob, SignatureKind } from './sign.js';
export { verifySignatures, missingSignatures } from './verify.js';
export { inspectKeys, exportPublicKeys, generateSigningKey, describeState } from './keys.js';
export type { KeyInfo, KeyState } from './keys.js';

/**
 * The transaction's `beforeWrite` check: when the repository signs, prove now (one test signature) that
 * every key can sign, so a missing, expired or revoked key or a passphrase aborts before a generation
 * number is taken or a blob enters the pool. Repositories that do not sign pay nothing.
 */
export async function checkSigningReady(settings: Record<string, unknown>): Promise<void> {
  const now = Date.now();
  const s = signingSettingsOf(settings);
  if (!s) return;
  // A resident publisher (watch, serve) publishing several times a minute proves the same keys once per
  // PROVEN_FOR_MS, not once per publish (a gpg start each). A key that stops signing within that time
  // fails the transaction's own signing step instead: in staging, before anything is published.
  const key = JSON.stringify(s);
  const at = proven.get(key);
  if (at !== undefined && now - at < PROVEN_FOR_MS) return;
  await checkCanSign(s);
  proven.set(key, now);
}

const PROVEN_FOR_MS = 30_000;
/** Signing settings that signed a test message, and when. */
const proven = new Map<string, number>();
