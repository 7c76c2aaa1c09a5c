/** `rcurepo list REPO [--gen N]`: the files of a generation, described by its format when it can. */
import { listEntries } from './inspect.js';
import { table, bytes } from '../cli/context.js';

export async function listRepoContent(opts: { base: string; repo: string; generation?: number }): Promise<{ data: unknown; human: string }> {
  const r = await listEntries(opts);
  const human = table([['PATH', 'SIZE', 'SHA256'], ...r.entries.map((e) => [e.path, bytes(e.size), e.sha256])]) + `${r.entries.length} file(s) in generation ${r.generation} of '${r.repo}'`;
  return { data: r, human };
}
