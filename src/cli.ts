/**
 * Argument wiring only. A fresh sade program is built for every parse (sade keeps state), command
 * modules are loaded lazily by the wiring files, and nothing here ends the process: sade's own usage
 * errors (which call process.exit(1)) are turned into RcuError('USAGE') so main.ts decides the exit code.
 */
import sade from 'sade';
import { CliContext } from './cli/context.js';
import type { GlobalOptions, Io } from './cli/context.js';
import type { CommandDef } from './cli/types.js';
import { coreCommands } from './cli/core.js';
import { extraCommands } from './cli/extra.js';
import { RcuError } from './util/errors.js';
import { configureEventLog } from './util/event-log.js';

export const VERSION = '0.1.0';

const GLOBAL_BOOLEANS = ['json', 'dry-run', 'help', 'version'];

function allCommands(): CommandDef[] {
  return [...coreCommands, ...extraCommands()];
}

function buildProgram(defs: CommandDef[]) {
  const prog = sade('rcurepo').version(VERSION);
  prog.option('--base', 'Base directory (default: $RCUREPO_BASE)');
  prog.option('--json', 'Print machine-readable JSON on stdout');
  prog.option('--wait', 'Seconds to wait for a busy repository lock (default 300)');
  prog.option('--dry-run', 'Show what a writing command would change; change nothing');
  prog.option('--log', "Event log (one JSON line per event): a file (reopened on SIGHUP), '-' for stderr, 'off' (default: stderr for serve, stdout for watch, off otherwise)");
  for (const d of defs) {
    prog.command(d.usage).describe(d.describe);
    for (const [flag, desc] of d.options ?? []) prog.option(flag, desc);
    for (const ex of d.examples) prog.example(ex);
    prog.action(() => undefined);
  }
  return prog;
}

/**
 * sade finds the command with a first parse that does not know which flags take no value, so
 * `--json import main` would read `import` as the value of --json. Moving value-less flags after the
 * positionals (but before a `--` that ends our arguments) makes the command position unambiguous.
 */
function flagsLast(argv: string[], booleans: string[]): string[] {
  const end = argv.indexOf('--');
  const head = end < 0 ? argv : argv.slice(0, end);
  const tail = end < 0 ? [] : argv.slice(end);
  const isBool = (a: string) => a.startsWith('--') && booleans.includes(a.slice(2).split('=')[0]!);
  return [...head.filter((a) => !isBool(a)), ...head.filter(isBool), ...tail];
}

/**
 * mri (sade's parser) reads any word starting with '-' as an option, so `config main keep -1` would
 * report an unknown option `-1` and `--wait -1` would lose its value. Negative numbers are shielded with
 * a prefix no option starts with, and restored after parsing: commands then refuse them by value.
 */
const NEGATIVE = /^-\d+(\.\d+)?$/;
const SHIELD = '\u0001';
const shieldNegatives = (argv: string[]) => {
  const end = argv.indexOf('--');
  return argv.map((a, i) => ((end < 0 || i < end) && NEGATIVE.test(a) ? SHIELD + a : a));
};
const unshield = (v: unknown): unknown => (typeof v === 'string' && v.startsWith(SHIELD) ? v.slice(1) : Array.isArray(v) ? v.map(unshield) : v);

/** Every option that takes a value is parsed as a string (mri would turn `0x10` into 16): commands parse numbers strictly. */
function valueOptions(defs: CommandDef[], booleans: string[]): string[] {
  const names = new Set(['base', 'wait']);
  for (const d of defs) for (const [flag] of d.options ?? []) names.add(flag.replace(/^--/, '').split(/[ ,=]/)[0]!);
  return [...names].filter((n) => !booleans.includes(n));
}

/**
 * A usage ending in `<name...>` takes one or more words there: sade checks the first is present, and
 * the command receives them all in `opts._` (what `ctx.rest` reads).
 */
function collectVariadic(def: CommandDef, positional: string[], opts: GlobalOptions): string[] {
  const words = def.usage.split(/\s+/).filter((w) => /^[<[]/.test(w));
  const last = words[words.length - 1];
  if (!last || !last.endsWith('...>')) return positional;
  const at = words.length - 1;
  opts._ = [...positional.slice(at), ...(opts._ ?? []).map(String)];
  return positional.slice(0, at);
}

/** Parse and run one command line. Returns normally on success; throws RcuError (or others) on failure. */
export async function runCli(argv: string[], io: Io): Promise<void> {
  const defs = allCommands();
  const prog = buildProgram(defs);
  const booleans = [...GLOBAL_BOOLEANS, ...defs.flatMap((d) => d.booleans ?? [])];
  let captured = '';
  const realExit = process.exit;
  const realError = console.error;
  const realLog = console.log;
  let parsed: { name: string; args: unknown[] } | undefined;
  try {
    console.error = (...a: unknown[]) => {
      captured += a.join(' ') + '\n';
    };
    console.log = (...a: unknown[]) => io.stdout(a.join(' ') + '\n'); // --help and --version text
    process.exit = ((code?: number) => {
      throw new RcuError('USAGE', captured.trim().replace(/^ERROR\s*/m, '') || `usage error (${code ?? ''})`);
    }) as typeof process.exit;
    parsed = (prog.parse as (argv: string[], o: unknown) => typeof parsed)(['node', 'rcurepo', ...flagsLast(shieldNegatives(argv), booleans)], {
      lazy: true,
      boolean: booleans,
      string: [...new Set([...valueOptions(defs, booleans), 'base', 'log', 'trust-proxy', 'repo', 'prefix', 'gen', 'holder', 'listen', 'incoming', 'format', 'distribution', 'components', 'groups', 'reason', 'upstream', 'keyring', 'adopt', 'bwlimit', 'dist', 'suite', 'architectures', 'origin', 'label', 'component', 'description'])],
      unknown: (flag: string) => `unknown option ${flag}`,
    });
  } finally {
    process.exit = realExit;
    console.error = realError;
    console.log = realLog;
  }
  if (!parsed) return; // --help or --version was printed
  const name = parsed.name;
  const def = defs.find((d) => d.usage.split(/\s+/).filter((w) => !/^[<[]/.test(w)).join(' ') === name);
  if (!def) throw new RcuError('USAGE', `unknown command '${name}'`);
  const opts = parsed.args[parsed.args.length - 1] as GlobalOptions;
  for (const k of Object.keys(opts)) opts[k] = unshield(opts[k]);
  if (opts['dry-run'] && !def.dryRun) throw new RcuError('USAGE', `${name} changes nothing: it has no --dry-run; run it without the flag`);
  const positional = collectVariadic(def, parsed.args.slice(0, -1).filter((a) => a !== undefined).map((a) => String(unshield(a))), opts);
  if (opts.log !== undefined) configureEventLog(String(opts.log), { force: true });
  await def.run(new CliContext(io), positional, opts);
}
