import type { CliContext, GlobalOptions } from './context.js';

/** One command's wiring: usage, help text, options, examples, and the action (which only calls a command module and prints). */
export interface CommandDef {
  /** sade usage, e.g. 'import <repo>'; variadic rest arguments arrive in opts._ */
  usage: string;
  describe: string;
  options?: Array<[flag: string, description: string]>;
  /** Option names that are flags without a value. */
  booleans?: string[];
  examples: string[];
  /** The command honours --dry-run (every other command refuses the flag rather than ignore it). */
  dryRun?: boolean;
  run: (ctx: CliContext, args: string[], opts: GlobalOptions) => Promise<void>;
}
