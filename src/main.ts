/**
 * Process entry: runs the CLI and maps errors to exit codes. The only place that ends the process.
 */
import { runCli } from './cli.js';
import { EXIT_CODES, RcuError, errnoToRcuError } from './util/errors.js';
import { trace } from './util/trace.js';

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  try {
    await runCli(argv, {
      stdout: (s) => process.stdout.write(s),
      stderr: (s) => process.stderr.write(s),
      env: process.env,
      cwd: process.cwd(),
    });
    return 0;
  } catch (caught) {
    const e = errnoToRcuError(caught) ?? caught;
    if (e instanceof RcuError) {
      if (!(e.code === 'INTEGRITY' && e.data?.reported)) {
        process.stderr.write(`rcurepo: ${e.message}\n${e.details.map((d) => `  ${d}\n`).join('')}`);
      }
      if (json && !e.data?.reported) process.stdout.write(JSON.stringify({ error: { code: e.code, message: e.message, details: e.details, data: e.data } }, null, 2) + '\n');
      // A command that ran a child (with-snapshot) passes the child's own status on.
      if (typeof e.data?.exitCode === 'number') return e.data.exitCode;
      return EXIT_CODES[e.code];
    }
    process.stderr.write(`rcurepo: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    return EXIT_CODES.FAILURE;
  }
}

// bin/rcurepo.js says how the bundle was compiled: with the build's V8 code cache or without.
trace(`main: loaded (code cache: ${(globalThis as { rcurepoCodeCache?: string }).rcurepoCodeCache ?? 'none'})`);
void main(process.argv.slice(2)).then((code) => {
  trace('main: done');
  // Flush what was written, then end: a leftover timer must not keep a finished command alive.
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
});
