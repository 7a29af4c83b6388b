import * as tf from '@tensorflow/tfjs-core';
import { releasingSaved, saveInPlace } from '../saved-tensors';
import { elementwiseProgram, runProgram, WebGpuBackend, wgslProgram } from './program';

/**
 * Batch normalisation with an optional ReLU as WebGPU programs of our own, on activations viewed as [M rows, C
 * channels]: training statistics in two dispatches (per-chunk partial sums, then one thread per channel adds the
 * chunks in a fixed order: the same result on every run), the normalisation and ReLU in one, and the backward pass
 * in three (partial sums of the gradient, their totals, the input gradient). tfjs's formulation takes ~12
 * elementwise and reduction dispatches forward and ~25 backward, with transposes for the reductions over rows.
 */

/** Channels one workgroup covers; rows are split among 4 threads per channel, then among chunks. */
const CHANNELS_PER_GROUP = 64;
const ROW_THREADS = 4;
/** Partial-sum workgroups aimed for (enough to fill a large GPU) and the fewest rows worth a chunk. */
const TARGET_WORKGROUPS = 1024;
const MIN_ROWS_PER_CHUNK = 64;

/** Chunks the rows are split into for the partial sums, and rows per chunk. */
export function rowChunks(m: number, c: number): { chunks: number; rowsPerChunk: number } {
  const groups = Math.ceil(c / CHANNELS_PER_GROUP);
  const chunks = Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / groups), Math.ceil(m / MIN_ROWS_PER_CHUNK)));
  const rowsPerChunk = Math.ceil(m / chunks);
  return { chunks: Math.ceil(m / rowsPerChunk), rowsPerChunk };
}

const REDUCE_UNIFORMS: [string, 'i32' | 'f32'][] = [
  ['M', 'i32'],
  ['C', 'i32'],
  ['rowsPerChunk', 'i32'],
  ['eps', 'f32'],
];

/**
 * Per-chunk sums [chunks, 2, C]. 'stats': sums of d and d^2 with d = x - x[row 0] (shifted, so the variance does not
 * cancel catastrophically when the mean is large); 'grad': sums of g and g * xhat, with g the incoming gradient
 * masked by the ReLU (where the normalised output was <= 0) and xhat the normalised input.
 */
function partialSumsProgram(kind: 'stats' | 'grad', relu: boolean, m: number, c: number) {
  const { chunks } = rowChunks(m, c);
  const body =
    kind === 'stats'
      ? `
          let shift = x[col];
          for (var r = rowStart + ry; r < rowEnd; r += ${ROW_THREADS}) {
            let d = x[r * uniforms.C + col] - shift;
            a1 += d;
            a2 += d * d;
          }`
      : `
          let mean = stats[col];
          let invstd = inverseSqrt(stats[uniforms.C + col] + uniforms.eps);
          let g = gamma[col];
          let bt = beta[col];
          for (var r = rowStart + ry; r < rowEnd; r += ${ROW_THREADS}) {
            let i = r * uniforms.C + col;
            let xh = (x[i] - mean) * invstd;
            ${relu ? 'let gv = select(0.0, dy[i], g * xh + bt > 0.0);' : '_ = bt;\n            let gv = dy[i];'}
            a1 += gv;
            a2 += gv * xh;
          }`;
  return wgslProgram({
    key: `ichBnPartial_${kind}_${relu ? 'relu' : 'linear'}`,
    inputs: kind === 'stats' ? ['x'] : ['dy', 'x', 'stats', 'gamma', 'beta'],
    uniforms: REDUCE_UNIFORMS,
    outputShape: [chunks, 2, c],
    dispatch: [Math.ceil(c / CHANNELS_PER_GROUP), chunks, 1],
    workgroupSize: [CHANNELS_PER_GROUP, ROW_THREADS, 1],
    code: `
      var<workgroup> s1: array<f32, ${CHANNELS_PER_GROUP * ROW_THREADS}>;
      var<workgroup> s2: array<f32, ${CHANNELS_PER_GROUP * ROW_THREADS}>;
      fn main() {
        let cx = i32(localId.x);
        let ry = i32(localId.y);
        let col = i32(workgroupId.x) * ${CHANNELS_PER_GROUP} + cx;
        let chunk = i32(workgroupId.y);
        let rowStart = chunk * uniforms.rowsPerChunk;
        let rowEnd = min(uniforms.M, rowStart + uniforms.rowsPerChunk);
        var a1 = 0.0;
        var a2 = 0.0;
        if (col < uniforms.C) {${body}
        }
        s1[ry * ${CHANNELS_PER_GROUP} + cx] = a1;
        s2[ry * ${CHANNELS_PER_GROUP} + cx] = a2;
        workgroupBarrier();
        if (ry == 0 && col < uniforms.C) {
          var t1 = 0.0;
          var t2 = 0.0;
          for (var k = 0; k < ${ROW_THREADS}; k++) {
            t1 += s1[k * ${CHANNELS_PER_GROUP} + cx];
            t2 += s2[k * ${CHANNELS_PER_GROUP} + cx];
          }
          result[(chunk * 2) * uniforms.C + col] = t1;
          result[(chunk * 2 + 1) * uniforms.C + col] = t2;
        }
      }`,
  });
}

/** Adds the chunks' sums per channel: 'stats' -> [mean; biased variance], 'grad' -> [sum g; sum g * xhat]. */
function totalsProgram(kind: 'stats' | 'grad', c: number) {
  return wgslProgram({
    key: `ichBnTotals_${kind}`,
    inputs: kind === 'stats' ? ['partial', 'x'] : ['partial'],
    uniforms: [...REDUCE_UNIFORMS, ['chunks', 'i32']],
    outputShape: [2, c],
    dispatch: [Math.ceil(c / CHANNELS_PER_GROUP), 1, 1],
    workgroupSize: [CHANNELS_PER_GROUP, 1, 1],
    code: `
      fn main() {
        let col = i32(workgroupId.x) * ${CHANNELS_PER_GROUP} + i32(localId.x);
        if (col < uniforms.C) {
          var t1 = 0.0;
          var t2 = 0.0;
          for (var k = 0; k < uniforms.chunks; k++) {
            t1 += partial[(k * 2) * uniforms.C + col];
            t2 += partial[(k * 2 + 1) * uniforms.C + col];
          }
          ${
            kind === 'stats'
              ? `let n = f32(uniforms.M);
          let shifted = t1 / n;
          result[col] = x[col] + shifted;
          result[uniforms.C + col] = max(0.0, t2 / n - shifted * shifted);`
              : `result[col] = t1;
          result[uniforms.C + col] = t2;`
          }
        }
      }`,
  });
}

/**
 * Without the ReLU, beta is not needed, but the binding must stay: tfjs builds the pipeline layout from the shader
 * ('auto'), which drops unused bindings, and then binds every input.
 */
const BETA_BOUND = '_ = beta[0];\n          let gv = dy[i];';

/** y = gamma (x - mean) / sqrt(var + eps) + beta, then max(y, 0) with ReLU; stats = [mean; var]. */
function applyProgram(relu: boolean, m: number, c: number) {
  return elementwiseProgram({
    key: `ichBnApply_${relu ? 'relu' : 'linear'}`,
    inputs: ['x', 'stats', 'gamma', 'beta'],
    uniforms: REDUCE_UNIFORMS,
    outputShape: [m, c],
    count: m * c,
    bound: 'uniforms.M * uniforms.C',
    body: `let col = i % uniforms.C;
          let v = (x[i] - stats[col]) * inverseSqrt(stats[uniforms.C + col] + uniforms.eps) * gamma[col] + beta[col];
          result[i] = ${relu ? 'max(v, 0.0)' : 'v'};`,
  });
}

/**
 * The input gradient of training-mode batch norm (+ ReLU) through the batch statistics:
 * dx = gamma invstd / M (M g - sum g - xhat sum(g xhat)); sums = [sum g; sum g xhat].
 */
function inputGradientProgram(relu: boolean, m: number, c: number) {
  return elementwiseProgram({
    key: `ichBnInputGrad_${relu ? 'relu' : 'linear'}`,
    inputs: ['dy', 'x', 'stats', 'gamma', 'beta', 'sums'],
    uniforms: REDUCE_UNIFORMS,
    outputShape: [m, c],
    count: m * c,
    bound: 'uniforms.M * uniforms.C',
    body: `let col = i % uniforms.C;
          let invstd = inverseSqrt(stats[uniforms.C + col] + uniforms.eps);
          let xh = (x[i] - stats[col]) * invstd;
          let g = gamma[col];
          ${relu ? 'let gv = select(0.0, dy[i], g * xh + beta[col] > 0.0);' : BETA_BOUND}
          let n = f32(uniforms.M);
          result[i] = g * invstd / n * (n * gv - sums[col] - xh * sums[uniforms.C + col]);`,
  });
}

/** running (1 - momentum) + batch momentum, one dispatch instead of three (the running-statistics update). */
function runningUpdateProgram(c: number) {
  return elementwiseProgram({
    key: 'ichBnRunningUpdate',
    inputs: ['running', 'batch'],
    uniforms: RUNNING_UNIFORMS,
    outputShape: [1, c],
    count: c,
    bound: 'uniforms.C',
    body: 'result[i] = running[i] * uniforms.keep + batch[i] * uniforms.momentum;',
  });
}
const RUNNING_UNIFORMS: [string, 'i32' | 'f32'][] = [
  ['C', 'i32'],
  ['keep', 'f32'],
  ['momentum', 'f32'],
];

export const BN_STATS_KERNEL = 'IchBatchNormStats';
export const BN_RUNNING_UPDATE_KERNEL = 'IchBatchNormRunningUpdate';
export const BN_APPLY_KERNEL = 'IchBatchNormApply';
export const BN_GRAD_SUMS_KERNEL = 'IchBatchNormGradSums';
export const BN_INPUT_GRAD_KERNEL = 'IchBatchNormInputGrad';

interface BnAttrs {
  relu: boolean;
  eps: number;
}

/** Rows and channels of an activation [..., C]. */
function rowsAndChannels(t: tf.TensorInfo): [number, number] {
  const c = t.shape[t.shape.length - 1];
  return [t.shape.reduce((a, b) => a * b, 1) / c, c];
}

/** Two programs in a row, the intermediate freed. */
function reduceInTwo(backend: WebGpuBackend, kind: 'stats' | 'grad', relu: boolean, eps: number, inputs: tf.TensorInfo[], x: tf.TensorInfo): tf.TensorInfo {
  const [m, c] = rowsAndChannels(x);
  const { chunks, rowsPerChunk } = rowChunks(m, c);
  const values = [m, c, rowsPerChunk, eps];
  const partial = runProgram(backend, partialSumsProgram(kind, relu, m, c), inputs, REDUCE_UNIFORMS, values);
  const totals = runProgram(backend, totalsProgram(kind, c), kind === 'stats' ? [partial, x] : [partial], [...REDUCE_UNIFORMS, ['chunks', 'i32']], [...values, chunks]);
  backend.disposeData(partial.dataId);
  return totals;
}

/** Registers the four kernels for the webgpu backend (once). */
export function registerBatchNormKernels(): void {
  if (tf.getKernel(BN_STATS_KERNEL, 'webgpu')) return;
  const register = (kernelName: string, kernelFunc: (inputs: Record<string, tf.TensorInfo>, backend: WebGpuBackend, attrs: BnAttrs) => tf.TensorInfo) =>
    tf.registerKernel({
      kernelName,
      backendName: 'webgpu',
      kernelFunc: ({ inputs, backend, attrs }) => kernelFunc(inputs as Record<string, tf.TensorInfo>, backend as unknown as WebGpuBackend, attrs as unknown as BnAttrs),
    });
  register(BN_STATS_KERNEL, ({ x }, backend) => reduceInTwo(backend, 'stats', false, 0, [x], x));
  register(BN_APPLY_KERNEL, ({ x, stats, gamma, beta }, backend, { relu, eps }) => {
    const [m, c] = rowsAndChannels(x);
    const out = runProgram(backend, applyProgram(relu, m, c), [x, stats, gamma, beta], REDUCE_UNIFORMS, [m, c, 0, eps]);
    return { ...out, shape: x.shape };
  });
  tf.registerKernel({
    kernelName: BN_RUNNING_UPDATE_KERNEL,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { running, batch } = inputs as Record<string, tf.TensorInfo>;
      const { momentum } = attrs as unknown as { momentum: number };
      const c = running.shape[0];
      const out = runProgram(backend as unknown as WebGpuBackend, runningUpdateProgram(c), [running, batch], RUNNING_UNIFORMS, [c, 1 - momentum, momentum]);
      return { ...out, shape: running.shape };
    },
  });
  register(BN_GRAD_SUMS_KERNEL, ({ dy, x, stats, gamma, beta }, backend, { relu, eps }) =>
    reduceInTwo(backend, 'grad', relu, eps, [dy, x, stats, gamma, beta], x),
  );
  register(BN_INPUT_GRAD_KERNEL, ({ dy, x, stats, gamma, beta, sums }, backend, { relu, eps }) => {
    const [m, c] = rowsAndChannels(x);
    const out = runProgram(backend, inputGradientProgram(relu, m, c), [dy, x, stats, gamma, beta, sums], REDUCE_UNIFORMS, [m, c, 0, eps]);
    return { ...out, shape: x.shape };
  });
}

const run = (name: string, inputs: tf.NamedTensorMap, attrs: BnAttrs = { relu: false, eps: 0 }) =>
  tf.engine().runKernel(name, inputs, attrs as never) as tf.Tensor;

/**
 * Training-mode batch norm (+ ReLU) of `x` [..., C] on the webgpu backend: the output (same shape, gradients to x,
 * gamma and beta through the batch statistics, as PyTorch) and the statistics [mean; biased variance] ([2, C]).
 */
export function batchNormTrainingGpu(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, relu: boolean, eps: number): { y: tf.Tensor; stats: tf.Tensor2D } {
  // The statistics are computed inside the custom gradient's forward pass, where the engine records no tape node for
  // them (their kernel has no gradient: the input gradient below accounts for them), saved for the backward pass,
  // and kept for the caller, who owns and disposes them.
  let stats: tf.Tensor2D | null = null;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, g, b] = args as tf.Tensor[];
    stats = tf.keep(run(BN_STATS_KERNEL, { x: input }) as tf.Tensor2D);
    saveInPlace(args[3] as tf.GradSaveFunc, [input, g, b, stats]);
    return {
      value: run(BN_APPLY_KERNEL, { x: input, stats, gamma: g, beta: b }, { relu, eps }),
      gradFunc: releasingSaved((dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xs, gs, bs, st] = saved;
          const sums = run(BN_GRAD_SUMS_KERNEL, { dy, x: xs, stats: st, gamma: gs, beta: bs }, { relu, eps });
          const dx = run(BN_INPUT_GRAD_KERNEL, { dy, x: xs, stats: st, gamma: gs, beta: bs, sums }, { relu, eps });
          const [dbeta, dgamma] = tf.unstack(sums);
          return [dx, dgamma, dbeta];
        })),
    };
  });
  const y = f(x, gamma, beta) as tf.Tensor;
  return { y, stats: stats! };
}

/** The new running statistic (1 - momentum) running + momentum batch ([C]) on the webgpu backend. */
export function runningStatUpdateGpu(running: tf.Tensor1D, batch: tf.Tensor1D, momentum: number): tf.Tensor1D {
  return tf.engine().runKernel(BN_RUNNING_UPDATE_KERNEL, { running, batch }, { momentum } as never) as tf.Tensor1D;
}

/**
 * Eval-mode batch norm (+ ReLU) with the running statistics on the webgpu backend: one dispatch forward; the gradient
 * (saliency maps) by tfjs ops: dx = g gamma invstd, with g the gradient masked by the ReLU.
 */
export function batchNormEvalGpu(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, runningMean: tf.Tensor1D, runningVar: tf.Tensor1D, relu: boolean, eps: number): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, g, b] = args as tf.Tensor[];
    // Saved (kept by the engine) because the backward pass runs after the caller's scope has ended.
    saveInPlace(args[3] as tf.GradSaveFunc, [input, g, b, runningMean, runningVar]);
    return {
      value: run(BN_APPLY_KERNEL, { x: input, stats: tf.stack([runningMean, runningVar]), gamma: g, beta: b }, { relu, eps }),
      gradFunc: releasingSaved((dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xs, gs, bs, rm, rv] = saved;
          const invstd = tf.rsqrt(tf.add(rv, eps));
          const xhat = tf.mul(tf.sub(xs, rm), invstd);
          const masked = relu ? tf.mul(dy, tf.step(tf.add(tf.mul(xhat, gs), bs))) : dy;
          const flatG = tf.reshape(masked, [-1, xs.shape[xs.rank - 1]]);
          return [tf.mul(masked, tf.mul(gs, invstd)), tf.sum(tf.mul(flatG, tf.reshape(xhat, flatG.shape)), 0), tf.sum(flatG, 0)];
        })),
    };
  });
  return f(x, gamma, beta) as tf.Tensor;
}
