/**
 * The pure core (src/core, src/events, src/projections, src/engine) touches no
 * I/O, no clock, no randomness and no timers (DESIGN.md, "Layers"): those come
 * in as arguments and ports, which is what makes replay and the simulator
 * deterministic. This test parses every file with the TypeScript compiler
 * (so comments and strings cannot trip it) and names each offence file:line.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import ts from 'typescript';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const pureDirs = ['src/core', 'src/events', 'src/projections', 'src/engine'];
const builtins = new Set(builtinModules);

/** Globals whose member access reads the clock, randomness or the process. */
const forbiddenMembers: Record<string, readonly string[] | 'any'> = {
  Date: ['now'],
  Math: ['random'],
  performance: 'any',
  process: 'any',
  crypto: ['getRandomValues', 'randomUUID'],
};
const forbiddenCalls = new Set(['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate', 'require']);

const isBuiltin = (specifier: string): boolean => specifier.startsWith('node:') || builtins.has(specifier.split('/')[0] as string);

/** Every offence in one source text, as "line: what". */
export function impurities(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const report = (node: ts.Node, what: string): void => {
    found.push(`${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}: ${what}`);
  };
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      if (isBuiltin(node.moduleSpecifier.text)) report(node, `imports the Node.js module '${node.moduleSpecifier.text}'`);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      report(node, `dynamic import(${arg !== undefined && ts.isStringLiteral(arg) ? `'${arg.text}'` : '...'})`);
    } else if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression)) {
      const members = forbiddenMembers[node.expression.text];
      if (members === 'any' || members?.includes(node.name.text)) report(node, `uses ${node.expression.text}.${node.name.text}`);
    } else if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'Date' && (node.arguments?.length ?? 0) === 0) {
      report(node, 'reads the clock with new Date()');
    } else if (ts.isCallExpression(node) && ts.isIdentifier(node.expression)) {
      if (node.expression.text === 'Date') report(node, 'reads the clock with Date()');
      if (forbiddenCalls.has(node.expression.text)) report(node, `calls ${node.expression.text}()`);
    } else if (ts.isIdentifier(node) && node.text === 'process' && !ts.isPropertyAccessExpression(node.parent)) {
      report(node, 'refers to process');
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    if (d.isDirectory()) return tsFiles(path);
    return d.isFile() && d.name.endsWith('.ts') ? [path] : [];
  });
}

describe('the pure core', () => {
  it('imports no Node.js module and reads no clock, randomness, timer or process', () => {
    const files = pureDirs.flatMap((d) => tsFiles(join(repo, d)));
    assert.ok(files.length >= 10, `expected the pure core's files, found ${files.length}`);
    const offences = files.flatMap((file) => impurities(file, readFileSync(file, 'utf8')).map((o) => `${relative(repo, file)}:${o}`));
    assert.deepEqual(offences, [], `impure code in the core:\n  ${offences.join('\n  ')}`);
  });

  it('is checked by a scanner that finds each kind of offence (and ignores comments and strings)', () => {
    const text = [
      "import { readFileSync } from 'node:fs';",
      "import net from 'net';",
      "export { x } from 'fs/promises';",
      'const a = Date.now();',
      'const b = new Date();',
      'const c = Math.random();',
      'setTimeout(() => {}, 1);',
      'const d = process.env.HOME;',
      'const e = performance.now();',
      "const f = await import('./x.js');",
      '// Date.now() and setTimeout in a comment are fine',
      "const g = 'Math.random() in a string is fine';",
      'const h = new Date(5);',
      "import type { Hlc } from './hlc.js';",
    ].join('\n');
    assert.deepEqual(
      impurities('sample.ts', text).map((o) => Number(o.split(':')[0])),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
  });
});
