#!/usr/bin/env node
// The CLI is one CommonJS bundle (see scripts/build.mjs), loaded with require: no ES module resolution.
import { createRequire } from 'node:module';

createRequire(import.meta.url)('../dist/bundle/main.cjs');
