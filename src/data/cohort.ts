import * as fs from 'node:fs';
import * as path from 'node:path';
import { ClinicalRecord, ClinicalTable, EXCLUDED_PATIENT_IDS, normalisePatientId, readClinicalTable } from './clinical';
import { DataIssue } from './issues';

/** The two dataset layouts the project reads (DESIGN.md, "Data contract"). */
export type DatasetLayout = 'authors' | 'digital-csic';

/** Which copy of the authors' scans feeds the models: the skull-stripped one (the paper's) or the raw one. */
export type ImageSource = 'stripped' | 'raw';

/** One usable patient: a validated clinical row joined with its scan. */
export interface Patient {
  id: string;
  /** 1 = poor prognosis (from the clinical table). */
  label: 0 | 1;
  /** Years. */
  age: number;
  /** Glasgow Coma Scale 3-15. */
  gcs: number;
  clinical: ClinicalRecord;
  /** The scan the models read. */
  imagePath: string;
  /** The other copy, when present (authors' layout: the raw scan with skull). */
  rawImagePath?: string;
  /** Ground-truth lesion mask (synthetic cohort only). */
  maskPath?: string;
  /** The image folder it sits in (GOOD_PROGNOSIS, POOR_PROGNOSIS, CONTROLS, ICH). */
  folder: string;
}

/** A discovered dataset: usable patients, and everything that was skipped and why. */
export interface Cohort {
  root: string;
  layout: DatasetLayout;
  clinicalFile: string;
  patients: Patient[];
  table: ClinicalTable;
  /** Patients with a usable row but no scan. */
  rowsWithoutImage: string[];
  /** Scans whose patient has no usable row. */
  imagesWithoutRow: string[];
  /** Patients dropped on purpose (patient 213). */
  excluded: string[];
  issues: DataIssue[];
}

const AUTHORS_FOLDERS = ['GOOD_PROGNOSIS', 'POOR_PROGNOSIS'] as const;
const CSIC_FOLDERS = ['CONTROLS', 'ICH'] as const;

function listFiles(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Where each part of a layout sits under a root. */
interface LayoutPaths {
  layout: DatasetLayout;
  clinicalFile: string;
  imageDirs: { folder: string; dir: string; suffix: RegExp }[];
  rawDirs: { folder: string; dir: string; suffix: RegExp }[];
  maskDirs: { folder: string; dir: string; suffix: RegExp }[];
}

/**
 * Recognises the layout under `root`: the authors' (`ICH_tabular_data/`, `ICH_nii_StrippedSkull/` or `ICH_nii/`)
 * or DIGITAL.CSIC's (`3D_dataset/` or its contents directly).
 * @throws when neither layout is there, listing what was looked for.
 */
export function detectLayout(root: string, imageSource: ImageSource = 'stripped'): LayoutPaths {
  const stripped = path.join(root, 'ICH_nii_StrippedSkull');
  const raw = path.join(root, 'ICH_nii');
  const tabular = path.join(root, 'ICH_tabular_data', 'CLINICAL_DATA_ICH.csv');
  if (isDir(stripped) || isDir(raw) || fs.existsSync(tabular)) {
    const useStripped = imageSource === 'stripped' && isDir(stripped);
    const main = useStripped ? stripped : raw;
    const other = useStripped ? raw : stripped;
    const mainSuffix = useStripped ? /_brain\.nii(\.gz)?$/ : /\.nii(\.gz)?$/;
    const otherSuffix = useStripped ? /\.nii(\.gz)?$/ : /_brain\.nii(\.gz)?$/;
    return {
      layout: 'authors',
      clinicalFile: tabular,
      imageDirs: AUTHORS_FOLDERS.map((folder) => ({ folder, dir: path.join(main, folder), suffix: mainSuffix })),
      rawDirs: isDir(other) ? AUTHORS_FOLDERS.map((folder) => ({ folder, dir: path.join(other, folder), suffix: otherSuffix })) : [],
      maskDirs: AUTHORS_FOLDERS.map((folder) => ({ folder, dir: path.join(root, 'ICH_lesion_masks', folder), suffix: /_mask\.nii(\.gz)?$/ })),
    };
  }
  for (const base of [path.join(root, '3D_dataset'), root]) {
    const images = path.join(base, 'PREPROCESSED IMAGES');
    if (isDir(images) || fs.existsSync(path.join(base, 'CSV', 'ALL_PATIENTS.csv'))) {
      return {
        layout: 'digital-csic',
        clinicalFile: path.join(base, 'CSV', 'ALL_PATIENTS.csv'),
        imageDirs: CSIC_FOLDERS.map((folder) => ({ folder, dir: path.join(images, folder), suffix: /\.npy$/ })),
        rawDirs: [],
        maskDirs: [],
      };
    }
  }
  throw new Error(
    `dataset directory expected ICH_nii_StrippedSkull/, ICH_nii/ and ICH_tabular_data/ (authors' layout) or 3D_dataset/ (DIGITAL.CSIC layout), got neither (${root})`,
  );
}

/** Patient ID from an image file name: `12_brain.nii.gz`, `12.nii.gz`, `12.npy`, `12_mask.nii.gz` all give "12". */
export function patientIdFromFile(file: string): string {
  const base = path.basename(file).replace(/\.(nii\.gz|nii|npy)$/i, '').replace(/_(brain|mask)$/i, '');
  return normalisePatientId(base);
}

function scan(dirs: LayoutPaths['imageDirs'], kind: string, issues: DataIssue[]): Map<string, { file: string; folder: string }> {
  const found = new Map<string, { file: string; folder: string }>();
  for (const { folder, dir, suffix } of dirs) {
    for (const name of listFiles(dir)) {
      if (!suffix.test(name)) continue;
      const file = path.join(dir, name);
      const id = patientIdFromFile(name);
      const prior = found.get(id);
      if (prior) {
        issues.push({ severity: 'error', file, patientId: id, message: `${kind} expected once per patient, got a second one besides ${prior.file}` });
        continue;
      }
      found.set(id, { file, folder });
    }
  }
  return found;
}

/**
 * Discovers a dataset: reads and validates the clinical table, finds every scan, and joins them by patient ID.
 * Patients keep the clinical table's row order, the order the authors' splits index.
 * Never throws for bad content: rows without a scan, scans without a row, bad rows and duplicate scans become
 * issues and the rest of the cohort is still returned. Patient 213 is excluded as in the paper.
 * @param root dataset directory (`ICH_DATA_DIR`, default data/synthetic).
 */
export function discoverCohort(
  root: string,
  options: { imageSource?: ImageSource; excludeIds?: readonly string[] } = {},
): Cohort {
  const paths = detectLayout(root, options.imageSource);
  const issues: DataIssue[] = [];
  const excludeIds = new Set((options.excludeIds ?? EXCLUDED_PATIENT_IDS).map(normalisePatientId));
  if (paths.layout === 'authors' && options.imageSource !== 'raw' && !paths.imageDirs[0].dir.includes('StrippedSkull')) {
    issues.push({ severity: 'warning', file: path.join(root, 'ICH_nii_StrippedSkull'), message: 'skull-stripped scans expected (the paper trains on them), got none: using ICH_nii (`ich skull-strip` writes them)' });
  }
  for (const { dir } of paths.imageDirs) {
    if (!isDir(dir)) issues.push({ severity: 'warning', file: dir, message: 'image folder expected, got none' });
  }
  const table = readClinicalTable(paths.clinicalFile, { excludeIds: options.excludeIds });
  issues.push(...table.issues);
  const images = scan(paths.imageDirs, 'scan', issues);
  const raws = scan(paths.rawDirs, 'raw scan', issues);
  const masks = scan(paths.maskDirs, 'lesion mask', issues);
  const byId = new Map(table.records.map((r) => [r.patientId, r]));
  const patients: Patient[] = [];
  const rowsWithoutImage: string[] = [];
  for (const record of table.records) {
    const image = images.get(record.patientId);
    if (!image) {
      rowsWithoutImage.push(record.patientId);
      issues.push({ severity: 'warning', file: paths.clinicalFile, row: record.line, patientId: record.patientId, message: 'scan expected for this row, got none (patient skipped)' });
      continue;
    }
    const expectedFolder = paths.layout === 'authors' ? (record.label === 1 ? 'POOR_PROGNOSIS' : 'GOOD_PROGNOSIS') : image.folder;
    if (image.folder !== expectedFolder) {
      issues.push({ severity: 'warning', file: image.file, patientId: record.patientId, message: `folder expected ${expectedFolder} for label ${record.label}, got ${image.folder} (the table's label is used)` });
    }
    patients.push({
      id: record.patientId,
      label: record.label,
      age: record.age,
      gcs: record.gcs,
      clinical: record,
      imagePath: image.file,
      rawImagePath: raws.get(record.patientId)?.file,
      maskPath: masks.get(record.patientId)?.file,
      folder: image.folder,
    });
  }
  const imagesWithoutRow: string[] = [];
  const badRowIds = new Set(table.issues.filter((i) => i.severity === 'error' && i.patientId).map((i) => i.patientId!));
  for (const [id, image] of images) {
    if (byId.has(id) || excludeIds.has(id)) continue;
    imagesWithoutRow.push(id);
    issues.push({
      severity: 'warning',
      file: image.file,
      patientId: id,
      message: badRowIds.has(id) ? 'usable clinical row expected, got a row with errors (scan skipped)' : 'clinical row expected for this scan, got none (scan skipped)',
    });
  }
  return {
    root,
    layout: paths.layout,
    clinicalFile: paths.clinicalFile,
    patients,
    table,
    rowsWithoutImage,
    imagesWithoutRow,
    excluded: table.excluded,
    issues,
  };
}
