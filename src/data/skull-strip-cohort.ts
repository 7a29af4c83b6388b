/**
 * Skull stripping of a whole dataset in the authors' layout: every raw scan `ICH_nii/{GOOD,POOR}_PROGNOSIS/<id>.nii.gz`
 * gets its brain-only copy `ICH_nii_StrippedSkull/<folder>/<id>_brain.nii.gz`, the copy the paper's models read.
 * Or, with `compare`, nothing is written and each existing `_brain` copy (the authors', or any other tool's) is
 * compared with this stripping, as a check of it on the user's own scans. One broken scan never stops the others.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../io/atomic';
import { writeNifti } from '../io/nifti';
import { readVolume } from '../io/read-volume';
import { patientIdFromFile } from './cohort';
import { DataIssue } from './issues';
import { Volume } from '../io/volume';
import { applyBrainMask, brainMaskFromStripped, maskAgreement, resolveSkullStripOptions, SkullStripOptions, skullStripMask, SkullStripResult } from './skull-strip';

/** Options of {@link skullStripCohort}. */
export interface SkullStripCohortOptions {
  /** Dataset root holding `ICH_nii/{GOOD,POOR}_PROGNOSIS/`. */
  root: string;
  /** Where the `_brain` copies go (default `<root>/ICH_nii_StrippedSkull`, where the cohort reader looks). */
  out?: string;
  /** Replace `_brain` copies that exist (default false: they are kept and their patients reported as kept). */
  force?: boolean;
  /** Write nothing; compare this stripping with each existing `_brain` copy (Dice, volumes). */
  compare?: boolean;
  /** Only these patient IDs (default every raw scan). */
  ids?: string[];
  /** Thresholds and radii (data/skull-strip defaults). */
  strip?: SkullStripOptions;
  /** Called after each patient, for progress lines. */
  onPatient?: (entry: SkullStripEntry) => void;
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

/** The whole run; also written as `<out>/skull-strip.json` when it wrote copies. */
export interface SkullStripReport {
  root: string;
  out: string;
  mode: 'strip' | 'compare';
  options: Required<SkullStripOptions>;
  stripped: number;
  kept: number;
  compared: number;
  skipped: number;
  /** Compare mode: mean and lowest Dice over the compared patients (NaN when none). */
  meanDice: number;
  minDice: number;
  patients: SkullStripEntry[];
  issues: DataIssue[];
}

/** The report's file name inside `out`. */
export const SKULL_STRIP_REPORT = 'skull-strip.json';

const FOLDERS = ['GOOD_PROGNOSIS', 'POOR_PROGNOSIS'] as const;

function rawScans(root: string): { patientId: string; folder: string; file: string }[] {
  const rawRoot = path.join(root, 'ICH_nii');
  if (!fs.existsSync(rawRoot)) throw new Error(`raw scans expected in ICH_nii/{GOOD,POOR}_PROGNOSIS/, got no ICH_nii folder (${root})`);
  const scans: { patientId: string; folder: string; file: string }[] = [];
  for (const folder of FOLDERS) {
    const dir = path.join(rawRoot, folder);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir).sort()) {
      if (!/\.nii(\.gz)?$/i.test(name) || /_brain\.nii(\.gz)?$/i.test(name)) continue;
      scans.push({ patientId: patientIdFromFile(name), folder, file: path.join(dir, name) });
    }
  }
  if (scans.length === 0) throw new Error(`raw scans expected in ICH_nii/{GOOD,POOR}_PROGNOSIS/ (<id>.nii.gz), got none (${rawRoot})`);
  return scans;
}

function existingBrain(out: string, folder: string, patientId: string): string | undefined {
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

/**
 * Strips (or, with `compare`, checks) every raw scan of a dataset, in folder and file-name order. Writes each copy
 * and the report atomically; a scan that cannot be read or stripped is skipped with its reason.
 * @throws only when the dataset has no raw scans at all, or `ids` names none of them.
 */
export async function skullStripCohort(options: SkullStripCohortOptions): Promise<SkullStripReport> {
  const strip = resolveSkullStripOptions(options.strip);
  const out = options.out ?? path.join(options.root, 'ICH_nii_StrippedSkull');
  let scans = rawScans(options.root);
  if (options.ids) {
    const wanted = new Set(options.ids.map(String));
    const missing = [...wanted].filter((id) => !scans.some((s) => s.patientId === id));
    if (missing.length === wanted.size) throw new Error(`patients expected among the raw scans, got none of ${[...wanted].join(', ')} (${path.join(options.root, 'ICH_nii')})`);
    scans = scans.filter((s) => wanted.has(s.patientId));
  }
  const patients: SkullStripEntry[] = [];
  const issues: DataIssue[] = [];
  for (const scan of scans) {
    const entry: SkullStripEntry = { patientId: scan.patientId, folder: scan.folder, source: relativeTo(options.root, scan.file), status: 'skipped', warnings: [] };
    const started = Date.now();
    try {
      const existing = existingBrain(out, scan.folder, scan.patientId);
      if (options.compare && !existing) throw new Error(`a _brain copy to compare with expected, got none (${path.join(out, scan.folder, `${scan.patientId}_brain.nii.gz`)})`);
      if (!options.compare && existing && !options.force) {
        Object.assign(entry, { status: 'kept', file: relativeTo(options.root, existing) });
      } else {
        const comparison = options.compare ? await compareSkullStrip(scan.file, existing!, strip) : undefined;
        const volume = comparison?.scan ?? (await readVolume(scan.file));
        const result = comparison?.result ?? skullStripMask(volume, strip);
        Object.assign(entry, { brainMl: round(result.brainMl, 1), brainSlices: result.brainSlices, pieces: result.pieces });
        entry.warnings.push(...result.warnings);
        if (comparison) {
          Object.assign(entry, { status: 'compared', file: relativeTo(options.root, existing!), dice: round(comparison.dice, 5), referenceMl: round(comparison.referenceMl, 1) });
        } else {
          const stripped = applyBrainMask(volume, result.mask);
          const file = path.join(out, scan.folder, `${scan.patientId}_brain.nii.gz`);
          writeNifti(file, { dims: stripped.dims, raw: stripped.raw, voxelSize: stripped.voxelSize, affine: stripped.affine, description: 'ich-prognosis skull strip' });
          // A label changed since an earlier run must not leave the copy in both folders.
          for (const other of FOLDERS.filter((f) => f !== scan.folder)) {
            for (const ext of ['.nii.gz', '.nii']) fs.rmSync(path.join(out, other, `${scan.patientId}_brain${ext}`), { force: true });
          }
          Object.assign(entry, { status: 'stripped', file: relativeTo(options.root, file) });
        }
        for (const w of result.warnings) issues.push({ severity: 'warning', file: scan.file, patientId: scan.patientId, message: w });
      }
    } catch (err) {
      entry.reason = (err as Error).message;
      issues.push({ severity: 'error', file: scan.file, patientId: scan.patientId, message: `${entry.reason} (patient skipped)` });
    }
    entry.seconds = round((Date.now() - started) / 1000, 2);
    patients.push(entry);
    options.onPatient?.(entry);
  }
  const dice = patients.filter((p) => p.dice !== undefined).map((p) => p.dice!);
  const report: SkullStripReport = {
    root: options.root,
    out,
    mode: options.compare ? 'compare' : 'strip',
    options: strip,
    stripped: patients.filter((p) => p.status === 'stripped').length,
    kept: patients.filter((p) => p.status === 'kept').length,
    compared: dice.length,
    skipped: patients.filter((p) => p.status === 'skipped').length,
    meanDice: dice.length ? round(dice.reduce((a, b) => a + b, 0) / dice.length, 5) : NaN,
    minDice: dice.length ? Math.min(...dice) : NaN,
    patients,
    issues,
  };
  // The record of what was written sits beside the copies; a run that wrote nothing leaves the dataset as it was.
  if (report.stripped > 0) writeFileAtomic(path.join(out, SKULL_STRIP_REPORT), JSON.stringify(report, null, 2) + '\n');
  return report;
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
