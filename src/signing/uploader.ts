/**
 * Who may upload: a repository's `uploadKeyring` (a binary OpenPGP keyring) lists the keys whose
 * clearsigned upload manifests (Debian .changes) are accepted. Checked with gpgv, as dput/dak do: a
 * valid signature by a key in the keyring, and the signed text must be the text that was read.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RcuError } from '../util/errors.js';
import { gpgSays, runGpg } from './gpg.js';

const UPLOAD_CHECK_TIMEOUT_MS = 60_000;

/** The keyring setting's value checked as a readable file; BAD_INPUT naming it otherwise. */
export function checkKeyringFile(file: string, what = 'uploadKeyring'): void {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st) throw new RcuError('BAD_INPUT', `${what}: ${file} does not exist (a binary keyring: gpg --export KEYID > FILE)`);
  if (!st.isFile()) throw new RcuError('BAD_INPUT', `${what}: ${file} is not a regular file`);
  const head = fs.readFileSync(file).subarray(0, 64).toString('latin1');
  if (head.startsWith('-----BEGIN PGP')) throw new RcuError('BAD_INPUT', `${what}: ${file} is an armored key; gpgv needs a binary keyring (gpg --dearmor, or gpg --export without --armor)`);
}

/**
 * Refuse (BAD_INPUT naming the file) unless `file` is clearsigned by a key of `keyring` and its signed
 * text is `signedText` (what the manifest was read from).
 */
export async function verifyUploader(file: string, keyring: string, signedText: string | undefined): Promise<{ signer: string }> {
  const name = path.basename(file);
  if (signedText === undefined) throw new RcuError('BAD_INPUT', `${name}: not signed; this repository accepts uploads clearsigned by a key of its uploadKeyring (${keyring}) only; nothing was imported`);
  checkKeyringFile(keyring);
  const r = await runGpg(['--keyring', keyring, '--output', '-', file], { gpgv: true, timeoutMs: UPLOAD_CHECK_TIMEOUT_MS });
  if (r.timedOut) throw new RcuError('FAILURE', `${name}: gpgv did not finish within ${UPLOAD_CHECK_TIMEOUT_MS / 1000} s`);
  const bad = r.status.filter((l) => /^(BADSIG|ERRSIG|EXPKEYSIG|REVKEYSIG|NODATA|BADARMOR|NO_PUBKEY)\b/.test(l));
  const valid = r.status.find((l) => l.startsWith('VALIDSIG '));
  if (r.code !== 0 || bad.length || !valid) {
    const why = bad.some((l) => l.startsWith('NO_PUBKEY') || (l.startsWith('ERRSIG') && l.split(' ')[6] === '9')) ? 'signed by a key that is not in the uploadKeyring' : bad.some((l) => l.startsWith('BADSIG')) ? 'bad signature (the signed text was changed)' : gpgSays(r.stderr) || 'no valid signature';
    throw new RcuError('BAD_INPUT', `${name}: signature refused: ${why}; nothing was imported`);
  }
  const norm = (s: string) => s.replace(/[ \t\r]+$/gm, '').replace(/\n+$/, '');
  if (norm(r.stdout.toString('utf8')) !== norm(signedText)) throw new RcuError('BAD_INPUT', `${name}: the signed text differs from the text read; nothing was imported`);
  return { signer: valid.split(' ')[1]! };
}
