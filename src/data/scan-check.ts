import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../io/atomic';
import { fileStamp } from '../io/file-stamp';
import { scanProblem } from './check';
import { Patient } from './cohort';

/** A patient passed over because its scan cannot be trained on: the scan file and why (without the file). */
export interface SkippedScan {
  patientId: string;
  file: string;
  reason: string;
}

/** File under the cache root remembering each scan's verdict. */
export const SCAN_CHECKS_FILE = 'scan-checks.json';
const SCAN_CHECKS_VERSION = 1;

type Verdicts = Record<string, string | null>;

function readVerdicts(file: string): Verdicts {
  try {
    const memo = JSON.parse(fs.readFileSync(file, 'utf8'));
    return memo?.version === SCAN_CHECKS_VERSION && typeof memo.scans === 'object' && memo.scans !== null ? memo.scans : {};
  } catch {
    // Missing or damaged: every scan is read again, which is only slower.
    return {};
  }
}

/**
 * Splits patients into those whose scans read in full and pass {@link checkVolume} (what `ich data check` accepts) and
 * those passed over, with why, so that one truncated or corrupt scan is set aside before the folds are drawn instead
 * of ending a cross-validation at the first batch that holds it. Every image and tabular run filters its patients
 * through this, so all models still share one patient list and one set of folds.
 *
 * Each scan is read once (about 0.1 s for a 512 x 512 x 32 .nii.gz); the verdicts are kept in
 * `<cacheRoot>/scan-checks.json`, keyed like the volume cache by the scan's path, size and modification time, so a
 * replaced or edited scan is read again. A scan that cannot be opened is not remembered (it may appear later).
 * @param options.notice told one line per skipped scan ({@link describeSkippedScan}).
 * @param options.onProgress called after each scan that had to be read.
 */
export async function usableScans(
  patients: readonly Patient[],
  cacheRoot: string,
  options: { notice?: (message: string) => void; onProgress?: (done: number, total: number) => void } = {},
): Promise<{ usable: Patient[]; skipped: SkippedScan[] }> {
  const memoFile = path.join(cacheRoot, SCAN_CHECKS_FILE);
  const verdicts = readVerdicts(memoFile);
  const usable: Patient[] = [];
  const skipped: SkippedScan[] = [];
  const keys = new Map<Patient, string | null>();
  for (const p of patients) {
    try {
      keys.set(p, fileStamp(p.imagePath));
    } catch {
      keys.set(p, null);
    }
  }
  const unread = patients.filter((p) => {
    const key = keys.get(p);
    return key !== null && key !== undefined && !(key in verdicts);
  });
  let done = 0;
  for (const p of unread) {
    verdicts[keys.get(p)!] = (await scanProblem(p.imagePath)).problem;
    options.onProgress?.(++done, unread.length);
  }
  if (unread.length > 0) writeFileAtomic(memoFile, JSON.stringify({ version: SCAN_CHECKS_VERSION, scans: verdicts }) + '\n');
  for (const p of patients) {
    const key = keys.get(p);
    const problem = key ? verdicts[key] : `scan file expected, got none`;
    if (problem) skipped.push({ patientId: p.id, file: p.imagePath, reason: problem });
    else usable.push(p);
  }
  for (const s of skipped) options.notice?.(describeSkippedScan(s));
  return { usable, skipped };
}

/** One line per skipped scan, for a run's log: "patient 10 skipped: <why> (<file>)". */
export function describeSkippedScan(s: SkippedScan): string {
  return `patient ${s.patientId} skipped: ${s.reason} (${s.file})`;
}
