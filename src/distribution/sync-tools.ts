/** The system tools the sync checks run: gpgv for upstream signatures, xz for compressed indexes. */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { RcuError } from '../util/errors.js';

/** Run gpgv; undefined when the signature is good, else why not. */
export function gpgv(keyring: string, args: string[]): Promise<string | undefined> {
  if (!fs.existsSync(keyring)) throw new RcuError('BAD_INPUT', `keyring ${keyring}: no such file`);
  return new Promise((resolve, reject) => {
    execFile('gpgv', ['--keyring', path.resolve(keyring), ...args], { maxBuffer: 1 << 20 }, (err, _out, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new RcuError('FAILURE', 'gpgv is not installed: it is needed to check upstream signatures (apt-get install gpgv)'));
        return;
      }
      if (!err) resolve(undefined);
      else resolve(`bad signature: ${String(stderr).trim().split('\n').filter((l) => !/^gpgv: (Signature made|\s+using)/.test(l)).slice(-2).join('; ') || 'gpgv refused it'}`);
    });
  });
}

/** Decompress with the xz tool (every xz this project writes or reads goes through it). */
export function unxz(data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile('xz', ['-dc'], { encoding: 'buffer', maxBuffer: 1 << 30 }, (err, out, stderr) => {
      if (err) reject(new Error((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'xz is not installed (apt-get install xz-utils)' : String(stderr).trim() || err.message));
      else resolve(out);
    });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(data);
  });
}
