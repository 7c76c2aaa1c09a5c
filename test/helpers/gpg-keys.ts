/**
 * Throwaway signing keys for tests: ed25519, no passphrase, each in its own GNUPGHOME under the test's
 * temp dir. Their gpg-agents are stopped when the test process exits.
 */
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const homes: string[] = [];
process.on('exit', () => {
  for (const h of homes) spawnSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: h } });
});

/** A new key in `dir`/gnupg; returns that home and the key's fingerprint. */
export function throwawayKey(dir: string, uid = 'Test <t@example.invalid>'): { home: string; fpr: string } {
  const home = path.join(dir, 'gnupg');
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  homes.push(home);
  const r = spawnSync('gpg', ['--homedir', home, '--batch', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', '', '--status-fd', '1', '--quick-gen-key', uid, 'ed25519', 'sign', 'never'], { timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr.toString());
  const line = r.stdout.toString().split('\n').find((l) => l.startsWith('[GNUPG:] KEY_CREATED '))!;
  return { home, fpr: line.split(' ')[3]!.trim() };
}
