import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { writeFileAtomic } from '../../io/atomic';
import { formatCsv } from '../../io/csv';
import { CLINICAL_COLUMNS } from '../clinical';
import { generateClinical, SynthPatient } from './clinical';
import { WrittenScan, writeSynthPatient } from './write-patient';

/** Settings of a synthetic cohort; recorded in `synthetic.json` so a stale cohort is regenerated. */
export interface SynthOptions {
  out: string;
  /** Default 1. */
  seed?: number;
  /** In-plane voxels per side; default 512 (the real scans'). */
  inPlane?: number;
  /** Clinical rows (patient 213 has no scan); default 262. */
  patients?: number;
  /** Worker threads; default min(2, CPUs); 0 renders in this thread. */
  workers?: number;
  /** Called after each written patient. */
  onProgress?: (done: number, total: number, id: number) => void;
}

/** What a generation produced. */
export interface SynthSummary {
  root: string;
  rows: number;
  withImage: number;
  poor: number;
  seconds: number;
}

/** Marker file of a generated cohort, holding its settings. */
export const SYNTH_MANIFEST = 'synthetic.json';
const GENERATED = ['ICH_nii', 'ICH_nii_StrippedSkull', 'ICH_lesion_masks', 'ICH_tabular_data'];
const MANIFEST_VERSION = 1;

/** True when `dir` holds a complete synthetic cohort made with these settings. */
export function isSyntheticCohortCurrent(dir: string, options: Omit<SynthOptions, 'out'> = {}): boolean {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, SYNTH_MANIFEST), 'utf8'));
    return m.version === MANIFEST_VERSION && m.seed === (options.seed ?? 1) && m.inPlane === (options.inPlane ?? 512) && m.patients === (options.patients ?? 262);
  } catch {
    return false;
  }
}

function runWorkers(root: string, seed: number, inPlane: number, patients: SynthPatient[], workers: number, onWritten: (w: WrittenScan) => void): Promise<string[]> {
  const script = path.join(__dirname, 'worker.js');
  const shares: SynthPatient[][] = Array.from({ length: workers }, () => []);
  patients.forEach((p, i) => shares[i % workers].push(p));
  const errors: string[] = [];
  return Promise.all(
    shares.map(
      (share) =>
        new Promise<void>((resolve, reject) => {
          const worker = new Worker(script, { workerData: { root, seed, inPlane, patients: share } });
          worker.on('message', (msg: { ok: boolean; written?: WrittenScan; id?: number; error?: string }) => {
            if (msg.ok && msg.written) onWritten(msg.written);
            else errors.push(`patient ${msg.id}: ${msg.error}`);
          });
          worker.on('error', reject);
          worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`synthetic cohort worker expected exit code 0, got ${code}`))));
        }),
    ),
  ).then(() => errors);
}

/**
 * Writes the synthetic cohort in the authors' layout (DESIGN.md, "Data contract"): `ICH_nii/`, `ICH_nii_StrippedSkull/`,
 * `ICH_lesion_masks/` under GOOD_PROGNOSIS/POOR_PROGNOSIS, `ICH_tabular_data/CLINICAL_DATA_ICH.csv` (43 columns),
 * `ICH_synthetic_truth.csv` (hidden image variables) and the manifest. Deterministic for the seed whatever the
 * number of workers. Refuses to write into a non-empty folder that is not a synthetic cohort.
 */
export async function generateSyntheticCohort(options: SynthOptions): Promise<SynthSummary> {
  const started = Date.now();
  const root = path.resolve(options.out);
  const seed = options.seed ?? 1;
  const inPlane = options.inPlane ?? 512;
  const rows = options.patients ?? 262;
  if (!Number.isInteger(inPlane) || inPlane < 32 || inPlane > 1024) throw new Error(`--in-plane expected an integer in [32, 1024], got ${options.inPlane}`);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed expected a non-negative integer, got ${options.seed}`);
  if (fs.existsSync(root) && fs.readdirSync(root).length > 0 && !fs.existsSync(path.join(root, SYNTH_MANIFEST))) {
    const ours = fs.readdirSync(root).every((n) => GENERATED.includes(n) || n === 'ICH_synthetic_truth.csv' || n === 'README.txt');
    if (!ours) throw new Error(`synthetic cohort output expected an empty folder or an earlier synthetic cohort, got other files (${root})`);
  }
  fs.rmSync(path.join(root, SYNTH_MANIFEST), { force: true });
  for (const name of GENERATED) fs.rmSync(path.join(root, name), { recursive: true, force: true });
  fs.mkdirSync(root, { recursive: true });

  const clinical = generateClinical(seed, rows);
  const header = CLINICAL_COLUMNS.map((c) => c.name);
  writeFileAtomic(
    path.join(root, 'ICH_tabular_data', 'CLINICAL_DATA_ICH.csv'),
    formatCsv(header, clinical.map((p) => header.map((h) => p.row[h]))),
  );
  const imaged = clinical.filter((p) => p.hasImage);
  const written: WrittenScan[] = [];
  const onWritten = (w: WrittenScan) => {
    written.push(w);
    options.onProgress?.(written.length, imaged.length, w.id);
  };
  const workers = options.workers ?? Math.min(2, os.cpus().length);
  let errors: string[] = [];
  if (workers <= 0) {
    for (const p of imaged) onWritten(writeSynthPatient(root, p, seed, inPlane));
  } else {
    errors = await runWorkers(root, seed, inPlane, imaged, Math.min(workers, imaged.length), onWritten);
  }
  if (errors.length > 0) throw new Error(`synthetic cohort expected every scan written, got ${errors.length} failures: ${errors.slice(0, 3).join('; ')}`);
  written.sort((a, b) => a.id - b.id);
  const byId = new Map(clinical.map((p) => [p.id, p]));
  const truthHeader = ['PatientID', 'label', 'GCS', 'Age', 'scanner', 'slices', 'voxel_x_mm', 'voxel_y_mm', 'voxel_z_mm', 'hematoma_ml', 'hematoma_voxels', 'ivh_voxels', 'ivh_fraction', 'location', 'side', 'midline_shift_mm', 'atrophy'];
  writeFileAtomic(
    path.join(root, 'ICH_synthetic_truth.csv'),
    formatCsv(
      truthHeader,
      written.map((w) => {
        const p = byId.get(w.id)!;
        const r = (v: number, d = 3) => Math.round(v * 10 ** d) / 10 ** d;
        return [w.id, p.label, p.gcs, p.age, w.scanner, w.slices, r(w.voxelSize[0], 4), r(w.voxelSize[1], 4), r(w.voxelSize[2], 4), r(w.hematomaMl), w.hematomaVoxels, w.ivhVoxels, r(w.ivhFraction), w.location, w.side, r(w.midlineShiftMm), r(w.atrophy)];
      }),
    ),
  );
  writeFileAtomic(
    path.join(root, 'README.txt'),
    [
      'Synthetic ICH cohort generated by ich-prognosis (`ich data synth`). Not patient data.',
      'Layout and clinical columns follow the authors\' dataset; ICH_lesion_masks/ and ICH_synthetic_truth.csv hold the',
      'ground truth the generator drew each scan from (hematoma, ventricular blood, midline shift, atrophy).',
      '',
    ].join('\n'),
  );
  const seconds = (Date.now() - started) / 1000;
  writeFileAtomic(
    path.join(root, SYNTH_MANIFEST),
    JSON.stringify({ version: MANIFEST_VERSION, seed, inPlane, patients: rows, withImage: imaged.length, generatedSeconds: seconds }, null, 2) + '\n',
  );
  return { root, rows: clinical.length, withImage: imaged.length, poor: imaged.filter((p) => p.label === 1).length, seconds };
}
