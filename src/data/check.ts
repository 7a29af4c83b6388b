import { readVolume } from '../io/read-volume';
import { Volume } from '../io/volume';
import { Cohort, discoverCohort, ImageSource } from './cohort';
import { DataIssue } from './issues';

/** Counts of a dataset check, for people and for scripts. */
export interface CheckSummary {
  layout: string | null;
  /** Rows in the clinical table (including excluded and bad ones). */
  rows: number;
  /** Patients whose row and scan are both usable. */
  usablePatients: number;
  /** Scans found (usable row or not). */
  withImage: number;
  labels: { good: number; poor: number };
  /** GCS score -> patients, over usable patients. */
  gcsHistogram: Record<string, number>;
  /** Slices per scan -> patients, over usable patients. */
  sliceHistogram: Record<string, number>;
  /** Patient IDs skipped, with the reason. */
  skipped: { patientId: string; reason: string }[];
  excluded: string[];
}

/** The outcome of {@link checkDataset}. */
export interface CheckReport {
  root: string;
  /** True when a run can go ahead on the usable patients (layout found, table readable, both classes present). */
  usable: boolean;
  summary: CheckSummary;
  issues: DataIssue[];
}

/** Finds what is wrong with one scan (unreadable, not 3D, NaN voxels, implausible size); null when it is fine. */
export function checkVolume(volume: Volume): string | null {
  const [nx, ny, nz] = volume.dims;
  if (nx < 16 || ny < 16) return `in-plane size expected at least 16 x 16 voxels, got ${nx} x ${ny}`;
  if (nz < 1) return `slices expected at least 1, got ${nz}`;
  let bad = 0;
  const { raw, slope, intercept } = volume;
  if (raw instanceof Float32Array || raw instanceof Float64Array || !Number.isFinite(slope) || !Number.isFinite(intercept)) {
    for (let i = 0; i < raw.length; i++) if (!Number.isFinite(raw[i] * slope + intercept)) bad++;
  }
  if (bad > 0) return `voxel values expected finite numbers, got ${bad} NaN or infinite voxels`;
  return null;
}

/**
 * Warns when a scan's in-plane field of view (voxels x voxel size, mm) is not square within 5%: the paper's resize
 * to 301 x 301 (preprocessing step 4) then squeezes its anatomy along one axis, which the paper's 512 x 512 scans never
 * are. A gantry-tilt resampling (data/gantry-tilt adds rows) or a rectangular reconstruction does this. Null otherwise.
 */
export function inPlaneAspectWarning(volume: Volume): string | null {
  const [nx, ny] = volume.dims;
  const width = nx * volume.voxelSize[0];
  const height = ny * volume.voxelSize[1];
  const ratio = Math.max(width, height) / Math.min(width, height);
  if (!(ratio > 1.05)) return null;
  return (
    `in-plane field of view expected square for the 301 x 301 resize, got ${width.toFixed(1)} x ${height.toFixed(1)} mm ` +
    `(${nx} x ${ny} voxels): the ${width > height ? 'width' : 'height'} is squeezed ${ratio.toFixed(2)}x more (gantry-tilt resampling or a rectangular reconstruction?)`
  );
}

/**
 * Reads a scan in full and says what is wrong with it (unreadable, or {@link checkVolume}'s findings, without the
 * file's name), or null; its slice count and {@link inPlaneAspectWarning} when it could be read.
 */
export async function scanProblem(file: string): Promise<{ problem: string | null; slices: number; warning: string | null }> {
  try {
    const volume = await readVolume(file);
    return { problem: checkVolume(volume), slices: volume.dims[2], warning: inPlaneAspectWarning(volume) };
  } catch (err) {
    return { problem: (err as Error).message.replace(` (${file})`, ''), slices: 0, warning: null };
  }
}

/**
 * Validates a dataset directory in either layout: the clinical table cell by cell, the join of rows and scans, and
 * every scan read in full. Never throws: every problem becomes an issue naming its file, row and column, and the
 * check goes on with the next patient.
 * @param onProgress called after each scan is read.
 */
export async function checkDataset(
  root: string,
  options: { imageSource?: ImageSource; onProgress?: (done: number, total: number) => void } = {},
): Promise<CheckReport> {
  const issues: DataIssue[] = [];
  const summary: CheckSummary = {
    layout: null,
    rows: 0,
    usablePatients: 0,
    withImage: 0,
    labels: { good: 0, poor: 0 },
    gcsHistogram: {},
    sliceHistogram: {},
    skipped: [],
    excluded: [],
  };
  let cohort: Cohort;
  try {
    cohort = discoverCohort(root, { imageSource: options.imageSource });
  } catch (err) {
    issues.push({ severity: 'error', file: root, message: (err as Error).message });
    return { root, usable: false, summary, issues };
  }
  issues.push(...cohort.issues);
  summary.layout = cohort.layout;
  summary.rows = cohort.table.rowCount;
  summary.excluded = cohort.excluded;
  summary.withImage = cohort.patients.length + cohort.imagesWithoutRow.length;
  for (const id of cohort.rowsWithoutImage) summary.skipped.push({ patientId: id, reason: 'no scan' });
  for (const id of cohort.imagesWithoutRow) summary.skipped.push({ patientId: id, reason: 'no usable clinical row' });
  let done = 0;
  for (const patient of cohort.patients) {
    const { problem, slices, warning } = await scanProblem(patient.imagePath);
    options.onProgress?.(++done, cohort.patients.length);
    if (problem) {
      issues.push({ severity: 'error', file: patient.imagePath, patientId: patient.id, message: `${problem} (patient skipped)` });
      summary.skipped.push({ patientId: patient.id, reason: problem });
      continue;
    }
    if (warning) issues.push({ severity: 'warning', file: patient.imagePath, patientId: patient.id, message: warning });
    summary.usablePatients++;
    if (patient.label === 1) summary.labels.poor++;
    else summary.labels.good++;
    summary.gcsHistogram[patient.gcs] = (summary.gcsHistogram[patient.gcs] ?? 0) + 1;
    summary.sliceHistogram[slices] = (summary.sliceHistogram[slices] ?? 0) + 1;
  }
  const tableBroken = cohort.table.issues.some((i) => i.severity === 'error' && i.row === undefined);
  const usable = !tableBroken && summary.labels.good > 0 && summary.labels.poor > 0;
  if (!tableBroken && !usable) {
    issues.push({ severity: 'error', file: root, message: `usable patients expected in both classes, got ${summary.labels.good} good and ${summary.labels.poor} poor` });
  }
  return { root, usable, summary, issues };
}
