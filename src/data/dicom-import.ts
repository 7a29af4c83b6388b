/**
 * A cohort of DICOM studies (one folder per patient) and its clinical table converted into the authors' layout
 * (`ICH_nii/{GOOD,POOR}_PROGNOSIS/<id>.nii.gz`, `ICH_tabular_data/CLINICAL_DATA_ICH.csv`), which every notebook and
 * command reads unchanged. One broken patient never stops the others: it is skipped and reported.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../io/atomic';
import { writeNifti } from '../io/nifti';
import { EXCLUDED_PATIENT_IDS, normalisePatientId, readClinicalTable } from './clinical';
import { assembleSeries, chooseSeries, scanDicomFolder } from './dicom-series';
import { resolveGantryTilt } from './gantry-tilt';
import { DataIssue } from './issues';

/** Options of {@link importDicomCohort}. */
export interface DicomImportOptions {
  /** Folder holding one sub-folder of DICOM files per patient (any depth below it). */
  from: string;
  /** The clinical table (the authors' 43 columns; its labels choose GOOD_PROGNOSIS or POOR_PROGNOSIS). */
  clinical: string;
  /** Dataset root to write (the authors' layout); `ICH_DATA_DIR` for the rest of the project. */
  out: string;
  /** Which series per study: 'auto' (default), a SeriesNumber, or text of the SeriesDescription (see chooseSeries). */
  series?: string;
  /** Patient ID from the sub-folder's name (default) or from the DICOM PatientID (0010,0020) of its files. */
  idFrom?: 'folder' | 'tag';
  /**
   * Keep a gantry-tilted stack as acquired, with its sheared affine (default false: resampled onto planes
   * perpendicular to the stack, data/gantry-tilt, as dcm2niix's `_Tilt_1` file).
   */
  keepTilt?: boolean;
  /** Called after each patient, for progress lines. */
  onPatient?: (entry: DicomImportEntry) => void;
}

/** What became of one patient folder. */
export interface DicomImportEntry {
  patientId: string;
  folder: string;
  status: 'converted' | 'skipped';
  /** The NIfTI written, relative to `out`. */
  file?: string;
  series?: { number?: number; description: string; uid: string; slices: number; transferSyntax: string };
  /** [columns, rows, slices] and voxel size in mm. */
  dims?: [number, number, number];
  voxelSize?: [number, number, number];
  tiltDegrees?: number;
  /** The other series of the study, for choosing another with `series`. */
  otherSeries?: string[];
  warnings: string[];
  /** Why it was skipped. */
  reason?: string;
}

/** The whole import: every patient's entry and the table's and files' issues; also written as `ICH_nii/import-dicom.json`. */
export interface DicomImportReport {
  from: string;
  out: string;
  converted: number;
  skipped: number;
  patients: DicomImportEntry[];
  /** Clinical rows with no patient folder. */
  rowsWithoutStudy: string[];
  issues: DataIssue[];
}

function patientFolders(from: string): string[] {
  if (!fs.existsSync(from) || !fs.statSync(from).isDirectory()) throw new Error(`DICOM folder expected, got "${from}" (no such folder)`);
  const dirs = fs
    .readdirSync(from, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  if (dirs.length === 0) throw new Error(`DICOM folder expected one sub-folder per patient, got none (${from})`);
  return dirs;
}

/**
 * Converts every patient folder under `options.from` whose ID has a usable clinical row; writes the NIfTI scans,
 * a copy of the table and the report (all atomically). Patients are converted in folder-name order.
 * @throws only when the folders or the table cannot be read at all.
 */
export function importDicomCohort(options: DicomImportOptions): DicomImportReport {
  const choice = options.series ?? 'auto';
  const table = readClinicalTable(options.clinical);
  const issues: DataIssue[] = [...table.issues];
  const byId = new Map(table.records.map((r) => [r.patientId, r]));
  const excluded = new Set(EXCLUDED_PATIENT_IDS);
  const niiRoot = path.join(options.out, 'ICH_nii');
  const patients: DicomImportEntry[] = [];
  const seen = new Map<string, string>();
  for (const name of patientFolders(options.from)) {
    const folder = path.join(options.from, name);
    const entry: DicomImportEntry = { patientId: normalisePatientId(name), folder, status: 'skipped', warnings: [] };
    try {
      const scan = scanDicomFolder(folder);
      for (const issue of scan.issues) {
        issues.push({ ...issue, patientId: entry.patientId });
        entry.warnings.push(`${path.relative(folder, issue.file)}: ${issue.message}`);
      }
      if (scan.files === 0) throw new Error(`DICOM files expected, got none (${folder})`);
      const series = chooseSeries(scan.series, choice, folder);
      if (options.idFrom === 'tag') {
        // The scan already read every header: the PatientID is on the slice.
        const tagged = series.slices[0].patientId;
        if (!tagged) throw new Error(`DICOM PatientID (0010,0020) expected, got none (${series.slices[0].file})`);
        entry.patientId = normalisePatientId(tagged);
      }
      const prior = seen.get(entry.patientId);
      if (prior) throw new Error(`patient ID expected once, got "${entry.patientId}" again (also ${prior})`);
      seen.set(entry.patientId, folder);
      if (excluded.has(entry.patientId)) throw new Error(`patient ${entry.patientId} is excluded as in the paper`);
      const record = byId.get(entry.patientId);
      if (!record) throw new Error(`usable clinical row expected for patient ${entry.patientId}, got none (${options.clinical})`);
      entry.otherSeries = scan.series
        .filter((s) => s !== series)
        .map((s) => `${s.number ?? '?'} "${s.description}" (${s.slices.length} slices${s.localizer ? ', localizer' : ''})`);
      const assembled = resolveGantryTilt(assembleSeries(series), options.keepTilt === true);
      const { volume } = assembled;
      const target = record.label === 1 ? 'POOR_PROGNOSIS' : 'GOOD_PROGNOSIS';
      const other = record.label === 1 ? 'GOOD_PROGNOSIS' : 'POOR_PROGNOSIS';
      const file = path.join(niiRoot, target, `${entry.patientId}.nii.gz`);
      writeNifti(file, {
        dims: volume.dims,
        raw: volume.raw,
        voxelSize: volume.voxelSize,
        affine: volume.affine,
        slope: volume.slope,
        intercept: volume.intercept,
        description: volume.description,
      });
      // A label changed since an earlier import must not leave the scan in both folders.
      fs.rmSync(path.join(niiRoot, other, `${entry.patientId}.nii.gz`), { force: true });
      Object.assign(entry, {
        status: 'converted',
        file: path.relative(options.out, file),
        series: { number: series.number, description: series.description, uid: series.uid, slices: series.slices.length, transferSyntax: series.slices[0].transferSyntaxName },
        dims: volume.dims,
        voxelSize: volume.voxelSize,
        tiltDegrees: Number(assembled.tiltDegrees.toFixed(3)),
      });
      entry.warnings.push(...assembled.warnings);
      for (const w of assembled.warnings) issues.push({ severity: 'warning', file: folder, patientId: entry.patientId, message: w });
    } catch (err) {
      entry.reason = (err as Error).message;
      issues.push({ severity: 'error', file: folder, patientId: entry.patientId, message: `${entry.reason} (patient skipped)` });
    }
    patients.push(entry);
    options.onPatient?.(entry);
  }
  const converted = new Set(patients.filter((p) => p.status === 'converted').map((p) => p.patientId));
  const withFolder = new Set(patients.map((p) => p.patientId));
  const rowsWithoutStudy = table.records.map((r) => r.patientId).filter((id) => !withFolder.has(id));
  for (const id of rowsWithoutStudy) issues.push({ severity: 'warning', file: options.clinical, patientId: id, message: 'patient folder expected for this row, got none' });
  // The table as given: the cohort reader validates it again and keeps reporting what it reports here.
  writeFileAtomic(path.join(options.out, 'ICH_tabular_data', 'CLINICAL_DATA_ICH.csv'), fs.readFileSync(options.clinical));
  const report: DicomImportReport = {
    from: options.from,
    out: options.out,
    converted: converted.size,
    skipped: patients.length - converted.size,
    patients,
    rowsWithoutStudy,
    issues,
  };
  writeFileAtomic(path.join(niiRoot, 'import-dicom.json'), JSON.stringify(report, null, 2) + '\n');
  return report;
}
