#!/usr/bin/env node
// The `avid` command (package.json "bin"). In a clone, where avid/cli.ts sits beside this file, it
// runs the TypeScript source through tsx (a devDependency), so an edit shows at once and no stale
// build can answer. In the installed package, which ships dist/ and not the .ts sources, it runs the
// compiled dist/avid/cli.js with plain Node.
import { existsSync } from 'node:fs';

const source = new URL('./cli.ts', import.meta.url);
let run;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ run } = await import(source.href));
} else {
  ({ run } = await import('../dist/avid/cli.js'));
}
process.exitCode = await run(process.argv.slice(2));
