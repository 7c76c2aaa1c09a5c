/**
 * Where the rcurepo command itself is, for the processes it starts or names: background reactions after
 * a publish (`node BIN --base BASE gc REPO --background`) and the rsync daemon's pre/post-xfer hooks.
 * Two levels up from this module both in the sources (src/util/) and in the bundle (dist/bundle/).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'rcurepo.js');
