#!/usr/bin/env node
// The `avid` command (package.json "bin"): runs avid/cli.ts through tsx, so `npx avid ...` works in a
// clone after `npm install`, with no build step.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('./cli.ts');
process.exitCode = await run(process.argv.slice(2));
