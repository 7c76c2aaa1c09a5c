/**
 * Build: bundle the CLI and its separately started entry points (worker threads, the hook runner) into dist/bundle/.
 *
 * Why a bundle: every CLI call is a new process (build-bot hooks run many at once), and on Node 20
 * resolving and compiling ~100 ES modules one by one costs more than the work of a no-op import.
 * The CLI itself is bundled as CommonJS: Node's own modules (http, worker_threads, zlib, ...) are then
 * required when the code that needs them first runs, not all at start-up as hoisted ES imports would be.
 * The workers stay ES modules (they are started by path).
 *
 * The outputs must stay together in dist/bundle/: the CLI finds the workers next to itself
 * (new URL('./delete-worker.js', import.meta.url), likewise prepare-worker.js) and bin/rcurepo.js two levels up (src/util/bin.ts).
 * Type checking is `npm run typecheck` (tsc --noEmit); esbuild only strips types.
 */
import { build } from 'esbuild';
import fs from 'node:fs';

const outdir = 'dist/bundle';
fs.rmSync('dist', { recursive: true, force: true });
const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: 'linked', minify: true, logLevel: 'warning' };
await build({
  ...common,
  entryPoints: { main: 'src/main.ts' },
  outdir,
  format: 'cjs',
  outExtension: { '.js': '.cjs' },
  // The code's import.meta (ES modules) mapped onto this CommonJS file.
  define: { 'import.meta.url': '__rcurepoUrl', 'import.meta.resolve': '__rcurepoResolve' },
  banner: {
    js: "const __rcurepoUrl = require('node:url').pathToFileURL(__filename).href; const __rcurepoResolve = (s) => require('node:url').pathToFileURL(require.resolve(s)).href;",
  },
});
await build({
  ...common,
  entryPoints: { 'delete-worker': 'src/readers/delete-worker.ts', 'hook-runner': 'src/hooks/hook-runner.ts', 'prepare-worker': 'src/hooks/prepare-worker.ts', 'index-worker': 'src/publish/index-worker.ts' },
  outdir,
  format: 'esm',
  // Bundled CommonJS dependencies call require() for Node's own modules.
  banner: { js: "import { createRequire as __rcurepoRequire } from 'node:module'; const require = __rcurepoRequire(import.meta.url);" },
});
