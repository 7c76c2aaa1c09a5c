#!/usr/bin/env node
// The CLI is one CommonJS bundle (see scripts/build.mjs). This file is CommonJS too (bin/package.json),
// so a CLI call does not start Node's ES module loader at all (~5 ms of CPU each).
//
// Every CLI call is a new process, and compiling the bundle's functions is a large part of a short
// call's CPU (~40 ms of ~200 for a no-op import). The build leaves a V8 code cache of a representative
// run beside the bundle (main.cjs.cache); the bundle is compiled with it when V8 accepts it. V8 refuses
// a cache made by another Node version or for other source, and the bundle is then compiled as usual:
// the cache changes start-up time, never behaviour.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const bundle = path.join(__dirname, '..', 'dist', 'bundle', 'main.cjs');
const cacheFile = `${bundle}.cache`;
// Set by the build's training run: write the cache of what this run compiled when it exits.
const writeCache = process.env.RCUREPO_WRITE_CODE_CACHE === '1';
// Stack traces mapped to the sources (node --enable-source-maps) come from Node's own module loader.
const sourceMaps = process.execArgv.includes('--enable-source-maps') || /--enable-source-maps/.test(process.env.NODE_OPTIONS ?? '');
let cachedData;
try {
  cachedData = writeCache || sourceMaps ? undefined : fs.readFileSync(cacheFile);
} catch {
  // No cache (a build without its training run): plain compilation.
}
if (!cachedData && !writeCache) {
  require(bundle);
} else {
  const script = new vm.Script(Module.wrap(fs.readFileSync(bundle, 'utf8')), { filename: bundle, cachedData });
  // Read by the bundle's start-up trace (RCUREPO_TRACE=1): "used", or "rejected" by this V8.
  globalThis.rcurepoCodeCache = writeCache ? 'being written' : script.cachedDataRejected ? 'rejected' : 'used';
  if (writeCache) {
    process.once('exit', () => {
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, script.createCachedData());
      fs.renameSync(tmp, cacheFile);
    });
  }
  const mod = new Module(bundle, module);
  mod.filename = bundle;
  mod.loaded = true;
  const req = Module.createRequire(bundle);
  script.runInThisContext().call(mod.exports, mod.exports, req, mod, bundle, path.dirname(bundle));
}
