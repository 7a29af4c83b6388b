import * as tf from '@tensorflow/tfjs-core';
import { RandomForestClassifier } from 'ml-random-forest';
import { applyTabularTransform, fitTabularTransform } from '../data/tabular';
import { Patient } from '../data/cohort';
import { balancedAccuracy } from '../math/confusion';
import { newtonLogistic } from '../math/logistic';
import { deriveSeed, SeededRandom } from '../math/random';
import { act3d } from '../ops/act3d';
import { matMul } from '../ops/matmul';
import { batchNorm3d, updateRunningStats } from '../ops/norm';
import { AdamW } from '../train/adamw';
import { bceWithLogits } from '../train/losses';
import { ParamStore } from './params';

/** The tabular baselines: the paper's MLP, L2 logistic regression, a random forest, and GCS + age logistic. */
export type TabularModelName = 'mlp' | 'logistic' | 'forest' | 'clinical';
export const TABULAR_MODELS: readonly TabularModelName[] = ['mlp', 'logistic', 'forest', 'clinical'];

/** Probabilities of poor prognosis for the validation and test patients of one fold. */
export interface TabularPrediction {
  val: number[];
  test: number[];
  /** Facts about the fit (selected epoch, iterations, features). */
  info: Record<string, unknown>;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * L2-penalised logistic regression as scikit-learn's LogisticRegression(C) (intercept not penalised), solved by
 * Newton's method to convergence (scikit-learn's lbfgs stops at tol 1e-4, so it can differ in the 4th-5th digit).
 * @returns [intercept, ...weights].
 */
export function fitLogisticL2(x: readonly number[][], y: readonly number[], c = 1): number[] {
  return newtonLogistic(x, y, c).coef;
}

/**
 * The paper's tabular MLP (paper.md, "Models"): inputs -> 64 ReLU, dropout 0.3 -> 32 ReLU -> 16 ReLU -> BN -> 1;
 * Adam (lr 1e-3, L2 weight decay 1e-3, AMSGrad), batch 128, 100 epochs on the oversampled training part; the epoch
 * with the best validation balanced accuracy is kept. Deterministic for the seed.
 */
async function fitMlp(xTrain: number[][], yTrain: number[], xVal: number[][], yVal: number[], xTest: number[][], seed: number, epochs: number): Promise<TabularPrediction> {
  const store = new ParamStore(seed);
  const nIn = xTrain[0].length;
  const l1 = store.linear('mlp.0', nIn, 64);
  const l2 = store.linear('mlp.3', 64, 32);
  const l3 = store.linear('mlp.5', 32, 16);
  const bn = store.batchNorm('mlp.7', 16);
  const l4 = store.linear('mlp.8', 16, 1);
  const rng = new SeededRandom(deriveSeed(seed, 77));
  const forward = (x: tf.Tensor2D, training: boolean, mask?: tf.Tensor2D) => {
    let h = tf.relu(tf.add(matMul(x, l1.weight as tf.Tensor as tf.Tensor2D), l1.bias)) as tf.Tensor2D;
    if (training && mask) h = tf.mul(h, tf.mul(mask, 1 / 0.7)) as tf.Tensor2D;
    h = tf.relu(tf.add(matMul(h, l2.weight as tf.Tensor as tf.Tensor2D), l2.bias)) as tf.Tensor2D;
    h = tf.relu(tf.add(matMul(h, l3.weight as tf.Tensor as tf.Tensor2D), l3.bias)) as tf.Tensor2D;
    const b = h.shape[0];
    const { y, stats } = batchNorm3d(act3d(h, [b, 1, 1, 1, 16]), bn as never, training);
    const out = tf.add(matMul(tf.reshape(y.x, [b, 16]) as tf.Tensor2D, l4.weight as tf.Tensor as tf.Tensor2D), l4.bias) as tf.Tensor2D;
    return { out, stats };
  };
  const predict = async (x: number[][]) => {
    const p = tf.tidy(() => tf.sigmoid(forward(tf.tensor2d(x, [x.length, nIn]), false).out));
    const values = Array.from(await p.data());
    p.dispose();
    return values;
  };
  const optimizer = new AdamW({ lr: 1e-3, weightDecay: 1e-3, amsgrad: true, decoupled: false });
  const variables = store.trainable();
  let best = -Infinity;
  let bestEpoch = 0;
  let bestVal: number[] = [];
  let bestTest: number[] = [];
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const order = rng.shuffle(xTrain.map((_, i) => i));
      for (let start = 0; start < order.length; start += 128) {
        const idx = order.slice(start, start + 128);
        if (idx.length < 2) continue; // batch norm needs two rows (PyTorch raises on a batch of one)
        const mask = tf.tensor2d(Float32Array.from({ length: idx.length * 64 }, () => (rng.uniform() < 0.3 ? 0 : 1)), [idx.length, 64]);
        const x = tf.tensor2d(idx.map((i) => xTrain[i]), [idx.length, nIn]);
        const y = tf.tensor2d(idx.map((i) => [yTrain[i]]), [idx.length, 1]);
        let stats: ReturnType<typeof forward>['stats'] = null;
        const { value, grads } = tf.variableGrads(() => {
          const r = forward(x, true, mask);
          stats = r.stats;
          return bceWithLogits(r.out, y);
        }, variables);
        optimizer.apply(variables, grads);
        const s = stats as ReturnType<typeof forward>['stats'];
        if (s) {
          updateRunningStats({ runningMean: bn.runningMean, runningVar: bn.runningVar }, s);
          tf.dispose([s.mean, s.varUnbiased]);
        }
        tf.dispose([value, mask, x, y, ...Object.values(grads)]);
      }
      const val = await predict(xVal);
      const bacc = balancedAccuracy(yVal, val);
      if (bacc > best || bestEpoch === 0) {
        best = bacc;
        bestEpoch = epoch;
        bestVal = val;
        bestTest = await predict(xTest);
      }
    }
  } finally {
    optimizer.dispose();
    store.dispose();
  }
  return { val: bestVal, test: bestTest, info: { selectedEpoch: bestEpoch, valBalancedAccuracy: best } };
}

/**
 * Fits one tabular baseline on a fold's (oversampled) training patients and predicts its validation and test
 * patients. Features are fitted on the training part only.
 */
export async function fitTabular(
  name: TabularModelName,
  train: readonly Patient[],
  val: readonly Patient[],
  test: readonly Patient[],
  seed: number,
  options: { epochs?: number } = {},
): Promise<TabularPrediction> {
  const yTrain = train.map((p) => p.label);
  if (name === 'clinical') {
    const { coef } = newtonLogistic(train.map((p) => [p.gcs, p.age]), yTrain);
    const score = (ps: readonly Patient[]) => ps.map((p) => sigmoid(coef[0] + coef[1] * p.gcs + coef[2] * p.age));
    return { val: score(val), test: score(test), info: { coef, oddsRatio: coef.map(Math.exp) } };
  }
  const transform = fitTabularTransform(train);
  const [xTrain, xVal, xTest] = [train, val, test].map((ps) => applyTabularTransform(transform, ps));
  if (name === 'logistic') {
    const beta = fitLogisticL2(xTrain, yTrain, 1);
    const score = (x: number[][]) => x.map((r) => sigmoid(beta[0] + r.reduce((s, v, j) => s + v * beta[j + 1], 0)));
    return { val: score(xVal), test: score(xTest), info: { features: transform.names, coef: beta } };
  }
  if (name === 'forest') {
    const forest = new RandomForestClassifier({ nEstimators: 100, maxFeatures: Math.sqrt(transform.names.length) / transform.names.length, replacement: true, seed: deriveSeed(seed, 5) % 2147483647 });
    forest.train(xTrain, yTrain);
    return { val: forest.predictProbability(xVal, 1), test: forest.predictProbability(xTest, 1), info: { trees: 100, features: transform.names.length } };
  }
  return fitMlp(xTrain, yTrain, xVal, val.map((p) => p.label), xTest, seed, options.epochs ?? 100);
}
