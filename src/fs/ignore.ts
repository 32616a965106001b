/**
 * `.ploppyignore` files: gitignore syntax (the `ignore` package), one file per
 * directory at most, each applying to the paths below its directory. Ignored
 * paths are neither announced nor applied. The applier's temporary files are
 * always ignored, whatever the rules say.
 *
 * Precedence follows git: for a path, the rules of the deepest directory that
 * decides (ignores, or re-includes with `!`) win; and a path inside an ignored
 * directory is ignored, whatever deeper rules say (git never looks inside it).
 *
 * A `.ploppyignore` is itself an ordinary file and syncs like any other, so
 * peers share the rules; a file that should stay local can list itself.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import ignore from 'ignore';
import type { Ignore } from 'ignore';
import { ignoreFileName } from '../core/constants.js';
import { basenameOf, isNotFound, parentPath } from './folder.js';
import { isTempName } from './disk.js';

/** Directory decisions remembered between rule changes (bounded). */
const decisionCacheMax = 100_000;

/** Every `.ploppyignore` known under one shared folder; see the module comment. */
export class IgnoreRules {
  /** Directory sync path ('' for the root) -> its compiled rules. */
  private readonly rules = new Map<string, Ignore>();
  private readonly dirDecisions = new Map<string, boolean>();

  /** Rules from every `.ploppyignore` under `root`, skipping directories they ignore. */
  static async load(root: string): Promise<IgnoreRules> {
    const rules = new IgnoreRules();
    await rules.loadTree(root, '');
    return rules;
  }

  /** Set the rules of directory `dir` from the text of its `.ploppyignore`. */
  setRules(dir: string, text: string): void {
    this.rules.set(dir, ignore().add(text));
    this.dirDecisions.clear();
  }

  /** Forget the rules of `dir` (its `.ploppyignore` is gone). */
  removeRules(dir: string): void {
    if (this.rules.delete(dir)) this.dirDecisions.clear();
  }

  /** Re-read the `.ploppyignore` of `dir` (native path `nativeDir`); gone: its rules are dropped. */
  async reload(nativeDir: string, dir: string): Promise<void> {
    try {
      this.setRules(dir, await readFile(path.join(nativeDir, ignoreFileName), 'utf8'));
    } catch (e) {
      if (!isNotFound(e)) throw e;
      this.removeRules(dir);
    }
  }

  /** Directories that have rules, for tests and diagnostics. */
  get directories(): string[] {
    return [...this.rules.keys()].sort();
  }

  /** Whether the sync path `p` is ignored; `isDirectory` matters for `dir/` patterns. */
  ignores(p: string, isDirectory: boolean): boolean {
    if (isTempName(basenameOf(p))) return true;
    const parent = parentPath(p);
    if (parent !== '' && this.directoryIgnored(parent)) return true;
    return this.decide(p, isDirectory);
  }

  private directoryIgnored(dir: string): boolean {
    const cached = this.dirDecisions.get(dir);
    if (cached !== undefined) return cached;
    const parent = parentPath(dir);
    const ignored = (parent !== '' && this.directoryIgnored(parent)) || this.decide(dir, true);
    if (this.dirDecisions.size >= decisionCacheMax) this.dirDecisions.clear();
    this.dirDecisions.set(dir, ignored);
    return ignored;
  }

  /** The deepest directory whose rules match `p` (ignore or `!` re-include) decides. */
  private decide(p: string, isDirectory: boolean): boolean {
    if (this.rules.size === 0) return false;
    let ignored = false;
    let dir = parentPath(p);
    const chain: string[] = [];
    for (;;) {
      chain.push(dir);
      if (dir === '') break;
      dir = parentPath(dir);
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const base = chain[i] as string;
      const ig = this.rules.get(base);
      if (ig === undefined) continue;
      const relative = base === '' ? p : p.slice(base.length + 1);
      const r = ig.test(isDirectory ? `${relative}/` : relative);
      if (r.ignored) ignored = true;
      else if (r.unignored) ignored = false;
    }
    return ignored;
  }

  private async loadTree(nativeDir: string, dir: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(nativeDir, { withFileTypes: true });
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    if (entries.some((e) => e.name === ignoreFileName && e.isFile())) await this.reload(nativeDir, dir);
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const name = entry.name.normalize('NFC');
      const child = dir === '' ? name : `${dir}/${name}`;
      if (!this.ignores(child, true)) await this.loadTree(path.join(nativeDir, entry.name), child);
    }
  }
}
