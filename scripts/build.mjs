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
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Node's own modules as small ES modules of the bundle. esbuild otherwise wraps each default import of
 * one (`import fs from 'node:fs'`) in an interop helper that copies all of the module's properties into
 * a new object, once per importing file: ~290 copies, ~8 ms of every CLI call. A shim exports the module
 * itself as its default and, by name, what the sources import from it by name (a name missing here
 * fails the build: "No matching export"). Namespace imports would see only those names, so the build
 * refuses them; dynamic imports and imports from dependencies are left as they are.
 */
function builtinShims(srcDir) {
  const named = new Map();
  const files = fs.readdirSync(srcDir, { recursive: true }).filter((f) => f.endsWith('.ts'));
  for (const f of files) {
    const text = fs.readFileSync(path.join(srcDir, f), 'utf8');
    const ns = /^import\s+\*\s+as\s+\w+\s+from\s+'node:[^']+'/m.exec(text);
    if (ns) throw new Error(`${path.join(srcDir, f)}: '${ns[0]}': import Node's modules by default or by name (see builtinShims in scripts/build.mjs)`);
    // esbuild keeps import('node:...') as a real dynamic import, which the vm.Script bin/rcurepo.js
    // compiles the bundle with cannot run (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING).
    const dyn = /\bimport\(\s*'node:[^']+'\s*\)/.exec(text);
    if (dyn) throw new Error(`${path.join(srcDir, f)}: '${dyn[0]}': import Node's modules statically`);
    for (const m of text.matchAll(/^import\s+(?!type\s)[^;]*?\{([^}]*)\}\s*from\s*'(node:[^']+)'/gms)) {
      const names = named.get(m[2]) ?? new Set();
      for (const part of m[1].split(',').map((x) => x.trim()).filter(Boolean)) {
        if (part.startsWith('type ')) continue;
        names.add(part.split(/\s+as\s+/)[0].trim());
      }
      named.set(m[2], names);
    }
  }
  return {
    name: 'builtin-shims',
    setup(b) {
      b.onResolve({ filter: /^node:/ }, (a) => {
        if (a.namespace === 'builtin-shim' || a.kind !== 'import-statement' || a.importer.includes(`${path.sep}node_modules${path.sep}`)) return { path: a.path, external: true };
        return { path: a.path, namespace: 'builtin-shim' };
      });
      b.onLoad({ filter: /.*/, namespace: 'builtin-shim' }, (a) => {
        const names = [...(named.get(a.path) ?? [])];
        const exportsByName = names.length ? `export const { ${names.join(', ')} } = m;\n` : '';
        return { contents: `const m = require(${JSON.stringify(a.path)});\nexport default m;\n${exportsByName}`, loader: 'js' };
      });
    },
  };
}

const outdir = 'dist/bundle';
fs.rmSync('dist', { recursive: true, force: true });
// RCUREPO_NO_MINIFY=1 keeps names readable, for a CPU profile (node --cpu-prof bin/rcurepo.js ...).
const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: 'linked', minify: process.env.RCUREPO_NO_MINIFY !== '1', logLevel: 'warning' };
await build({
  ...common,
  entryPoints: { main: 'src/main.ts' },
  outdir,
  format: 'cjs',
  outExtension: { '.js': '.cjs' },
  plugins: [builtinShims('src')],
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

// The V8 code cache bin/rcurepo.js compiles the bundle with: what one representative call compiles
// (a one-package import into a small deb repository, the common build-bot call), written when that call
// exits. Without it the CLI works the same and starts slower, so a failed training run is a warning.
// A machine without `xz` yet (a fresh one: `npm test` installs the system tools after this build) trains
// on a `files` repository, which needs none.
function trainCodeCache() {
  if (spawnSync('xz', ['--version']).status !== 0) return trainOn('files');
  return trainOn('deb');
}

function trainOn(kind) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rcurepo-build-'));
  const base = path.join(tmp, 'base');
  const inputs = path.join(tmp, 'inputs');
  const run = (args, env = {}) => {
    const r = spawnSync(process.execPath, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${args.slice(0, 4).join(' ')} failed: ${(r.stderr || String(r.error)).trim().split('\n')[0]}`);
  };
  const cli = (args, env) => run(['bin/rcurepo.js', '--base', base, ...args], { RCUREPO_WRITE_CODE_CACHE: '', ...env });
  try {
    if (kind === 'deb') {
      run(['--import', 'tsx', 'fixtures/gen-deb.ts', '--out', inputs, '--count', '2', '--seed', 'code-cache', '--control', 'xz']);
    } else {
      fs.mkdirSync(inputs);
      for (const n of ['a', 'b']) fs.writeFileSync(path.join(inputs, `${n}.txt`), `training file ${n}\n`);
    }
    const [first, second] = fs.readdirSync(inputs).sort().map((f) => path.join(inputs, f));
    cli(['init']);
    cli(['create-repo', 'apt', ...(kind === 'deb' ? ['--format', 'deb', '--dist', 'stable'] : [])]);
    // No background reactions: nothing may outlive this function's temporary folder.
    cli(['config', 'apt', 'gcAfterPublish', 'false']);
    cli(['config', 'apt', 'spareClone', 'false']);
    cli(['import', 'apt', first]);
    cli(['import', 'apt', second], { RCUREPO_WRITE_CODE_CACHE: '1' });
    if (!fs.existsSync(`${outdir}/main.cjs.cache`)) throw new Error('the training run wrote no cache');
  } catch (e) {
    console.warn(`build: WARNING: no code cache for the CLI (${kind} training run: ${e.message}); it works without one, each call starts ~40 ms slower`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
trainCodeCache();
