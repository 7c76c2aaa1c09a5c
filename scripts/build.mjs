/**
 * Build: bundle the CLI and its two separately started entry points into dist/bundle/.
 *
 * Why a bundle: every CLI call is a new process (build-bot hooks run many at once), and on Node 20
 * resolving and compiling ~100 ES modules one by one costs more than the work of a no-op import.
 * One file per entry point removes the resolution cost (measured in BENCHMARKS.md).
 *
 * The three outputs must stay together in dist/bundle/: the CLI finds the workers next to itself
 * (new URL('./delete-worker.js', import.meta.url)) and bin/rcurepo.js two levels up (gc-spawn.ts).
 * Type checking is `npm run typecheck` (tsc --noEmit); esbuild only strips types.
 */
import { build } from 'esbuild';
import fs from 'node:fs';

const outdir = 'dist/bundle';
fs.rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: { main: 'src/main.ts', 'delete-worker': 'src/readers/delete-worker.ts', 'hook-runner': 'src/hooks/hook-runner.ts' },
  outdir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  minify: true,
  logLevel: 'warning',
  // Bundled CommonJS dependencies (yauzl, sade) call require() for Node's own modules.
  banner: { js: "import { createRequire as __rcurepoRequire } from 'node:module'; const require = __rcurepoRequire(import.meta.url);" },
});
