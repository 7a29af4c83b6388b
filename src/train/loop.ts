import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { assertDeviceHealthy } from '../backend';
import { Patient } from '../data/cohort';
import { Quirks } from '../data/preprocess';
import { CvFold } from '../data/splits';
import { balancedAccuracy } from '../math/confusion';
import { formatCsv } from '../io/csv';
import { writeFileAtomic } from '../io/atomic';
import { deriveSeed, SeededRandom } from '../math/random';
import { checkpointExists, readCheckpoint, restoreParams, saveCheckpoint } from '../models/checkpoint';
import { DenseNetConfig, ForwardContext } from '../models/densenet3d';
import { buildImageModel, ImageModel } from '../models/multitask';
import { ModelSpec, TASK_OUTPUTS, TaskName, taskTargets } from '../models/tasks';
import { AdamW, AdamWOptions } from './adamw';
import { makeBatch, positiveWeight, targetTensors, VolumeSource } from './data';
import { HeadLoss, multiTaskLoss } from './losses';
import { PlateauOptions, ReduceLROnPlateau } from './scheduler';

/** The training recipe; defaults are the paper's (paper.md, "Training"). */
export interface TrainRecipe {
  spec: ModelSpec;
  densenet: Partial<DenseNetConfig>;
  epochs: number;
  /** Early stopping after this many epochs without a better validation balanced accuracy. */
  patience: number;
  batchSize: number;
  /** Gradient accumulation: an optimizer step every `accumulation` batches (the first after accumulation - 1). */
  accumulation: number;
  seed: number;
  optimizer?: AdamWOptions;
  plateau?: PlateauOptions;
  quirks?: Quirks;
  /** Training augmentation (default true). */
  augment?: boolean;
}

/** One progress report, after each batch and each epoch. */
export interface TrainProgress {
  fold: number;
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  /** Loss of the last batch. */
  loss: number;
  lr: number;
  /** Seconds, from the mean time per batch so far in this fold. */
  etaSeconds: number;
  /** Set at the end of an epoch. */
  valBalancedAccuracy?: number;
}

/** One epoch of the learning curves. */
export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  valLoss: number;
  valBalancedAccuracy: number;
  lr: number;
  seconds: number;
}

/** What one fold produced (also written as files under its folder). */
export interface FoldResult {
  fold: number;
  /** Epoch (1-based) whose weights were selected; 0 when no epoch improved on chance. */
  selectedEpoch: number;
  bestValBalancedAccuracy: number;
  history: EpochRecord[];
  /** Test-set probabilities (sigmoid) per patient and head output. */
  predictions: { patientId: string; label: number; probabilities: Partial<Record<TaskName, number[]>> }[];
  stoppedEarly: boolean;
}

function headLosses(recipe: TrainRecipe, train: readonly Patient[]): HeadLoss[] {
  return recipe.spec.tasks.map(({ task, weight }) => ({
    task,
    weight,
    positiveWeight: recipe.spec.positiveWeight === 'class-ratio' ? positiveWeight(task, train) : undefined,
  }));
}

/** Keep-masks for channel dropout, drawn from a seeded generator (Bernoulli(1 - rate) per sample and channel). */
function dropoutMasks(rng: SeededRandom): ForwardContext['dropoutMask'] {
  return (_name, batch, channels, rate) => {
    const m = new Float32Array(batch * channels);
    for (let i = 0; i < m.length; i++) m[i] = rng.uniform() < rate ? 0 : 1;
    return tf.tensor2d(m, [batch, channels]);
  };
}

/** Sigmoid probabilities of every head for patients, in eval mode, batch by batch; also the mean loss. */
export async function predictPatients(
  model: ImageModel,
  patients: readonly Patient[],
  source: VolumeSource,
  batchSize: number,
  heads?: HeadLoss[],
): Promise<{ probabilities: Partial<Record<TaskName, number[][]>>; loss: number }> {
  const tasks = model.spec.tasks.map((t) => t.task);
  const probabilities: Partial<Record<TaskName, number[][]>> = {};
  for (const t of tasks) probabilities[t] = [];
  let lossSum = 0;
  for (let start = 0; start < patients.length; start += batchSize) {
    const positions = Array.from({ length: Math.min(batchSize, patients.length - start) }, (_, i) => start + i);
    const batch = await makeBatch(patients, positions, tasks, source, null);
    // Read back asynchronously: the webgpu backend cannot read synchronously in Node.
    const out = tf.tidy(() => {
      const logits = model.predict(batch.data, batch.shape, { training: false });
      return { loss: heads ? multiTaskLoss(logits, targetTensors(batch), heads).total : tf.scalar(0), probs: tasks.map((t) => tf.sigmoid(logits[t])) };
    });
    const loss = (await out.loss.data())[0];
    const probs: Partial<Record<TaskName, Float32Array>> = {};
    for (let i = 0; i < tasks.length; i++) probs[tasks[i]] = (await out.probs[i].data()) as Float32Array;
    tf.dispose([out.loss, ...out.probs]);
    assertDeviceHealthy(`evaluation of patients ${start + 1}-${start + positions.length}`);
    lossSum += loss * positions.length;
    for (const t of tasks) {
      const k = TASK_OUTPUTS[t];
      const flat = probs[t]!;
      for (let i = 0; i < positions.length; i++) probabilities[t]!.push(Array.from(flat.subarray(i * k, (i + 1) * k)));
    }
  }
  return { probabilities, loss: patients.length ? lossSum / patients.length : NaN };
}

/**
 * Probabilities of every head as CSV: `PatientID,label[,fold],p_<task>` (`p_<task>_1`, `p_<task>_2` for the ordinal
 * GCS head's two bits), 9 significant digits: a float32 probability reads back to the same bits, so metrics recomputed
 * from the file (a resumed run, `ich summary`, a spreadsheet) equal the reported ones even where a weak model's outputs
 * differ only in the 7th digit. The layout of a fold's predictions.csv and of `ich predict`.
 */
export function predictionsCsv(
  tasks: readonly TaskName[],
  rows: readonly { patientId: string; label: number; probabilities: Partial<Record<TaskName, number[]>> }[],
  fold?: number,
): string {
  const columns = tasks.flatMap((task) => (TASK_OUTPUTS[task] === 1 ? [`p_${task}`] : Array.from({ length: TASK_OUTPUTS[task] }, (_, k) => `p_${task}_${k + 1}`)));
  const withFold = fold !== undefined;
  return formatCsv(
    ['PatientID', 'label', ...(withFold ? ['fold'] : []), ...columns],
    rows.map((p) => [p.patientId, p.label, ...(withFold ? [fold] : []), ...tasks.flatMap((task) => p.probabilities[task]!.map((v) => +v.toPrecision(9)))]),
  );
}

/** State saved after every epoch so a killed run resumes where it stopped. */
interface ResumeState {
  epoch: number;
  lr: number;
  optimizerStep: number;
  plateau: ReturnType<ReduceLROnPlateau['toJSON']>;
  bestValBalancedAccuracy: number;
  selectedEpoch: number;
  epochsWithoutImprovement: number;
  history: EpochRecord[];
}

/**
 * Reads a fold's resume point (`last/` with its optimizer moments and loop state) into a freshly built model, optimizer
 * and plateau scheduler. Everything is checked before anything is assigned, so on a throw the model keeps its seeded
 * initialisation and the fold can start over.
 * @throws naming the file and what was expected when the checkpoint or its state is unreadable or does not fit.
 */
function resumeFrom(lastDir: string, stateFile: string, model: ImageModel, optimizer: AdamW, plateau: ReduceLROnPlateau): ResumeState {
  const { meta, tensors } = readCheckpoint(lastDir);
  try {
    for (const p of model.store.params.values()) {
      const t = tensors[p.name];
      if (!t) throw new Error(`checkpoint expected parameter "${p.name}", got none (${lastDir})`);
      if (t.shape.join() !== p.variable.shape.join()) throw new Error(`checkpoint parameter "${p.name}" expected shape [${p.variable.shape}], got [${t.shape}] (${lastDir})`);
      for (const slot of ['m', 'v', 'vmax']) {
        const moment = tensors[`extra/${p.name}/${slot}`];
        if (moment && moment.shape.join() !== p.variable.shape.join()) throw new Error(`checkpoint moment "${p.name}/${slot}" expected shape [${p.variable.shape}], got [${moment.shape}] (${lastDir})`);
      }
    }
    // The state rides in the checkpoint it belongs to (one atomic write): a kill between writing the weights and
    // state.json cannot pair epoch e's weights with epoch e-1's counters. Folders from before that read state.json.
    let state = meta.info.resume as ResumeState | undefined;
    if (!state) {
      try {
        state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as ResumeState;
      } catch (err) {
        throw new Error(`resume state expected readable JSON, got ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (${stateFile})`);
      }
    }
    for (const key of ['epoch', 'lr', 'optimizerStep'] as const) {
      if (typeof state[key] !== 'number' || !Number.isFinite(state[key])) throw new Error(`resume state ${key} expected a finite number, got ${JSON.stringify(state[key])} (${lastDir})`);
    }
    if (typeof state.plateau !== 'object' || state.plateau === null) throw new Error(`resume state plateau expected the scheduler's counters, got ${JSON.stringify(state.plateau)} (${lastDir})`);
    if (!Array.isArray(state.history)) throw new Error(`resume state history expected an array of epochs, got ${JSON.stringify(state.history)?.slice(0, 40)} (${lastDir})`);
    state.bestValBalancedAccuracy ??= -Infinity;
    const extra = restoreParams(model, tensors);
    // Optimizer moments ride along with the weights: re-create them under the new variables' names.
    const slots = new Map<string, { m?: tf.Tensor; v?: tf.Tensor; vmax?: tf.Tensor }>();
    for (const [k, t] of extra) {
      const [param, slot] = [k.slice(0, k.lastIndexOf('/')), k.slice(k.lastIndexOf('/') + 1)];
      const s = slots.get(param) ?? {};
      (s as Record<string, tf.Tensor>)[slot] = t;
      slots.set(param, s);
    }
    optimizer.restore([...model.store.params.values()].map((p) => ({ variable: p.variable, ...slots.get(p.name) })), state.optimizerStep);
    for (const t of extra.values()) t.dispose();
    optimizer.lr = state.lr;
    plateau.restore(state.plateau);
    return state;
  } catch (err) {
    // restoreParams disposes what it consumes; a throw before it leaves every tensor here.
    for (const t of Object.values(tensors)) if (!t.isDisposed) t.dispose();
    throw err;
  }
}

/**
 * Trains one cross-validation fold with the paper's recipe and writes its outputs under `dir`:
 * `best/` (the selected checkpoint), `last/` (weights, optimizer moments and the loop's state, to resume; `state.json`
 * a readable copy of that state), `history.json` (learning curves),
 * `predictions.csv` (test probabilities of every head) and `result.json`.
 * Steps: shuffled oversampled training part in batches; gradients summed over `accumulation` batches (the counter
 * starts at 1, so the first step follows accumulation - 1 batches; leftovers are dropped at the epoch's end);
 * ReduceLROnPlateau on the accumulated loss at every optimizer step; model selection on strictly better validation
 * balanced accuracy (prognosis head, threshold 0.5; the first epoch is always taken so a checkpoint exists);
 * early stopping after `patience` epochs without one.
 * A folder holding `last/` is resumed; with the same seed the result equals an uninterrupted run, wherever it was killed.
 */
export async function trainFold(options: {
  recipe: TrainRecipe;
  patients: readonly Patient[];
  fold: CvFold;
  foldIndex: number;
  source: VolumeSource;
  dir: string;
  onProgress?: (p: TrainProgress) => void;
  /** Stop after this many epochs of this call (to test resuming); the state is saved first. */
  stopAfterEpochs?: number;
  /**
   * Recompute batch-norm outputs of at least this many bytes in the backward pass ({@link ForwardContext}; default
   * ICH_RECOMPUTE_MIN_MB). Not part of the recipe: the results are the same to the bit, only memory and time differ.
   */
  recomputeMinBytes?: number;
  /** Told when the fold cannot resume from a damaged `last/` and starts over (default console.warn). */
  onNotice?: (message: string) => void;
}): Promise<FoldResult | null> {
  const { recipe, patients, fold, foldIndex, source, dir } = options;
  fs.mkdirSync(dir, { recursive: true });
  const train = fold.trainOversampled.map((i) => patients[i]);
  const val = fold.val.map((i) => patients[i]);
  const test = fold.test.map((i) => patients[i]);
  const tasks = recipe.spec.tasks.map((t) => t.task);
  // The paper selects on the prognosis head; the single-task GCS/age baselines select on their own head.
  const selectionTask: TaskName = tasks.includes('prognosis') ? 'prognosis' : tasks[0];
  const heads = headLosses(recipe, fold.train.map((i) => patients[i]));
  const model = buildImageModel(recipe.spec, deriveSeed(recipe.seed, foldIndex), recipe.densenet);
  const optimizer = new AdamW(recipe.optimizer);
  const plateau = new ReduceLROnPlateau(recipe.plateau);
  const stateFile = path.join(dir, 'state.json');
  let state: ResumeState = {
    epoch: 0,
    lr: optimizer.lr,
    optimizerStep: 0,
    plateau: plateau.toJSON(),
    bestValBalancedAccuracy: -Infinity,
    selectedEpoch: 0,
    epochsWithoutImprovement: 0,
    history: [],
  };
  const lastDir = path.join(dir, 'last');
  if (checkpointExists(lastDir) || fs.existsSync(stateFile)) {
    try {
      state = resumeFrom(lastDir, stateFile, model, optimizer, plateau);
    } catch (err) {
      // Writes are atomic, so this is a disk fault or a hand edit: hours of other folds must not die with it. The fold
      // starts over (same seed, so the same result as a first run), and the unreadable files stay for a look.
      const aside = `${lastDir}.unusable-${Date.now()}`;
      if (fs.existsSync(lastDir)) fs.renameSync(lastDir, aside);
      fs.rmSync(stateFile, { force: true });
      (options.onNotice ?? ((m: string) => console.warn(m)))(
        `fold ${foldIndex}: cannot resume, training it again from epoch 1 (the unreadable checkpoint moved to ${path.basename(aside)}): ${(err as Error).message}`,
      );
    }
  }
  const variables = model.store.trainable();
  const started = Date.now();
  let batchesDone = 0;
  const batchesPerEpoch = Math.ceil(train.length / recipe.batchSize);
  let epochsThisCall = 0;
  try {
    while (state.epoch < recipe.epochs && state.epochsWithoutImprovement < recipe.patience) {
      const epoch = state.epoch + 1;
      const epochStart = Date.now();
      const order = new SeededRandom(deriveSeed(deriveSeed(recipe.seed, foldIndex), epoch)).shuffle(train.map((_, i) => i));
      const dropRng = new SeededRandom(deriveSeed(deriveSeed(recipe.seed, foldIndex), 100000 + epoch));
      let acc: Record<string, tf.Tensor> = {};
      let accLoss = 0;
      let counter = 1;
      let lossSum = 0;
      for (let b = 0; b < batchesPerEpoch; b++) {
        const positions = order.slice(b * recipe.batchSize, (b + 1) * recipe.batchSize);
        const batch = await makeBatch(train, positions, tasks, source, recipe.augment === false ? null : { seed: deriveSeed(recipe.seed, foldIndex), epoch, quirks: recipe.quirks ?? 'paper' });
        const ctx: ForwardContext = { training: true, stats: new Map(), dropoutMask: dropoutMasks(dropRng), recomputeMinBytes: options.recomputeMinBytes };
        const targets = targetTensors(batch);
        const { value, grads } = tf.variableGrads(() => multiTaskLoss(model.predict(batch.data, batch.shape, ctx), targets, heads).total, variables);
        tf.dispose(Object.values(targets));
        model.commitBatchStats(ctx);
        const loss = (await value.data())[0];
        value.dispose();
        assertDeviceHealthy(`fold ${foldIndex}, epoch ${epoch}, batch ${b + 1}`);
        if (!Number.isFinite(loss)) throw new Error(`training loss expected a finite number, got ${loss} (fold ${foldIndex}, epoch ${epoch}, batch ${b + 1})`);
        lossSum += loss * positions.length;
        accLoss += loss;
        const next: Record<string, tf.Tensor> = {};
        for (const [name, g] of Object.entries(grads)) {
          next[name] = acc[name] ? tf.add(acc[name], g) : g;
          if (acc[name]) {
            acc[name].dispose();
            g.dispose();
          }
        }
        acc = next;
        counter++;
        if (counter % recipe.accumulation === 0) {
          optimizer.apply(variables, acc);
          optimizer.lr = plateau.step(accLoss, optimizer.lr);
          tf.dispose(Object.values(acc));
          acc = {};
          accLoss = 0;
        }
        batchesDone++;
        const perBatch = (Date.now() - started) / 1000 / batchesDone;
        const remainingEpochs = recipe.epochs - epoch;
        options.onProgress?.({
          fold: foldIndex,
          epoch,
          epochs: recipe.epochs,
          batch: b + 1,
          batches: batchesPerEpoch,
          loss,
          lr: optimizer.lr,
          etaSeconds: perBatch * (batchesPerEpoch - b - 1 + remainingEpochs * batchesPerEpoch),
        });
      }
      tf.dispose(Object.values(acc));
      const v = await predictPatients(model, val, source, recipe.batchSize, heads);
      const bacc = val.length ? balancedAccuracy(val.map((p) => taskTargets(selectionTask, p)[0]), v.probabilities[selectionTask]!.map((r) => r[0])) : NaN;
      const record: EpochRecord = { epoch, trainLoss: lossSum / train.length, valLoss: v.loss, valBalancedAccuracy: bacc, lr: optimizer.lr, seconds: (Date.now() - epochStart) / 1000 };
      state.history.push(record);
      state.epoch = epoch;
      if (bacc > state.bestValBalancedAccuracy || state.selectedEpoch === 0) {
        state.bestValBalancedAccuracy = bacc;
        state.selectedEpoch = epoch;
        state.epochsWithoutImprovement = 0;
        await saveCheckpoint(path.join(dir, 'best'), model, { densenet: recipe.densenet, inputSize: source.size, info: { fold: foldIndex, epoch, valBalancedAccuracy: bacc } });
      } else {
        state.epochsWithoutImprovement++;
      }
      state.lr = optimizer.lr;
      state.optimizerStep = optimizer.step;
      state.plateau = plateau.toJSON();
      const resume = { ...state, bestValBalancedAccuracy: Number.isFinite(state.bestValBalancedAccuracy) ? state.bestValBalancedAccuracy : null };
      await saveCheckpoint(lastDir, model, { densenet: recipe.densenet, inputSize: source.size, info: { fold: foldIndex, epoch, resume } }, optimizer.stateTensorsByParam(model));
      // A copy for people and scripts; resuming reads the checkpoint's own.
      writeFileAtomic(stateFile, JSON.stringify(resume, null, 1));
      writeFileAtomic(path.join(dir, 'history.json'), JSON.stringify(state.history, null, 1));
      options.onProgress?.({ fold: foldIndex, epoch, epochs: recipe.epochs, batch: batchesPerEpoch, batches: batchesPerEpoch, loss: record.trainLoss, lr: optimizer.lr, etaSeconds: 0, valBalancedAccuracy: bacc });
      epochsThisCall++;
      if (options.stopAfterEpochs !== undefined && epochsThisCall >= options.stopAfterEpochs && state.epoch < recipe.epochs) return null;
    }
    // Test with the selected weights.
    if (fs.existsSync(path.join(dir, 'best'))) {
      const { tensors } = readCheckpoint(path.join(dir, 'best'));
      for (const t of restoreParams(model, tensors).values()) t.dispose();
    }
    const t = await predictPatients(model, test, source, recipe.batchSize);
    const predictions = test.map((p, i) => ({
      patientId: p.id,
      label: p.label,
      probabilities: Object.fromEntries(tasks.map((task) => [task, t.probabilities[task]![i]])) as Partial<Record<TaskName, number[]>>,
    }));
    const result: FoldResult = {
      fold: foldIndex,
      selectedEpoch: state.selectedEpoch,
      bestValBalancedAccuracy: state.bestValBalancedAccuracy,
      history: state.history,
      predictions,
      stoppedEarly: state.epoch < recipe.epochs,
    };
    writeFileAtomic(path.join(dir, 'predictions.csv'), predictionsCsv(tasks, predictions, foldIndex));
    writeFileAtomic(path.join(dir, 'result.json'), JSON.stringify({ ...result, predictions: undefined }, null, 1));
    return result;
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}
