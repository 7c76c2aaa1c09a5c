#!/usr/bin/env node
// The CLI is one CommonJS bundle (see scripts/build.mjs), loaded with require. This file is CommonJS too
// (bin/package.json), so a CLI call does not start Node's ES module loader at all (~5 ms of CPU each).
'use strict';
require('../dist/bundle/main.cjs');
