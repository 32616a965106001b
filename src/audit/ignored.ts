/**
 * Whether `.ploppyignore` rules keep a path out of sync, for `explain`. Only
 * the rule files on the path's own ancestors are read (loading every rule
 * file would walk the whole folder).
 */
import { join } from 'node:path';
import { IgnoreRules } from '../fs/ignore.js';

export async function ignoredPath(folder: string, path: string): Promise<boolean> {
  const rules = new IgnoreRules();
  const parts = path.split('/').slice(0, -1);
  for (let i = 0; i <= parts.length; i++) {
    const dir = parts.slice(0, i).join('/');
    await rules.reload(join(folder, ...parts.slice(0, i)), dir);
  }
  return rules.ignores(path, false);
}
