import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateSyntheticCohort } from '../../src/data/synth/cohort';
import { tempDir } from './paths';

let small: Promise<string> | undefined;

/** A small synthetic cohort (30 rows, 32 x 32 in-plane), generated once per test run; copy it before changing it. */
export function smallCohort(): Promise<string> {
  small ??= (async () => {
    const dir = path.join(tempDir('ich-cohort-'), 'cohort');
    await generateSyntheticCohort({ out: dir, inPlane: 32, patients: 30, seed: 3, workers: 0 });
    return dir;
  })();
  return small;
}

/** A private copy of the small cohort that a test may damage. */
export async function damagedCopy(): Promise<string> {
  const src = await smallCohort();
  const dir = path.join(tempDir('ich-damaged-'), 'cohort');
  fs.cpSync(src, dir, { recursive: true });
  return dir;
}
