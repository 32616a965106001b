#!/usr/bin/env node
// The `ploppy` command. TypeScript sources run through tsx's loader, so a fresh
// clone needs only `npm install` (no build step to forget).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
