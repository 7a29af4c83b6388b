import * as tf from '@tensorflow/tfjs-core';
import { elementwiseProgram, runProgram, WebGpuBackend } from './program';

/**
 * One AdamW (or Adam with L2 decay) step per parameter tensor as two WebGPU dispatches of our own instead of ~17
 * elementwise ones: the moments [m; v] or [m; v; vmax] (AMSGrad) packed in one [k, n] tensor are updated by one
 * program, the parameter by a second. Same arithmetic, in the same order, as the tfjs formulation in
 * src/train/adamw.ts (torch.optim.AdamW's single-tensor path).
 */
export interface AdamStepConstants {
  /** Learning rate and weight decay of this step. */
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** lr / (1 - beta1^t) and sqrt(1 - beta2^t) at step t. */
  stepSize: number;
  bias2Sqrt: number;
  amsgrad: boolean;
  /** Decoupled decay p <- p (1 - lr wd) (AdamW) or g <- g + wd p (Adam). */
  decoupled: boolean;
}

export const ADAM_MOMENTS_KERNEL = 'IchAdamMoments';
export const ADAM_PARAM_KERNEL = 'IchAdamParam';

const UNIFORMS: [string, 'i32' | 'f32'][] = [
  ['n', 'i32'],
  ['decay', 'f32'],
  ['weightDecay', 'f32'],
  ['beta1', 'f32'],
  ['oneMinusBeta1', 'f32'],
  ['beta2', 'f32'],
  ['oneMinusBeta2', 'f32'],
  ['eps', 'f32'],
  ['stepSize', 'f32'],
  ['bias2Sqrt', 'f32'],
];

/** Rows of the packed moments: m, v and with AMSGrad the running maximum of v. */
export function momentRows(amsgrad: boolean): number {
  return amsgrad ? 3 : 2;
}

function momentsProgram(n: number, c: AdamStepConstants) {
  const rows = momentRows(c.amsgrad);
  return elementwiseProgram({
    key: `ichAdamMoments_${c.amsgrad ? 'ams' : 'plain'}_${c.decoupled ? 'decoupled' : 'l2'}`,
    inputs: ['param', 'grad', 'moments'],
    uniforms: UNIFORMS,
    outputShape: [rows, n],
    count: n,
    bound: 'uniforms.n',
    // AdamW does not read the parameter here, but its binding must stay (tfjs binds every input to a layout built
    // from the shader, which drops unused bindings).
    body: `${c.decoupled ? '_ = param[0];\n          let g = grad[i];' : 'let g = grad[i] + param[i] * uniforms.weightDecay;'}
          let m = moments[i] * uniforms.beta1 + g * uniforms.oneMinusBeta1;
          let v = moments[uniforms.n + i] * uniforms.beta2 + (g * g) * uniforms.oneMinusBeta2;
          result[i] = m;
          result[uniforms.n + i] = v;
          ${c.amsgrad ? 'result[2 * uniforms.n + i] = max(moments[2 * uniforms.n + i], v);' : ''}`,
  });
}

function paramProgram(n: number, c: AdamStepConstants) {
  const second = c.amsgrad ? 'moments[2 * uniforms.n + i]' : 'moments[uniforms.n + i]';
  return elementwiseProgram({
    key: `ichAdamParam_${c.amsgrad ? 'ams' : 'plain'}_${c.decoupled ? 'decoupled' : 'l2'}`,
    inputs: ['param', 'moments'],
    uniforms: UNIFORMS,
    outputShape: [1, n],
    count: n,
    bound: 'uniforms.n',
    body: `let p = ${c.decoupled ? 'param[i] * uniforms.decay' : 'param[i]'};
          let denom = sqrt(${second}) / uniforms.bias2Sqrt + uniforms.eps;
          result[i] = p - (moments[i] / denom) * uniforms.stepSize;`,
  });
}

function uniformValues(n: number, c: AdamStepConstants): number[] {
  return [n, 1 - c.lr * c.weightDecay, c.weightDecay, c.beta1, 1 - c.beta1, c.beta2, 1 - c.beta2, c.eps, c.stepSize, c.bias2Sqrt];
}

/** Registers both kernels for the webgpu backend (once). */
export function registerAdamKernels(): void {
  if (tf.getKernel(ADAM_MOMENTS_KERNEL, 'webgpu')) return;
  tf.registerKernel({
    kernelName: ADAM_MOMENTS_KERNEL,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { param, grad, moments } = inputs as Record<string, tf.TensorInfo>;
      const c = attrs as unknown as AdamStepConstants;
      const n = param.shape.reduce((a, b) => a * b, 1);
      return runProgram(backend as unknown as WebGpuBackend, momentsProgram(n, c), [param, grad, moments], UNIFORMS, uniformValues(n, c));
    },
  });
  tf.registerKernel({
    kernelName: ADAM_PARAM_KERNEL,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { param, moments } = inputs as Record<string, tf.TensorInfo>;
      const c = attrs as unknown as AdamStepConstants;
      const n = param.shape.reduce((a, b) => a * b, 1);
      const out = runProgram(backend as unknown as WebGpuBackend, paramProgram(n, c), [param, moments], UNIFORMS, uniformValues(n, c));
      return { ...out, shape: param.shape };
    },
  });
}

/**
 * One step for one parameter on the webgpu backend: returns the new packed moments ([k, n], k from
 * {@link momentRows}) and the new parameter (its shape); the caller assigns both.
 */
export function adamStepGpu(param: tf.Tensor, grad: tf.Tensor, moments: tf.Tensor2D, c: AdamStepConstants): { moments: tf.Tensor2D; param: tf.Tensor } {
  const attrs = { ...c } as never;
  const next = tf.engine().runKernel(ADAM_MOMENTS_KERNEL, { param, grad, moments }, attrs) as tf.Tensor2D;
  return { moments: next, param: tf.engine().runKernel(ADAM_PARAM_KERNEL, { param, moments: next }, attrs) as tf.Tensor };
}
