import * as tf from '@tensorflow/tfjs-core';
import { Act3d, shape5, withTensor } from './act3d';
import { gatherWindows, windowTable } from './im2col';
import { concatChannelsNative, nativeConcatActive } from './native-concat';
import { NativeDnnl, nativeKernels } from './native-dnnl';
import { emptyTensor, valuesInPlace, writtenInto } from './native-memory';
import { avgPool3dTf, maxPool3dTf, tfKernelsActive } from './tf-kernels';
import { webGpuKernelsActive } from './webgpu/kernels';
import { maxPool3dGpu, poolOutDims } from './webgpu/maxpool';

/**
 * Pooling by the native addon on the tensor's CPU memory, with its gradient (backend.ts decides when). Outputs are
 * written into new tensors' own memory (emptyTensor), every view taken after the allocation (a wasm allocation may
 * move the heap); an addon built before output arguments returns new arrays, copied in.
 */
function nativePool(a: Act3d, kind: 'max' | 'avg', kernel: number, stride: number, padding: number, lib: NativeDnnl): Act3d {
  const [b, d, h, w, c] = shape5(a);
  const geometry = [b, d, h, w, c, kernel, stride, padding];
  const [od, oh, ow] = [d, h, w].map((n) => Math.floor((n + 2 * padding - kernel) / stride) + 1);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor4D;
    const y = emptyTensor([b * od, oh, ow, c]) as tf.Tensor4D;
    const yView = valuesInPlace(y);
    // Read in place (the gradient needs only the maxima's positions, not the input); they stay in JS memory (not a
    // tensor) until the gradient needs them.
    const x = valuesInPlace(input);
    let argmax: Int32Array | null = null;
    if (kind === 'max') {
      const [yValues, positions] = lib.maxPool3d(geometry, x, yView);
      writtenInto(yView, yValues);
      argmax = positions;
    } else {
      writtenInto(yView, lib.avgPool3d(geometry, x, yView));
    }
    const inputShape = input.shape;
    const inputLength = input.size;
    return {
      value: y,
      gradFunc: (dy: tf.Tensor) => {
        const dx = emptyTensor(inputShape);
        const dxView = valuesInPlace(dx);
        const g = valuesInPlace(dy);
        writtenInto(dxView, argmax ? lib.maxPool3dBackward(inputLength, g, argmax, dxView) : lib.avgPool3dBackward(geometry, g, dxView));
        return [dx];
      },
    };
  });
  return { x: f(a.x) as tf.Tensor4D, batch: b, depth: od };
}

/**
 * 3D max pooling (PyTorch MaxPool3d: padding counts as -infinity): the windows are gathered ([positions, k^3, C])
 * and reduced with max. With the native addon or the WGSL kernels active, the first maximum of each window is found
 * and only it gets the gradient (PyTorch's rule), without materialising the windows.
 */
export function maxPool3d(a: Act3d, kernel: number, stride: 1 | 2, padding: number): Act3d {
  const lib = nativeKernels();
  if (lib) return nativePool(a, 'max', kernel, stride, padding, lib);
  if (tfKernelsActive()) return maxPool3dTf(a, kernel, stride, padding);
  const [b, d, h, w, c] = shape5(a);
  if (webGpuKernelsActive()) {
    const g = { b, d, h, w, c, k: kernel, s: stride, p: padding };
    const [od, oh, ow] = poolOutDims(g);
    return { x: tf.reshape(maxPool3dGpu(a.x, g), [b * od, oh, ow, c]) as tf.Tensor4D, batch: b, depth: od };
  }
  const table = windowTable(b, [d, h, w], kernel, stride, padding);
  const [od, oh, ow] = table.outDims;
  const g = gatherWindows(tf.reshape(a.x, [b * d * h * w, c]) as tf.Tensor2D, table, -Infinity);
  const m = tf.max(tf.reshape(g, [table.positions, table.taps, c]), 1);
  return { x: tf.reshape(m, [b * od, oh, ow, c]) as tf.Tensor4D, batch: b, depth: od };
}

/** 3D average pooling with kernel = stride (PyTorch AvgPool3d(k, k), no padding; a remainder is dropped). */
export function avgPool3d(a: Act3d, kernel: 2): Act3d {
  const lib = nativeKernels();
  if (lib) return nativePool(a, 'avg', kernel, kernel, 0, lib);
  if (tfKernelsActive()) return avgPool3dTf(a, kernel);
  const [b, d, h, w, c] = shape5(a);
  const table = windowTable(b, [d, h, w], kernel, kernel, 0);
  const [od, oh, ow] = table.outDims;
  const g = gatherWindows(tf.reshape(a.x, [b * d * h * w, c]) as tf.Tensor2D, table);
  const m = tf.mean(tf.reshape(g, [table.positions, table.taps, c]), 1);
  return { x: tf.reshape(m, [b * od, oh, ow, c]) as tf.Tensor4D, batch: b, depth: od };
}

/** Global average pooling over depth, height and width: [B, C]. */
export function globalAvgPool3d(a: Act3d): tf.Tensor2D {
  const [b, d, h, w, c] = shape5(a);
  return tf.mean(tf.reshape(a.x, [b, d * h * w, c]), 1) as tf.Tensor2D;
}

/** Global max pooling over depth, height and width: [B, C]. */
export function globalMaxPool3d(a: Act3d): tf.Tensor2D {
  const [b, d, h, w, c] = shape5(a);
  return tf.max(tf.reshape(a.x, [b, d * h * w, c]), 1) as tf.Tensor2D;
}

/**
 * Concatenates activations along channels (dense connectivity); two of them by the native addon when it is in use
 * (src/ops/native-concat.ts: copies in place instead of tfjs's row-by-row Concat and SplitV on wasm).
 */
export function concatChannels(parts: Act3d[]): Act3d {
  if (parts.length === 2 && nativeConcatActive()) return withTensor(parts[0], concatChannelsNative(parts[0].x, parts[1].x));
  return withTensor(parts[0], tf.concat(parts.map((p) => p.x), 3) as tf.Tensor4D);
}
