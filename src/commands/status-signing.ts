/** The signing part of `rcurepo status`: configured keys, their expiry, and warnings an operator must act on. */
import { inspectKeys, describeState } from '../signing/keys.js';
import type { KeyInfo } from '../signing/keys.js';
import { signingSettingsOf } from '../signing/settings.js';

/** Warn this long before a signing key expires (a publish fails the moment it has). */
export const EXPIRY_WARN_DAYS = 30;

export interface SigningStatus {
  gnupgHome?: string;
  keys: KeyInfo[];
  warnings: string[];
}

export async function signingStatus(settings: Record<string, unknown>, now = Date.now()): Promise<SigningStatus | undefined> {
  let s;
  try {
    s = signingSettingsOf(settings);
  } catch (e) {
    return { keys: [], warnings: [(e as Error).message] };
  }
  if (!s) return undefined;
  let keys: KeyInfo[];
  try {
    keys = await inspectKeys(s);
  } catch (e) {
    return { gnupgHome: s.gnupgHome, keys: s.keys.map((fingerprint) => ({ fingerprint, state: 'missing' })), warnings: [`cannot list the signing keys: ${(e as Error).message}`] };
  }
  const warnings: string[] = [];
  for (const k of keys) {
    if (k.state !== 'usable') warnings.push(`signing key ${k.fingerprint} is ${describeState(k)}: publishing fails until it is fixed`);
    else if (k.expires) {
      const days = (Date.parse(k.expires) - now) / 86_400_000;
      if (days <= EXPIRY_WARN_DAYS) warnings.push(`signing key ${k.fingerprint} expires in ${Math.max(0, Math.floor(days))} day(s) (${k.expires}): extend it (gpg --quick-set-expire) or rotate ('keys init-key --add'), then re-export the public keyring`);
    }
  }
  return { gnupgHome: s.gnupgHome, keys, warnings };
}
