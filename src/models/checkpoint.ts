import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { writeFileAtomic } from '../io/atomic';
import { DenseNetConfig } from './densenet3d';
import { buildImageModel, ImageModel } from './multitask';
import { ModelSpec } from './tasks';

/** What a checkpoint folder records besides the weights. */
export interface CheckpointMeta {
  format: 'ich-prognosis-checkpoint';
  version: 1;
  spec: ModelSpec;
  densenet: Partial<DenseNetConfig>;
  /** Preprocessed input [depth, height, width] the model was trained on. */
  inputSize: [number, number, number];
  /** Free-form facts (fold, epoch, validation metric, backend). */
  info: Record<string, unknown>;
}

/** Siblings a save leaves behind while it runs (`<dir>.tmp-<pid>`, `<dir>.old-<pid>`), newest first. */
function saveLeftovers(dir: string, kind: 'tmp' | 'old'): string[] {
  const parent = path.dirname(dir);
  const prefix = `${path.basename(dir)}.${kind}-`;
  let names: string[];
  try {
    names = fs.readdirSync(parent).filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
  return names.map((n) => path.join(parent, n)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
}

/**
 * The folder a checkpoint is read from: `dir` itself, or, when a save was killed between moving the previous folder
 * aside and moving the new one in (`dir` missing), the previous one (`<dir>.old-<pid>`), which is whole.
 */
function checkpointFolder(dir: string): string {
  if (fs.existsSync(path.join(dir, 'model.json'))) return dir;
  return saveLeftovers(dir, 'old').find((d) => fs.existsSync(path.join(d, 'model.json'))) ?? dir;
}

/** True when a checkpoint can be read at `dir` (or its previous folder, after an interrupted save). */
export function checkpointExists(dir: string): boolean {
  return fs.existsSync(path.join(checkpointFolder(dir), 'model.json'));
}

/**
 * Writes a model as a TensorFlow.js weights folder: `model.json` (the meta above plus a standard `weightsManifest`)
 * and `weights.bin`. The folder is written beside the target and renamed into place, so a reader never sees a
 * half-written checkpoint (and {@link readCheckpoint} takes the previous folder if the save dies between its two
 * renames). Extra named tensors (e.g. optimizer moments) can ride along.
 */
export async function saveCheckpoint(dir: string, model: ImageModel, meta: Omit<CheckpointMeta, 'format' | 'version' | 'spec'>, extra: Map<string, tf.Tensor> = new Map()): Promise<void> {
  const named: tf.NamedTensorMap = {};
  for (const p of model.store.params.values()) named[p.name] = p.variable;
  for (const [k, t] of extra) named[`extra/${k}`] = t;
  const { data, specs } = await tf.io.encodeWeights(named);
  const json = {
    format: 'ich-prognosis-checkpoint',
    version: 1,
    spec: model.spec,
    ...meta,
    weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
  };
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  fs.writeFileSync(path.join(tmp, 'weights.bin'), new Uint8Array(data));
  writeFileAtomic(path.join(tmp, 'model.json'), JSON.stringify(json, null, 1));
  const old = `${dir}.old-${process.pid}`;
  if (fs.existsSync(dir)) {
    fs.rmSync(old, { recursive: true, force: true });
    fs.renameSync(dir, old);
  }
  fs.renameSync(tmp, dir);
  // What earlier, killed saves left (other process IDs) goes too, now that a whole checkpoint is in place.
  for (const leftover of [...saveLeftovers(dir, 'old'), ...saveLeftovers(dir, 'tmp')]) fs.rmSync(leftover, { recursive: true, force: true });
}

/** Bytes per element of the dtypes a weights manifest names (saveCheckpoint writes float32 and int32). */
const WEIGHT_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/**
 * Reads a checkpoint's meta and named tensors (from the previous folder when a save was interrupted).
 * @throws naming the folder when it is missing or damaged.
 */
export function readCheckpoint(dir: string): { meta: CheckpointMeta; tensors: tf.NamedTensorMap } {
  dir = checkpointFolder(dir);
  const file = path.join(dir, 'model.json');
  let json: CheckpointMeta & { weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] };
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`checkpoint expected a readable model.json, got ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (${dir})`);
  }
  if (json.format !== 'ich-prognosis-checkpoint') throw new Error(`checkpoint format expected ich-prognosis-checkpoint, got ${String(json.format)} (${file})`);
  const manifest = json.weightsManifest?.[0];
  if (!manifest?.paths?.[0] || !Array.isArray(manifest.weights)) throw new Error(`checkpoint expected a weightsManifest with one weights file, got ${JSON.stringify(json.weightsManifest)?.slice(0, 80)} (${file})`);
  const weightsFile = path.join(dir, manifest.paths[0]);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(weightsFile);
  } catch (err) {
    throw new Error(`checkpoint expected a readable ${manifest.paths[0]}, got ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (${dir})`);
  }
  return { meta: json, tensors: decodeCheckpointWeights(bytes, manifest.weights, weightsFile) };
}

/**
 * The manifest's tensors from the bytes of its one weights file (each tensor's values in order, as tf.io.encodeWeights
 * writes them). Values are read in place where aligned instead of copied twice, as tf.io.decodeWeights does (a
 * DenseNet-121 checkpoint loaded in about half the time).
 * @throws naming the file: a dtype other than float32, int32 or bool, or a file of another length than the manifest's.
 */
function decodeCheckpointWeights(bytes: Buffer, weights: tf.io.WeightsManifestEntry[], file: string): tf.NamedTensorMap {
  for (const w of weights) if (!(w.dtype in WEIGHT_BYTES) || w.quantization) throw new Error(`checkpoint weight "${w.name}" expected dtype float32, int32 or bool, unquantised, got ${w.dtype}${w.quantization ? ' quantised' : ''} (${file})`);
  const sizes = weights.map((w) => w.shape.reduce((a, b) => a * b, 1));
  const expected = weights.reduce((sum, w, i) => sum + sizes[i] * WEIGHT_BYTES[w.dtype], 0);
  if (bytes.byteLength !== expected) throw new Error(`checkpoint weights expected ${expected} bytes for the manifest's ${weights.length} tensors, got ${bytes.byteLength} (${file})`);
  const tensors: tf.NamedTensorMap = {};
  let at = bytes.byteOffset;
  weights.forEach((w, i) => {
    const width = WEIGHT_BYTES[w.dtype];
    // A typed array starts at a multiple of its element size; a tensor after an odd number of bools is copied.
    const buffer = at % width === 0 ? bytes.buffer : bytes.buffer.slice(at, at + sizes[i] * width);
    const offset = buffer === bytes.buffer ? at : 0;
    const values = w.dtype === 'float32' ? new Float32Array(buffer, offset, sizes[i]) : w.dtype === 'int32' ? new Int32Array(buffer, offset, sizes[i]) : new Uint8Array(buffer, offset, sizes[i]);
    tensors[w.name] = tf.tensor(values, w.shape, w.dtype as tf.DataType);
    at += sizes[i] * width;
  });
  return tensors;
}

/** Copies checkpoint tensors into a model's parameters (and returns the extra tensors, which the caller owns). */
export function restoreParams(model: ImageModel, tensors: tf.NamedTensorMap): Map<string, tf.Tensor> {
  for (const p of model.store.params.values()) {
    const t = tensors[p.name];
    if (!t) throw new Error(`checkpoint expected parameter "${p.name}", got none`);
    if (t.shape.join() !== p.variable.shape.join()) throw new Error(`checkpoint parameter "${p.name}" expected shape [${p.variable.shape}], got [${t.shape}]`);
    p.variable.assign(t);
  }
  const extra = new Map<string, tf.Tensor>();
  for (const [k, t] of Object.entries(tensors)) {
    if (k.startsWith('extra/')) extra.set(k.slice(6), t);
    else t.dispose();
  }
  return extra;
}

/** Loads a saved model: builds it from the recorded spec and configuration and restores its weights. */
export function loadModel(dir: string): { model: ImageModel; meta: CheckpointMeta } {
  const { meta, tensors } = readCheckpoint(dir);
  // No initial draw: restoreParams assigns every parameter or throws.
  const model = buildImageModel(meta.spec, null, meta.densenet);
  try {
    const extra = restoreParams(model, tensors);
    for (const t of extra.values()) t.dispose();
  } catch (e) {
    // A checkpoint that does not fit its own spec leaves nothing allocated.
    model.dispose();
    tf.dispose(Object.values(tensors));
    throw new Error(`${(e as Error).message} (${dir})`);
  }
  return { model, meta };
}
