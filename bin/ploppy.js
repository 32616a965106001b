#!/usr/bin/env node
// The `ploppy` command. A fresh clone needs only `npm install`: the TypeScript
// sources run through tsx's loader. When a compiled build exists
// (`npx tsc -p tsconfig.build.json` writes dist/) and is newer than every
// source file, it runs instead: no loader thread, no compiling at start-up,
// which makes a daemon start several times faster. A stale build is never
// used, so editing a source file can't leave you running old code.
// PLOPPY_FROM_SOURCE=1 forces the sources; PLOPPY_USE_BUILD=1 takes the build
// as it is (the benchmark builds once, then measures that build throughout,
// even if someone edits a source file meanwhile).
import { readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const compiledMain = new URL('dist/src/cli/main.js', root);
const buildStamp = new URL('dist/build.tsbuildinfo', root);

/** The newest mtime of any file under `dir` (a few hundred stats: about a millisecond). */
function newestMtimeMs(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const child = new URL(entry.name + (entry.isDirectory() ? '/' : ''), dir);
    newest = Math.max(newest, entry.isDirectory() ? newestMtimeMs(child) : statSync(child).mtimeMs);
  }
  return newest;
}

function compiledIsFresh() {
  if (process.env.PLOPPY_FROM_SOURCE === '1') return false;
  try {
    if (!statSync(compiledMain).isFile()) return false;
    return process.env.PLOPPY_USE_BUILD === '1' || statSync(buildStamp).mtimeMs >= newestMtimeMs(new URL('src/', root));
  } catch {
    return false; // no build
  }
}

if (compiledIsFresh()) {
  await import(compiledMain.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
