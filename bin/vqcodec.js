#!/usr/bin/env node
// Runs the compiled CLI (npm's `prepare` builds dist/ on install).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
