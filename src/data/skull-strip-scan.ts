/**
 * Skull stripping of one raw scan of a dataset in the authors' layout, the unit of work of data/skull-strip-cohort
 * (in this thread or a worker): strips `ICH_nii/<folder>/<id>.nii.gz` and writes, keeps or compares with its copy
 * `<out>/<folder>/<id>_brain.nii.gz`. Never throws for a broken scan: it comes back skipped with the reason.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeNifti } from '../io/nifti';
import { readVolume } from '../io/read-volume';
import { Volume } from '../io/volume';
import { round } from '../math/round';
import { DataIssue } from './issues';
import { applyBrainMask, brainMaskFromStripped, maskAgreement, SkullStripOptions, skullStripMask, SkullStripResult } from './skull-strip';

/** The two label folders of the authors' layout. */
export const PROGNOSIS_FOLDERS = ['GOOD_PROGNOSIS', 'POOR_PROGNOSIS'] as const;

/** One raw scan to strip. */
export interface RawScan {
  patientId: string;
  /** GOOD_PROGNOSIS or POOR_PROGNOSIS. */
  folder: string;
  /** Path of the raw scan. */
  file: string;
}

/** What to do with every scan of a run: the same for all of them, so it can be handed to a worker once. */
export interface SkullStripJob {
  /** Dataset root; files inside it are reported relative to it. */
  root: string;
  /** Folder of the `_brain` copies. */
  out: string;
  /** Replace existing copies. */
  force: boolean;
  /** Write nothing; compare with the existing copy. */
  compare: boolean;
  /** Thresholds and radii, defaults filled in. */
  strip: Required<SkullStripOptions>;
}

/** What became of one raw scan. */
export interface SkullStripEntry {
  patientId: string;
  /** GOOD_PROGNOSIS or POOR_PROGNOSIS. */
  folder: string;
  /** The raw scan, relative to the root. */
  source: string;
  status: 'stripped' | 'kept' | 'compared' | 'skipped';
  /** The `_brain` copy written, kept or compared with, relative to the root when inside it. */
  file?: string;
  /** Brain volume of this stripping, mL; slices holding brain; pieces of the core kept (data/skull-strip). */
  brainMl?: number;
  brainSlices?: number;
  pieces?: number;
  /** Compare mode: Dice of this mask with the existing copy's brain (its non-zero voxels, holes filled) and its volume. */
  dice?: number;
  referenceMl?: number;
  seconds?: number;
  warnings: string[];
  /** Why it was skipped. */
  reason?: string;
}

/** One scan's entry and the issues it raised (its warnings, or the error that skipped it). */
export interface StrippedScan {
  entry: SkullStripEntry;
  issues: DataIssue[];
}

/** One raw scan stripped here beside a skull-stripped copy of it made by another tool (the authors', or any). */
export interface SkullStripComparison {
  /** The raw scan, HU. */
  scan: Volume;
  /** This stripping of it. */
  result: SkullStripResult;
  /** The other copy's brain mask (data/skull-strip `brainMaskFromStripped`). */
  reference: Uint8Array;
  /** Dice of the two masks, 0-1. */
  dice: number;
  /** The other copy's brain volume, mL. */
  referenceMl: number;
}

/**
 * Strips the raw scan `rawFile` and compares the mask with the skull-stripped copy `brainFile` of the same scan.
 * @throws when either file cannot be read or the copy's grid is not the scan's.
 */
export async function compareSkullStrip(rawFile: string, brainFile: string, options: SkullStripOptions = {}): Promise<SkullStripComparison> {
  const scan = await readVolume(rawFile);
  const copy = await readVolume(brainFile);
  if (copy.dims.join() !== scan.dims.join()) throw new Error(`_brain copy expected the raw scan's ${scan.dims.join(' x ')} voxels, got ${copy.dims.join(' x ')} (${brainFile})`);
  const result = skullStripMask(scan, options);
  const reference = brainMaskFromStripped(copy);
  const agreement = maskAgreement(result.mask, reference, scan.voxelSize);
  return { scan, result, reference, dice: agreement.dice, referenceMl: agreement.bMl };
}

/** The existing `_brain` copy of a patient in `out/<folder>/`, if any. */
export function existingBrain(out: string, folder: string, patientId: string): string | undefined {
  for (const ext of ['.nii.gz', '.nii']) {
    const f = path.join(out, folder, `${patientId}_brain${ext}`);
    if (fs.existsSync(f)) return f;
  }
  return undefined;
}

const relativeTo = (root: string, file: string) => {
  const rel = path.relative(root, file);
  return rel.startsWith('..') ? file : rel;
};

/** A scan skipped with its reason: its entry and the error issue that names it. */
export function skippedScan(scan: RawScan, job: SkullStripJob, reason: string): StrippedScan {
  return {
    entry: { patientId: scan.patientId, folder: scan.folder, source: relativeTo(job.root, scan.file), status: 'skipped', warnings: [], reason },
    issues: [{ severity: 'error', file: scan.file, patientId: scan.patientId, message: `${reason} (patient skipped)` }],
  };
}

/** Strips, keeps or compares one raw scan as the job says; each copy is written atomically. */
export async function stripRawScan(scan: RawScan, job: SkullStripJob): Promise<StrippedScan> {
  const entry: SkullStripEntry = { patientId: scan.patientId, folder: scan.folder, source: relativeTo(job.root, scan.file), status: 'skipped', warnings: [] };
  const issues: DataIssue[] = [];
  const started = Date.now();
  let skipped: StrippedScan | undefined;
  try {
    const existing = existingBrain(job.out, scan.folder, scan.patientId);
    if (job.compare && !existing) throw new Error(`a _brain copy to compare with expected, got none (${path.join(job.out, scan.folder, `${scan.patientId}_brain.nii.gz`)})`);
    if (!job.compare && existing && !job.force) {
      Object.assign(entry, { status: 'kept', file: relativeTo(job.root, existing) });
    } else {
      const comparison = job.compare ? await compareSkullStrip(scan.file, existing!, job.strip) : undefined;
      const volume = comparison?.scan ?? (await readVolume(scan.file));
      const result = comparison?.result ?? skullStripMask(volume, job.strip);
      Object.assign(entry, { brainMl: round(result.brainMl, 1), brainSlices: result.brainSlices, pieces: result.pieces });
      entry.warnings.push(...result.warnings);
      if (comparison) {
        Object.assign(entry, { status: 'compared', file: relativeTo(job.root, existing!), dice: round(comparison.dice, 5), referenceMl: round(comparison.referenceMl, 1) });
      } else {
        const stripped = applyBrainMask(volume, result.mask);
        const file = path.join(job.out, scan.folder, `${scan.patientId}_brain.nii.gz`);
        writeNifti(file, { dims: stripped.dims, raw: stripped.raw, voxelSize: stripped.voxelSize, affine: stripped.affine, description: 'ich-prognosis skull strip' });
        // A label changed since an earlier run must not leave the copy in both folders.
        for (const other of PROGNOSIS_FOLDERS.filter((f) => f !== scan.folder)) {
          for (const ext of ['.nii.gz', '.nii']) fs.rmSync(path.join(job.out, other, `${scan.patientId}_brain${ext}`), { force: true });
        }
        Object.assign(entry, { status: 'stripped', file: relativeTo(job.root, file) });
      }
      for (const w of result.warnings) issues.push({ severity: 'warning', file: scan.file, patientId: scan.patientId, message: w });
    }
  } catch (err) {
    skipped = skippedScan(scan, job, (err as Error).message);
  }
  const result = skipped ?? { entry, issues };
  result.entry.seconds = round((Date.now() - started) / 1000, 2);
  return result;
}
