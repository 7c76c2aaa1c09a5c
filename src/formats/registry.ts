/** The formats this build knows. Commands resolve a repository's format here; the engine never does. */
import type { Format } from './format.js';
import { filesFormat } from './files/index.js';
import { RcuError } from '../util/errors.js';

const loaders: Record<string, () => Promise<Format>> = {
  files: async () => filesFormat,
  eopkg: async () => (await import('./eopkg/index.js')).eopkgFormat,
  deb: async () => (await import('./deb/index.js')).debFormat,
};

export const FORMAT_NAMES = Object.keys(loaders);

export async function getFormat(name: string): Promise<Format> {
  const load = loaders[name];
  if (!load) throw new RcuError('USAGE', `unknown format '${name}' (known: ${FORMAT_NAMES.join(', ')})`);
  return load();
}
