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
export { signingSettingsOf, SIGNING_KEYS, isSigningKey, normaliseSigningValue, describeKeys } from './settings.js';
export type { SigningSettings, SigningKey } from './settings.js';
export { signFiles, signFile, checkCanSign } from './sign.js';
export type { SignJob, SignatureKind } from './sign.js';
export { verifySignatures, missingSignatures } from './verify.js';
export { inspectKeys, exportPublicKeys, generateSigningKey, describeState } from './keys.js';
export type { KeyInfo, KeyState } from './keys.js';

import { signingSettingsOf as settingsOf } from './settings.js';
import { checkCanSign as canSign } from './sign.js';

/**
 * The transaction's `beforeWrite` check: when the repository signs, prove now (one test signature) that
 * every key can sign, so a missing, expired or revoked key or a passphrase aborts before a generation
 * number is taken or a blob enters the pool. Repositories that do not sign pay nothing.
 */
export async function checkSigningReady(settings: Record<string, unknown>): Promise<void> {
  const s = settingsOf(settings);
  if (s) await canSign(s);
}
