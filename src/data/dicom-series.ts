/**
 * DICOM CT series to volumes: a folder's files grouped by SeriesInstanceUID, each series' slices ordered in space and
 * stacked into a {@link Volume} with the voxel order and RAS affine dcm2niix writes, so that a scan converted here
 * feeds the paper's preprocessing exactly as the same scan converted by dcm2niix and read by nibabel would.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DICOM_TAGS as T, DicomElement, DicomFile, dicomItems, dicomNumber, dicomNumbers, dicomPixels, dicomString, DicomTag, parseDicom } from '../io/dicom';
import { allocateVoxels, RawVoxels, Volume, voxelTypeOf, VoxelType } from '../io/volume';
import { cross3, dot3, norm3 } from '../math/vec3';
import { DataIssue } from './issues';

/** One slice's header: where it lies and how its pixels scale, without its pixels. */
export interface DicomSliceHeader {
  file: string;
  /** 0-based frame within the file (0 for the classic one-slice files; enhanced CT holds a series in one file). */
  frame: number;
  seriesUid: string;
  seriesNumber?: number;
  seriesDescription: string;
  /** PatientID (0010,0020), when the file has one. */
  patientId?: string;
  modality: string;
  imageType: string;
  instanceNumber?: number;
  /** ImagePositionPatient: the first pixel's centre, mm, DICOM's LPS frame. */
  position: [number, number, number];
  /** ImageOrientationPatient: the row direction (along a row, as the column index grows) then the column direction. */
  orientation: [number, number, number, number, number, number];
  /** PixelSpacing: [between rows, between columns] in mm. */
  pixelSpacing: [number, number];
  sliceThickness?: number;
  rows: number;
  columns: number;
  bitsAllocated: number;
  pixelRepresentation: number;
  slope: number;
  intercept: number;
  transferSyntaxName: string;
  manufacturer: string;
  convolutionKernel: string;
  gantryTilt?: number;
}

/** A series as found in a folder: its slices' headers and what tells it apart from the study's other series. */
export interface DicomSeries {
  uid: string;
  number?: number;
  description: string;
  modality: string;
  /** Every slice's file, in the order the folder listed them. */
  slices: DicomSliceHeader[];
  /** True when the series is a localizer / scout (ImageType LOCALIZER) or has a single slice: never a CT volume. */
  localizer: boolean;
}

/** A series stacked into a volume, with how it was laid out and what was unusual about it. */
export interface DicomVolume {
  volume: Volume;
  series: DicomSeries;
  /** Slice spacing along the slice normal (mm): the mean step between consecutive slices. */
  sliceSpacing: number;
  /** Degrees between the slice stacking direction and the slice normal (gantry tilt); 0 for a straight stack. */
  tiltDegrees: number;
  /** Non-fatal findings (uneven spacing, gantry tilt, per-slice rescale), one line each. */
  warnings: string[];
}

function vec3(values: number[] | undefined, n: number, what: string, file: string): number[] {
  if (!values || values.length < n || values.some((v) => !Number.isFinite(v))) {
    throw new Error(`DICOM ${what} expected ${n} numbers, got ${values ? JSON.stringify(values) : 'none'} (${file})`);
  }
  return values.slice(0, n);
}

/**
 * The slice headers of a parsed file: one for a classic image, one per frame for an enhanced multi-frame one, whose
 * position, orientation, spacing and rescale come from its per-frame or shared functional groups (PS3.3 C.7.6.16).
 * @throws when the file lacks the geometry a volume needs.
 */
export function sliceHeaders(dicom: DicomFile): DicomSliceHeader[] {
  const file = dicom.source;
  const seriesUid = dicomString(dicom, T.seriesInstance.tag);
  if (!seriesUid) throw new Error(`DICOM SeriesInstanceUID (0020,000E) expected, got none (${file})`);
  const rows = dicomNumber(dicom, T.rows.tag);
  const columns = dicomNumber(dicom, T.columns.tag);
  if (!rows || !columns) throw new Error(`DICOM Rows and Columns expected, got ${rows ?? 'none'} x ${columns ?? 'none'} (${file}: not an image)`);
  const frames = dicomNumber(dicom, T.numberOfFrames.tag, 1)!;
  const shared = dicomItems(dicom.elements, T.sharedFunctionalGroups.tag)[0];
  const perFrame = dicomItems(dicom.elements, T.perFrameFunctionalGroups.tag);
  if (frames > 1 && perFrame.length !== frames) {
    throw new Error(`DICOM PerFrameFunctionalGroupsSequence expected ${frames} items (NumberOfFrames), got ${perFrame.length} (${file})`);
  }
  const headers: DicomSliceHeader[] = [];
  for (let frame = 0; frame < frames; frame++) {
    // A frame's attribute: its own functional group, then the shared one, then the top-level data set.
    const groups: Map<DicomTag, DicomElement>[] = [perFrame[frame], shared].filter((g): g is Map<DicomTag, DicomElement> => g !== undefined);
    const lookup = (sequence: DicomTag, tag: DicomTag): number[] | undefined => {
      for (const g of groups) {
        const item = dicomItems(g, sequence)[0];
        const values = item && dicomNumbers(dicom, tag, item);
        if (values) return values;
      }
      return dicomNumbers(dicom, tag);
    };
    const where = frames > 1 ? `${file}, frame ${frame + 1}` : file;
    const position = vec3(lookup(T.planePosition.tag, T.imagePosition.tag), 3, 'ImagePositionPatient (0020,0032)', where) as DicomSliceHeader['position'];
    const orientation = vec3(lookup(T.planeOrientation.tag, T.imageOrientation.tag), 6, 'ImageOrientationPatient (0020,0037)', where) as DicomSliceHeader['orientation'];
    const spacing = vec3(lookup(T.pixelMeasures.tag, T.pixelSpacing.tag), 2, 'PixelSpacing (0028,0030)', where) as DicomSliceHeader['pixelSpacing'];
    if (!(spacing[0] > 0 && spacing[1] > 0)) throw new Error(`DICOM PixelSpacing expected positive, got ${spacing.join('\\')} (${where})`);
    headers.push({
      file,
      frame,
      seriesUid,
      seriesNumber: dicomNumber(dicom, T.seriesNumber.tag),
      seriesDescription: dicomString(dicom, T.seriesDescription.tag) ?? '',
      patientId: dicomString(dicom, T.patientId.tag),
      modality: dicomString(dicom, T.modality.tag) ?? '',
      imageType: dicomString(dicom, T.imageType.tag) ?? '',
      instanceNumber: dicomNumber(dicom, T.instanceNumber.tag),
      position,
      orientation,
      pixelSpacing: spacing,
      sliceThickness: lookup(T.pixelMeasures.tag, T.sliceThickness.tag)?.[0],
      rows,
      columns,
      bitsAllocated: dicomNumber(dicom, T.bitsAllocated.tag, 16)!,
      pixelRepresentation: dicomNumber(dicom, T.pixelRepresentation.tag, 0)!,
      slope: lookup(T.pixelValueTransformation.tag, T.rescaleSlope.tag)?.[0] ?? 1,
      intercept: lookup(T.pixelValueTransformation.tag, T.rescaleIntercept.tag)?.[0] ?? 0,
      transferSyntaxName: dicom.transferSyntaxName,
      manufacturer: dicomString(dicom, T.manufacturer.tag) ?? '',
      convolutionKernel: dicomString(dicom, T.convolutionKernel.tag) ?? '',
      gantryTilt: dicomNumber(dicom, T.gantryTilt.tag),
    });
  }
  return headers;
}

function listFilesDeep(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Reads the first bytes to tell a DICOM file from anything else in the folder (DICOMDIR, notes, thumbnails). */
function looksLikeDicom(file: string): boolean {
  if (path.basename(file).toUpperCase() === 'DICOMDIR') return false;
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(132);
    const n = fs.readSync(fd, head, 0, 132, 0);
    if (n >= 132 && head.toString('latin1', 128, 132) === 'DICM') return true;
    // A bare data set (no preamble) starts with a group 0008 element.
    return n >= 8 && head.readUInt16LE(0) === 0x0008 && /\.(dcm|ima)$/i.test(file);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Finds every DICOM image under `dir` (recursively) and groups the slices by series. Files that are not DICOM are
 * passed over; DICOM files that cannot be read, or lack a slice's geometry, become issues and the rest are kept.
 * Series come out by series number, then UID.
 */
export function scanDicomFolder(dir: string): { series: DicomSeries[]; issues: DataIssue[]; files: number } {
  const issues: DataIssue[] = [];
  const bySeries = new Map<string, DicomSliceHeader[]>();
  let files = 0;
  for (const file of listFilesDeep(dir)) {
    if (!looksLikeDicom(file)) continue;
    files++;
    try {
      for (const header of sliceHeaders(parseDicom(fs.readFileSync(file), file, { stopAtPixels: true }))) {
        const list = bySeries.get(header.seriesUid) ?? [];
        list.push(header);
        bySeries.set(header.seriesUid, list);
      }
    } catch (err) {
      issues.push({ severity: 'error', file, message: `${(err as Error).message.replace(` (${file})`, '')} (file skipped)` });
    }
  }
  const series: DicomSeries[] = [...bySeries.entries()].map(([uid, slices]) => ({
    uid,
    number: slices[0].seriesNumber,
    description: slices[0].seriesDescription,
    modality: slices[0].modality,
    slices,
    localizer: slices.length < 2 || /LOCALIZER/i.test(slices[0].imageType),
  }));
  series.sort((a, b) => (a.number ?? Infinity) - (b.number ?? Infinity) || (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
  return { series, issues, files };
}

/**
 * Which series of a study becomes the patient's scan.
 * - 'auto': among CT series that are not localizers, narrowed step by step where some series qualify: axial
 *   slices (the normal within 45 degrees of the patient's z axis: the paper's scans are axial; reformats are not),
 *   not a bone or lung reconstruction (by SeriesDescription or ConvolutionKernel), ORIGINAL rather than DERIVED images;
 *   then the one with the most slices (the thinnest reconstruction; the paper's preprocessing averages slices down to
 *   40 with area interpolation), ties to the lower series number.
 * - a number: the series with that SeriesNumber.
 * - any other text: the series whose SeriesDescription contains it (case-insensitive), which must be one.
 * @throws listing the series found when none, or several, match.
 */
export function chooseSeries(series: DicomSeries[], choice: string, where: string): DicomSeries {
  const list = () => series.map((s) => `${s.number ?? '?'} "${s.description}" (${s.modality}, ${s.slices.length} slices${s.localizer ? ', localizer' : ''})`).join('; ');
  if (series.length === 0) throw new Error(`DICOM series expected at least one, got none (${where})`);
  if (choice === 'auto') {
    let volumes = series.filter((s) => !s.localizer && (s.modality === 'CT' || s.modality === ''));
    if (volumes.length === 0) throw new Error(`DICOM CT series of several slices expected, got ${list()} (${where})`);
    const preferences: ((s: DicomSeries) => boolean)[] = [
      (s) => {
        const o = s.slices[0].orientation;
        return Math.abs(o[0] * o[4] - o[1] * o[3]) >= Math.SQRT1_2;
      },
      (s) => !/\b(bone|lung)/i.test(`${s.description} ${s.slices[0].convolutionKernel}`),
      (s) => !/^DERIVED/i.test(s.slices[0].imageType),
    ];
    for (const prefer of preferences) {
      const kept = volumes.filter(prefer);
      if (kept.length > 0) volumes = kept;
    }
    return volumes.reduce((best, s) => (s.slices.length > best.slices.length ? s : best));
  }
  const matches = /^\d+$/.test(choice)
    ? series.filter((s) => s.number === Number(choice))
    : series.filter((s) => s.description.toLowerCase().includes(choice.toLowerCase()));
  if (matches.length !== 1) {
    throw new Error(`DICOM series "${choice}" expected to match one series, got ${matches.length} among ${list()} (${where})`);
  }
  return matches[0];
}

/** The start of the warning for a stack tilted by `degrees`, which data/gantry-tilt rewrites when it resamples. */
export function gantryTiltLabel(degrees: number): string {
  return `gantry tilt of ${degrees.toFixed(2)} degrees`;
}

/**
 * Stacks a series into a volume laid out as dcm2niix lays out its NIfTI (checked against dcm2niix 1.0.20220720 read
 * by nibabel): i = the DICOM column, j = the DICOM row counted from the last row up (dcm2niix flips rows), k = the
 * slices in ascending position along the slice normal (row direction x column direction), whatever the files'
 * names or instance numbers. The affine maps (i, j, k) to RAS millimetres, its third column the mean step between
 * slices (so a gantry-tilted stack keeps its true geometry; dcm2niix's uncorrected file has the same voxels, and
 * data/gantry-tilt `resolveGantryTilt` resamples it onto perpendicular planes as dcm2niix's `_Tilt_1` file).
 * Stored values stay as the files hold them with the series' RescaleSlope/Intercept as the NIfTI scaling; a series
 * whose slices rescale differently is converted to float32 values.
 * @throws naming the file for slices that disagree (size, orientation, spacing, pixel type), two slices at one
 *   position, or undecodable pixels.
 */
export function assembleSeries(series: DicomSeries, readFile: (file: string) => Uint8Array = (f) => fs.readFileSync(f)): DicomVolume {
  const first = series.slices[0];
  const where = `series ${series.number ?? '?'} "${series.description}", ${path.dirname(first.file)}`;
  const warnings: string[] = [];
  const rowDir = first.orientation.slice(0, 3);
  const colDir = first.orientation.slice(3, 6);
  if (Math.abs(norm3(rowDir) - 1) > 1e-3 || Math.abs(norm3(colDir) - 1) > 1e-3 || Math.abs(dot3(rowDir, colDir)) > 1e-3) {
    throw new Error(`DICOM ImageOrientationPatient expected two orthogonal unit vectors, got ${first.orientation.join('\\')} (${first.file})`);
  }
  const normal = cross3(rowDir, colDir);
  for (const s of series.slices) {
    const same = (what: string, a: unknown, b: unknown) => {
      if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`DICOM ${what} expected ${JSON.stringify(b)} as in ${first.file}, got ${JSON.stringify(a)} (${s.file}; ${where})`);
    };
    same('Rows x Columns', [s.rows, s.columns], [first.rows, first.columns]);
    same('BitsAllocated and PixelRepresentation', [s.bitsAllocated, s.pixelRepresentation], [first.bitsAllocated, first.pixelRepresentation]);
    if (s.orientation.some((v, i) => Math.abs(v - first.orientation[i]) > 1e-4)) same('ImageOrientationPatient', s.orientation, first.orientation);
    if (s.pixelSpacing.some((v, i) => Math.abs(v - first.pixelSpacing[i]) > 1e-4)) same('PixelSpacing', s.pixelSpacing, first.pixelSpacing);
  }
  const slices = series.slices.map((s) => ({ s, along: dot3(s.position, normal) })).sort((a, b) => a.along - b.along);
  const n = slices.length;
  const multiFrame = new Set(series.slices.filter((x) => x.frame > 0).map((x) => x.file));
  const frameName = (x: DicomSliceHeader) => (multiFrame.has(x.file) ? `${x.file} frame ${x.frame + 1}` : x.file);
  for (let k = 1; k < n; k++) {
    if (slices[k].along - slices[k - 1].along < 1e-3) {
      throw new Error(
        `DICOM slices expected at distinct positions, got two at ${slices[k].along.toFixed(3)} mm along the normal: ${frameName(slices[k - 1].s)} and ${frameName(slices[k].s)} (${where}: several echoes, phases or reconstructions in one series?)`,
      );
    }
  }
  let step = [0, 0, 0];
  let sliceSpacing = first.sliceThickness && first.sliceThickness > 0 ? first.sliceThickness : 1;
  let tiltDegrees = 0;
  if (n > 1) {
    const p0 = slices[0].s.position;
    const pn = slices[n - 1].s.position;
    step = [0, 1, 2].map((a) => (pn[a] - p0[a]) / (n - 1));
    sliceSpacing = (slices[n - 1].along - slices[0].along) / (n - 1);
    const gaps = slices.slice(1).map((x, k) => x.along - slices[k].along);
    const lo = Math.min(...gaps);
    const hi = Math.max(...gaps);
    if (hi - lo > Math.max(0.01, 0.01 * sliceSpacing)) {
      warnings.push(`slice spacing varies from ${lo.toFixed(3)} to ${hi.toFixed(3)} mm (mean ${sliceSpacing.toFixed(3)} mm used in the affine; missing slices or a two-part acquisition?)`);
    }
    tiltDegrees = (Math.acos(Math.min(1, dot3(step, normal) / norm3(step))) * 180) / Math.PI;
    if (tiltDegrees > 0.01) warnings.push(`${gantryTiltLabel(tiltDegrees)}: voxels kept as acquired, the affine is sheared`);
  }
  const { rows, columns } = first;
  const sameRescale = slices.every(({ s }) => s.slope === first.slope && s.intercept === first.intercept);
  if (!sameRescale) warnings.push('RescaleSlope/Intercept differ between slices: values stored as float32');
  const planes = rows * columns;
  const voxels = planes * n;
  let raw: RawVoxels | undefined;
  let voxelType: VoxelType = 'float32';
  // An enhanced file holds every frame: parse it once.
  const parsed = new Map<string, DicomFile>();
  for (let k = 0; k < n; k++) {
    const { s } = slices[k];
    let dicom = parsed.get(s.file);
    if (!dicom) {
      dicom = parseDicom(readFile(s.file), s.file);
      // Only multi-frame files are kept: a classic series would otherwise hold every file's bytes at once.
      if ((dicomNumber(dicom, T.numberOfFrames.tag, 1) ?? 1) > 1) parsed.set(s.file, dicom);
    }
    const pixels = dicomPixels(dicom, s.frame);
    if (pixels.rows !== rows || pixels.columns !== columns) throw new Error(`DICOM pixels expected ${rows} x ${columns}, got ${pixels.rows} x ${pixels.columns} (${s.file})`);
    if (!raw) {
      const v = pixels.values;
      // Uint32 samples have no NIfTI integer type here: float64 holds them exactly.
      voxelType = !sameRescale ? 'float32' : v instanceof Uint32Array ? 'float64' : voxelTypeOf(v);
      raw = allocateVoxels(voxelType, voxels);
    }
    const scale = sameRescale ? 1 : s.slope;
    const offset = sameRescale ? 0 : s.intercept;
    const base = k * planes;
    for (let j = 0; j < rows; j++) {
      // dcm2niix's row flip: j counts rows from the last one up.
      const src = (rows - 1 - j) * columns;
      const dst = base + j * columns;
      for (let i = 0; i < columns; i++) raw[dst + i] = pixels.values[src + i] * scale + offset;
    }
  }
  const [rowSpacing, colSpacing] = first.pixelSpacing;
  const p0 = slices[0].s.position;
  // LPS origin of voxel (0, 0, 0): the first slice's last row.
  const origin = [0, 1, 2].map((a) => p0[a] + (rows - 1) * rowSpacing * colDir[a]);
  const lps = [0, 1, 2].map((a) => [colSpacing * rowDir[a], -rowSpacing * colDir[a], n > 1 ? step[a] : sliceSpacing * normal[a], origin[a]]);
  // DICOM's patient frame is LPS, NIfTI's is RAS: negate the first two rows.
  const affine = [[...lps[0].map((v) => -v)], [...lps[1].map((v) => -v)], lps[2], [0, 0, 0, 1]].map((row) => row.map((v) => (v === 0 ? 0 : v)));
  const volume: Volume = {
    source: `${path.dirname(first.file)} (${where.split(',')[0]})`,
    format: 'dicom',
    dims: [columns, rows, n],
    voxelType,
    voxelSize: [colSpacing, rowSpacing, Math.abs(sliceSpacing)],
    affine,
    raw: raw!,
    slope: sameRescale ? first.slope : 1,
    intercept: sameRescale ? first.intercept : 0,
    description: [first.manufacturer, first.convolutionKernel].filter(Boolean).join(' ').slice(0, 79),
  };
  return { volume, series, sliceSpacing, tiltDegrees, warnings };
}
