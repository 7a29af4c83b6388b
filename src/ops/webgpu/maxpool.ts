import * as tf from '@tensorflow/tfjs-core';
import { releasingSaved, saveInPlace } from '../saved-tensors';
import { decodeRow, elementwiseProgram, runProgram, WebGpuBackend } from './program';

/**
 * 3D max pooling (PyTorch MaxPool3d: padding is -infinity, the first maximum of a window wins) on NDHWC activations
 * as WebGPU programs of our own: the position of each window's maximum, then the values gathered from it; the input
 * gradient has one invocation per input element that adds the gradients of the (at most ceil(k/s)^3) windows whose
 * maximum it is, in a fixed order. tfjs's formulation materialises every window ([positions x k^3, C], 3.2 GB for the
 * stem at the paper's input and batch 8, past WebGPU's 2 GiB binding limit).
 */
export interface PoolShape {
  b: number;
  d: number;
  h: number;
  w: number;
  c: number;
  k: number;
  s: number;
  p: number;
}

/** Output depth, height and width (PyTorch's floor rule). */
export function poolOutDims(g: PoolShape): [number, number, number] {
  return [g.d, g.h, g.w].map((n) => Math.floor((n + 2 * g.p - g.k) / g.s) + 1) as [number, number, number];
}

const UNIFORMS: [string, 'i32' | 'f32'][] = ['B', 'D', 'H', 'W', 'C', 'OD', 'OH', 'OW'].map((n) => [n, 'i32']);
const values = (g: PoolShape) => [g.b, g.d, g.h, g.w, g.c, ...poolOutDims(g)];

function argmaxProgram(g: PoolShape) {
  const [od, oh, ow] = poolOutDims(g);
  const rows = g.b * od * oh * ow;
  return elementwiseProgram({
    key: `ichMaxPoolArgmax_k${g.k}s${g.s}p${g.p}`,
    inputs: ['x'],
    uniforms: UNIFORMS,
    outputShape: [rows, g.c],
    count: rows * g.c,
    bound: 'uniforms.B * uniforms.OD * uniforms.OH * uniforms.OW * uniforms.C',
    body: `let c = i % uniforms.C;
        ${decodeRow('i / uniforms.C', ['uniforms.OD', 'uniforms.OH', 'uniforms.OW'], ['b', 'od', 'oh', 'ow'])}
        var best = -uniforms.INFINITY;
        var arg = -1;
        for (var kd = 0; kd < ${g.k}; kd++) {
          let z = od * ${g.s} - ${g.p} + kd;
          for (var kh = 0; kh < ${g.k}; kh++) {
            let y = oh * ${g.s} - ${g.p} + kh;
            for (var kw = 0; kw < ${g.k}; kw++) {
              let x0 = ow * ${g.s} - ${g.p} + kw;
              if (z >= 0 && z < uniforms.D && y >= 0 && y < uniforms.H && x0 >= 0 && x0 < uniforms.W) {
                let at = (((b * uniforms.D + z) * uniforms.H + y) * uniforms.W + x0) * uniforms.C + c;
                let v = x[at];
                if (arg < 0 || v > best) {
                  best = v;
                  arg = at;
                }
              }
            }
          }
        }
        result[i] = arg;`,
  });
}

function gatherProgram(rows: number, c: number) {
  return elementwiseProgram({
    key: 'ichMaxPoolGather',
    inputs: ['x', 'argmax'],
    uniforms: [['n', 'i32']],
    outputShape: [rows, c],
    count: rows * c,
    bound: 'uniforms.n',
    body: 'result[i] = x[argmax[i]];',
  });
}

function backwardProgram(g: PoolShape) {
  // Outputs whose window holds input coordinate z along one axis: od in [ceil((z + p - k + 1) / s), floor((z + p) / s)].
  const span = Math.ceil(g.k / g.s);
  const rows = g.b * g.d * g.h * g.w;
  return elementwiseProgram({
    key: `ichMaxPoolBackward_k${g.k}s${g.s}p${g.p}`,
    inputs: ['dy', 'argmax'],
    uniforms: UNIFORMS,
    outputShape: [rows, g.c],
    count: rows * g.c,
    bound: 'uniforms.B * uniforms.D * uniforms.H * uniforms.W * uniforms.C',
    helpers: `
      fn firstWindow(z: i32) -> i32 {
        // ceil((z + p - k + 1) / s) for a possibly negative numerator, clamped at 0.
        let num = z + ${g.p - g.k + 1};
        return max(0, select(-((-num) / ${g.s}), (num + ${g.s - 1}) / ${g.s}, num > 0));
      }`,
    body: `let c = i % uniforms.C;
        ${decodeRow('i / uniforms.C', ['uniforms.D', 'uniforms.H', 'uniforms.W'], ['b', 'z', 'y', 'x0'])}
        let d0 = firstWindow(z);
        let h0 = firstWindow(y);
        let w0 = firstWindow(x0);
        var acc = 0.0;
        for (var a = 0; a < ${span}; a++) {
          let od = d0 + a;
          if (od < uniforms.OD && od * ${g.s} - ${g.p} <= z) {
            for (var bb = 0; bb < ${span}; bb++) {
              let oh = h0 + bb;
              if (oh < uniforms.OH && oh * ${g.s} - ${g.p} <= y) {
                for (var cc = 0; cc < ${span}; cc++) {
                  let ow = w0 + cc;
                  if (ow < uniforms.OW && ow * ${g.s} - ${g.p} <= x0) {
                    let o = (((b * uniforms.OD + od) * uniforms.OH + oh) * uniforms.OW + ow) * uniforms.C + c;
                    if (argmax[o] == i) {
                      acc += dy[o];
                    }
                  }
                }
              }
            }
          }
        }
        result[i] = acc;`,
  });
}

export const MAX_POOL_KERNEL = 'IchMaxPool3d';
export const MAX_POOL_BACKWARD_KERNEL = 'IchMaxPool3dBackward';

function poolShape(attrs: unknown): PoolShape {
  const [b, d, h, w, c, k, s, p] = (attrs as { shape: number[] }).shape;
  return { b, d, h, w, c, k, s, p };
}

/** Registers the forward (values and argmax) and backward kernels for the webgpu backend (once). */
export function registerMaxPoolKernels(): void {
  if (tf.getKernel(MAX_POOL_KERNEL, 'webgpu')) return;
  tf.registerKernel({
    kernelName: MAX_POOL_KERNEL,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const g = poolShape(attrs);
      const gpu = backend as unknown as WebGpuBackend;
      const argmax = runProgram(gpu, argmaxProgram(g), [inputs.x as tf.TensorInfo], UNIFORMS, values(g), 'int32');
      const rows = argmax.shape[0];
      const y = runProgram(gpu, gatherProgram(rows, g.c), [inputs.x as tf.TensorInfo, argmax], [['n', 'i32']], [rows * g.c]);
      return [y, argmax];
    },
  });
  tf.registerKernel({
    kernelName: MAX_POOL_BACKWARD_KERNEL,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const g = poolShape(attrs);
      return runProgram(backend as unknown as WebGpuBackend, backwardProgram(g), [inputs.dy as tf.TensorInfo, inputs.argmax as tf.TensorInfo], UNIFORMS, values(g));
    },
  });
}

/**
 * Max pooling of x ([B*D, H, W, C] or any shape holding B x D x H x W x C values) on the webgpu backend, with its
 * gradient: [B*OD*OH*OW, C].
 */
export function maxPool3dGpu(x: tf.Tensor, g: PoolShape): tf.Tensor2D {
  const attrs = { shape: [g.b, g.d, g.h, g.w, g.c, g.k, g.s, g.p] } as never;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    const [y, argmax] = tf.engine().runKernel(MAX_POOL_KERNEL, { x: input }, attrs) as tf.Tensor[];
    saveInPlace(args[1] as tf.GradSaveFunc, [argmax]);
    return {
      value: y,
      gradFunc: releasingSaved((dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.reshape(tf.engine().runKernel(MAX_POOL_BACKWARD_KERNEL, { dy, argmax: saved[0] }, attrs) as tf.Tensor, input.shape)),
    };
  });
  return f(x) as tf.Tensor2D;
}
