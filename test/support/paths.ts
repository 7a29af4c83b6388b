import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The project root (tests run from dist/test/...). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
/** Committed fixtures. */
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');

/** Reads a JSON fixture. */
export function fixture<T = any>(name: string): T {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as T;
}

const temporary: string[] = [];
process.once('exit', () => temporary.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

/** A fresh temporary folder, removed at process exit. */
export function tempDir(prefix = 'ich-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temporary.push(dir);
  return dir;
}

/** Largest absolute difference of two arrays of equal length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length expected ${b.length}, got ${a.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
