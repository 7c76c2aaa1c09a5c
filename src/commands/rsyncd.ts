/** `rcurepo rsyncd-conf` and the hidden `rsync-hook pre|post` run by rsyncd's pre/post-xfer exec. */
import { openBase } from '../engine/repo.js';
import { rsyncdConf, rsyncHook } from '../readers/rsyncd.js';
import { RcuError } from '../util/errors.js';

export async function rsyncdConfCommand(o: { base: string; out?: string; port?: number; address?: string; pidFile?: string; logFile?: string; dryRun?: boolean }) {
  const layout = await openBase(o.base);
  if (o.port !== undefined && !(Number.isInteger(o.port) && o.port > 0 && o.port < 65536)) throw new RcuError('USAGE', `--port must be 1-65535`);
  return rsyncdConf({ layout, out: o.out, port: o.port, address: o.address, pidFile: o.pidFile, logFile: o.logFile, dryRun: o.dryRun });
}

export async function rsyncHookCommand(o: { base: string; which: string; env: NodeJS.ProcessEnv }) {
  const layout = await openBase(o.base);
  return rsyncHook(layout, o.which, o.env);
}
