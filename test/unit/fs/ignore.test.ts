import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { IgnoreRules } from '../../../src/fs/ignore.js';
import { scan } from '../../../src/fs/scanner.js';
import { tempDir } from './helpers.js';

describe('.ploppyignore rules', () => {
  it('applies gitignore syntax: globs, directory-only patterns, negation', () => {
    const rules = new IgnoreRules();
    rules.setRules('', '*.log\n!keep.log\nbuild/\n/top-only\n');
    assert.equal(rules.ignores('x.log', false), true);
    assert.equal(rules.ignores('a/b/x.log', false), true);
    assert.equal(rules.ignores('keep.log', false), false);
    assert.equal(rules.ignores('build', true), true);
    assert.equal(rules.ignores('build', false), false, 'a file named build is not a build/ directory');
    assert.equal(rules.ignores('build/out.o', false), true);
    assert.equal(rules.ignores('src/build/out.o', false), true);
    assert.equal(rules.ignores('top-only', false), true);
    assert.equal(rules.ignores('a/top-only', false), false, 'anchored pattern');
    assert.equal(rules.ignores('src/main.ts', false), false);
  });

  it('always ignores temp files, even with no rules', () => {
    const rules = new IgnoreRules();
    assert.equal(rules.ignores('.ploppy-tmp-0123abcd-report.pdf', false), true);
    assert.equal(rules.ignores('docs/.ploppy-tmp-0123abcd-x', false), true);
    assert.equal(rules.ignores('docs/report.pdf', false), false);
  });

  it('lets nested files add rules relative to their directory, the deepest deciding', () => {
    const rules = new IgnoreRules();
    rules.setRules('', '*.tmp\n');
    rules.setRules('sub', '!wanted.tmp\n/local.txt\n');
    assert.equal(rules.ignores('sub/wanted.tmp', false), false, 're-included below');
    assert.equal(rules.ignores('sub/other.tmp', false), true);
    assert.equal(rules.ignores('wanted.tmp', false), true, 'nested rules do not apply above');
    assert.equal(rules.ignores('sub/local.txt', false), true);
    assert.equal(rules.ignores('sub/deeper/local.txt', false), false, 'anchored to its own directory');
  });

  it('never re-includes a path inside an ignored directory', () => {
    const rules = new IgnoreRules();
    rules.setRules('', 'cache/\n');
    rules.setRules('cache', '!keep\n');
    assert.equal(rules.ignores('cache/keep', false), true);
  });

  it('loads every .ploppyignore in the tree and drops rules whose file is gone', async () => {
    const root = await tempDir('ignore');
    await mkdir(path.join(root, 'sub/skipped'), { recursive: true });
    await writeFile(path.join(root, '.ploppyignore'), 'skipped/\n');
    await writeFile(path.join(root, 'sub/.ploppyignore'), '*.bak\n');
    await writeFile(path.join(root, 'sub/skipped/.ploppyignore'), '!x\n');
    const rules = await IgnoreRules.load(root);
    assert.deepEqual(rules.directories, ['', 'sub'], 'an ignored directory is not read');
    assert.equal(rules.ignores('sub/a.bak', false), true);
    await writeFile(path.join(root, 'sub/.ploppyignore'), '');
    await rules.reload(path.join(root, 'sub'), 'sub');
    assert.equal(rules.ignores('sub/a.bak', false), false);
  });

  it('keeps ignored paths out of a scan, including what is under an ignored directory', async () => {
    const root = await tempDir('ignore-scan');
    await mkdir(path.join(root, 'node_modules/pkg'), { recursive: true });
    await mkdir(path.join(root, 'src'), { recursive: true });
    await writeFile(path.join(root, '.ploppyignore'), 'node_modules/\n*.o\n');
    await writeFile(path.join(root, 'node_modules/pkg/index.js'), 'x');
    await writeFile(path.join(root, 'src/main.c'), 'int main;');
    await writeFile(path.join(root, 'src/main.o'), 'obj');
    await mkdir(path.join(root, 'src/nested'));
    await writeFile(path.join(root, 'src/nested/.ploppyignore'), 'secret.txt\n');
    await writeFile(path.join(root, 'src/nested/secret.txt'), 's');
    await writeFile(path.join(root, 'src/nested/public.txt'), 'p');
    const r = await scan(root);
    assert.deepEqual(r.changed.map((o) => o.path), [
      '.ploppyignore', 'src', 'src/main.c', 'src/nested', 'src/nested/.ploppyignore', 'src/nested/public.txt',
    ]);
  });
});
