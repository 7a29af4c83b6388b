import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * A key for a file's current state: its absolute path, size and modification time, so caches keyed by it miss when the
 * file is replaced or edited. @throws when the file cannot be stat'ed.
 */
export function fileStamp(file: string): string {
  const st = fs.statSync(file);
  return `${path.resolve(file)}|${st.size}|${st.mtimeMs}`;
}
