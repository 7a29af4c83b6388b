import * as fs from 'node:fs';
import * as path from 'node:path';
import { Patient } from '../data/cohort';
import { VolumeCache } from '../data/cache';
import { preprocessLesionMask, preprocessedAffine } from '../data/lesion';
import { PreprocessOptions, VolumeShape } from '../data/preprocess';
import { writeNifti } from '../io/nifti';
import { readVolume } from '../io/read-volume';
import { CheckpointMeta, loadModel } from '../models/checkpoint';
import { buildImageModel, ImageModel } from '../models/multitask';
import { paperDisplayMap } from './display';
import { LesionLocalisation, lesionLocalisation, mapSimilarity, summariseLocalisation } from './evaluate';
import { explainVolume, SALIENCY_METHODS, saliencyMap, SaliencyMaps, SaliencyMethod, SaliencyOptions } from './saliency';

/** A loaded checkpoint and what it needs to explain patients. */
export interface ExplainableModel {
  model: ImageModel;
  meta: CheckpointMeta;
  /** Where it was loaded from (a `best/` checkpoint folder). */
  dir: string;
  /** The preprocessing it was trained with (input size from the checkpoint, the paper's padding and quirks). */
  preprocess: PreprocessOptions;
}

/** Loads a checkpoint folder (`runs/<profile>/<model>/fold-K/best`) for saliency. */
export function loadExplainableModel(dir: string, preprocess: PreprocessOptions = {}): ExplainableModel {
  const { model, meta } = loadModel(dir);
  return { model, meta, dir, preprocess: { ...preprocess, size: meta.inputSize } };
}

/**
 * The same architecture with freshly initialised weights (every layer re-drawn from the initialisation, seed
 * `seed`): the model-randomisation floor of the saliency evaluation.
 */
export function randomisedModel(m: ExplainableModel, seed = 12345): ExplainableModel {
  return { ...m, model: buildImageModel(m.meta.spec, seed, m.meta.densenet), dir: `${m.dir} (randomised weights, seed ${seed})` };
}

/** One patient explained: the network input, the maps, and (when a lesion mask exists) the hematoma in that geometry. */
export interface PatientSaliency {
  patientId: string;
  /** 1 = poor prognosis. */
  label: number;
  shape: VolumeShape;
  /** The preprocessed volume the maps explain. */
  volume: Float32Array;
  maps: SaliencyMaps;
  /** Hematoma fraction per voxel (data/lesion.ts), or null without a mask. */
  lesion: Float32Array | null;
}

/** A patient's network input (through the shared cache) and, when a mask exists, its hematoma in that geometry. */
export async function patientInputs(m: ExplainableModel, patient: Patient, cacheDir: string): Promise<Omit<PatientSaliency, 'maps'>> {
  const pre = await new VolumeCache(cacheDir, m.preprocess).get(patient.imagePath);
  const lesion = patient.maskPath ? preprocessLesionMask(await readVolume(patient.maskPath), undefined, m.preprocess).data : null;
  return { patientId: patient.id, label: patient.label, shape: pre.shape, volume: pre.data, lesion };
}

/** Explains one patient's scan with a loaded model (preprocessing through the shared cache). */
export async function explainPatient(m: ExplainableModel, patient: Patient, options: SaliencyOptions & { cacheDir: string }): Promise<PatientSaliency> {
  const inputs = await patientInputs(m, patient, options.cacheDir);
  return { ...inputs, maps: await explainVolume(m.model, inputs.volume, inputs.shape, options) };
}

/** One row of the localisation evaluation: a model (trained or randomised), a method, a patient. */
export interface LocalisationRow extends LesionLocalisation {
  model: string;
  weights: 'trained' | 'randomised';
  method: SaliencyMethod;
  patientId: string;
}

/** What {@link evaluateLocalisation} returns. */
export interface LocalisationReport {
  rows: LocalisationRow[];
  /** Per model, weights and method: mean mass fraction, chance, hit rate. */
  summary: { model: string; weights: 'trained' | 'randomised'; method: SaliencyMethod; patients: number; emptyMaps: number; massFraction: number; lesionFraction: number; hitRate: number }[];
  /** Per model and method: mean rank similarity between trained and randomised maps (sanity check: low is good). */
  similarity: { model: string; method: SaliencyMethod; meanSpearman: number }[];
  /** Patients left out, with the reason (no mask, an empty mask, an unreadable scan). */
  skipped: { patientId: string; reason: string }[];
}

/**
 * Measures how well each method's maps (paper display: min-max, threshold) point at the hematoma, for trained
 * models and their randomised copies, on patients with lesion masks (beyond the paper: the synthetic cohort's masks
 * are ground truth). A patient that cannot be explained is skipped and reported, never fatal.
 * Checkpoints are loaded one at a time and freed after use.
 * @param models each model name with checkpoints and the patients each may explain (e.g. every fold's `best/` and
 *   that fold's test set, so every patient is explained by a model that never trained on it).
 */
export async function evaluateLocalisation(
  models: readonly { name: string; checkpoint: string; patients: readonly Patient[] }[],
  options: SaliencyOptions & { cacheDir: string; threshold?: number; randomSeed?: number },
): Promise<LocalisationReport> {
  const rows: LocalisationRow[] = [];
  const skipped: LocalisationReport['skipped'] = [];
  const similarities = new Map<string, number[]>();
  for (const { name, checkpoint, patients } of models) {
    const model = loadExplainableModel(checkpoint);
    const random = randomisedModel(model, options.randomSeed);
    try {
      for (const patient of patients) {
        if (!patient.maskPath) {
          skipped.push({ patientId: patient.id, reason: 'no lesion mask' });
          continue;
        }
        // One read and preprocessing of the scan and mask serves both weightings.
        let lesion: Float32Array;
        let trained: SaliencyMaps;
        let randomised: SaliencyMaps;
        try {
          const inputs = await patientInputs(model, patient, options.cacheDir);
          lesion = inputs.lesion!;
          trained = await explainVolume(model.model, inputs.volume, inputs.shape, options);
          randomised = await explainVolume(random.model, inputs.volume, inputs.shape, options);
        } catch (err) {
          skipped.push({ patientId: patient.id, reason: (err as Error).message });
          continue;
        }
        for (const method of SALIENCY_METHODS) {
          for (const [weights, maps] of [['trained', trained], ['randomised', randomised]] as const) {
            const display = paperDisplayMap(saliencyMap(maps, method), options.threshold);
            rows.push({ model: name, weights, method, patientId: patient.id, ...lesionLocalisation(display, lesion) });
          }
          const key = `${name}\u0000${method}`;
          similarities.set(key, [...(similarities.get(key) ?? []), mapSimilarity(saliencyMap(trained, method), saliencyMap(randomised, method))]);
        }
      }
    } finally {
      random.model.dispose();
      model.model.dispose();
    }
  }
  const summary: LocalisationReport['summary'] = [];
  for (const name of new Set(models.map((m) => m.name))) {
    for (const weights of ['trained', 'randomised'] as const) {
      for (const method of SALIENCY_METHODS) {
        const picked = rows.filter((r) => r.model === name && r.weights === weights && r.method === method);
        if (picked.length) summary.push({ model: name, weights, method, ...summariseLocalisation(picked) });
      }
    }
  }
  const similarity = [...similarities].map(([key, values]) => {
    const [model, method] = key.split('\u0000');
    const finite = values.filter((v) => Number.isFinite(v));
    return { model, method: method as SaliencyMethod, meanSpearman: finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : NaN };
  });
  return { rows, summary, similarity, skipped };
}

/**
 * Writes a saliency map as NIfTI-1 (float32) in the preprocessed volume's geometry, placed in the world by the
 * scan's affine (data/lesion.ts, preprocessedAffine), so nibabel and viewers overlay it on the original scan.
 * @param map [depth, height, width] values (raw or display-normalised).
 */
export async function writeSaliencyNifti(file: string, map: Float32Array, shape: VolumeShape, scanFile: string, preprocess: PreprocessOptions, description: string): Promise<void> {
  const scan = await readVolume(scanFile);
  const affine = preprocessedAffine(scan, { ...preprocess, size: shape });
  const voxelSize = [0, 1, 2].map((c) => Math.hypot(affine[0][c], affine[1][c], affine[2][c])) as [number, number, number];
  const [d, h, w] = shape;
  writeNifti(path.resolve(file), { dims: [w, h, d], raw: map, voxelSize, affine, description: description.slice(0, 79) });
}

/**
 * Every fold's selected checkpoint of a cross-validation run with that fold's test patients, for
 * {@link evaluateLocalisation}: `<out>/fold-K/best` and the patients of fold K's predictions.
 * @throws naming the fold whose checkpoint is missing.
 */
export function foldCheckpoints(name: string, out: string, results: readonly { fold: number; predictions: readonly { patientId: string }[] }[], patients: readonly Patient[]): { name: string; checkpoint: string; patients: Patient[] }[] {
  const byId = new Map(patients.map((p) => [p.id, p]));
  return results.map((r) => {
    const checkpoint = path.join(out, `fold-${r.fold}`, 'best');
    if (!fs.existsSync(path.join(checkpoint, 'model.json'))) throw new Error(`saliency expected a checkpoint for fold ${r.fold}, got none (${checkpoint})`);
    return { name, checkpoint, patients: r.predictions.flatMap((p) => (byId.has(p.patientId) ? [byId.get(p.patientId)!] : [])) };
  });
}
