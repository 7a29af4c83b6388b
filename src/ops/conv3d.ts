import * as tf from '@tensorflow/tfjs-core';
import { Act3d, shape5, withTensor } from './act3d';
import { gatherWindows, scatterWindows, windowsOfData, WindowTable, windowTable } from './im2col';
import { matMul } from './matmul';
import { NativeConvOp, NativeDnnl, nativeKernels } from './native-dnnl';
import { emptyTensor, valuesInPlace, writtenInto } from './native-memory';
import { releasingSaved, saveInPlace } from './saved-tensors';
import { conv3dTf, tfKernelsActive } from './tf-kernels';
import { convGemm, ConvShape, convOutDims } from './webgpu/conv3d-gemm';
import { webGpuKernelsActive } from './webgpu/kernels';

/** Geometry of a 3D convolution with PyTorch-style explicit padding (same on every axis). */
export interface Conv3dGeometry {
  kernel: number;
  stride: 1 | 2;
  padding: number;
  /** The input is data that needs no gradient (the image in training): single-channel windows are built in JS. */
  constantInput?: boolean;
}

/**
 * im2col(x) W with a gradient that recomputes the im2col matrix instead of keeping it: the matrix is k^3 times the
 * input (27x for the dense layers' 3x3x3 convs), and keeping one per layer for the backward pass is what exhausted
 * wasm's 2 GiB heap on DenseNet-121. Costs one extra gather per convolution in the backward pass.
 */
function windowedMatMul(x: tf.Tensor2D, weight: tf.Tensor2D, table: WindowTable): tf.Tensor2D {
  const cin = x.shape[1];
  const cols = (input: tf.Tensor2D) => tf.reshape(gatherWindows(input, table), [table.positions, table.taps * cin]) as tf.Tensor2D;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, w] = args as [tf.Tensor2D, tf.Tensor2D];
    saveInPlace(args[2] as tf.GradSaveFunc, [input, w]);
    return {
      value: tf.tidy(() => tf.matMul(cols(input), w)),
      gradFunc: releasingSaved((dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
          const d = dy as tf.Tensor2D;
          const c = cols(xs);
          const [m, kk] = c.shape;
          const n = ws.shape[1];
          const dw = m * kk <= m * n + kk * n ? tf.matMul(tf.transpose(c), d) : tf.transpose(tf.matMul(tf.transpose(d), c));
          const dcols = tf.reshape(tf.matMul(d, tf.transpose(ws)), [table.positions * table.taps, cin]) as tf.Tensor2D;
          return [scatterWindows(dcols, table), dw];
        })),
    };
  });
  return f(x, weight) as tf.Tensor2D;
}

/**
 * The k x k x k, stride 1, 'same' convolution (the dense layers' 3x3x3) by row shifts: on the zero-padded volume
 * flattened to rows [voxels, C], every tap reads the rows of its output shifted by a constant, so its columns are
 * one contiguous slice and the convolution is a sum of k^3 matMuls; border rows are computed and dropped. The
 * gradient shifts back the same way. On wasm a contiguous slice is ~11x faster than the equivalent gather.
 */
function shiftConv(x: tf.Tensor4D, weight: tf.Tensor2D, batch: number, depth: number, k: number): tf.Tensor4D {
  const [, h, w, c] = x.shape;
  const cout = weight.shape[1];
  const p = (k - 1) / 2;
  const [d2, h2, w2] = [depth + 2 * p, h + 2 * p, w + 2 * p];
  const plane = h2 * w2;
  const rows = batch * d2 * plane;
  const margin = p * (plane + w2 + 1);
  const offsets: number[] = [];
  for (let kd = 0; kd < k; kd++)
    for (let kh = 0; kh < k; kh++) for (let kw = 0; kw < k; kw++) offsets.push((kd - p) * plane + (kh - p) * w2 + (kw - p));
  /** [B*D, H, W, C] -> zero-padded rows [rows + 2 margin, C]. */
  const toRows = (t: tf.Tensor4D, ch: number) => {
    const a = tf.pad(t, [
      [0, 0],
      [p, p],
      [p, p],
      [0, 0],
    ]);
    const b = tf.pad(tf.reshape(a, [batch, depth, plane * ch]), [
      [0, 0],
      [p, p],
      [0, 0],
    ]);
    return tf.reshape(b, [rows, ch]);
  };
  /** Padded rows [rows, ch] -> interior [B*D, H, W, ch]. */
  const interior = (t: tf.Tensor, ch: number) => {
    const a = tf.slice(tf.reshape(t, [batch, d2, plane * ch]), [0, p, 0], [batch, depth, plane * ch]);
    return tf.slice(tf.reshape(a, [batch * depth, h2, w2, ch]), [0, p, p, 0], [batch * depth, h, w, ch]) as tf.Tensor4D;
  };
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, wt] = args as [tf.Tensor4D, tf.Tensor2D];
    saveInPlace(args[2] as tf.GradSaveFunc, [input, wt]);
    const value = tf.tidy(() => {
      const xr = tf.pad(toRows(input, c), [
        [margin, margin],
        [0, 0],
      ]);
      let y: tf.Tensor | null = null;
      offsets.forEach((off, t) => {
        const part = tf.matMul(
          tf.slice(xr, [margin + off, 0], [rows, c]) as tf.Tensor2D,
          tf.slice(wt, [t * c, 0], [c, cout]) as tf.Tensor2D,
        );
        y = y ? tf.add(y, part) : part;
      });
      return interior(y!, cout);
    });
    return {
      value,
      // tidy: the engine keeps a gradient function's temporaries until the whole backward pass ends, and 27 taps per
      // layer of slices and packed matMul operands exhausted wasm's heap.
      gradFunc: releasingSaved((dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor2D];
          const dyRows = toRows(dy as tf.Tensor4D, cout) as tf.Tensor2D;
          const dyT = tf.transpose(dyRows) as tf.Tensor2D;
          const xr = tf.pad(toRows(xs, c), [
            [margin, margin],
            [0, 0],
          ]);
          const wT = tf.transpose(ws) as tf.Tensor2D;
          const dwParts: tf.Tensor[] = [];
          let dxr: tf.Tensor | null = null;
          offsets.forEach((off, t) => {
            dwParts.push(tf.matMul(dyT, tf.slice(xr, [margin + off, 0], [rows, c]) as tf.Tensor2D));
            const back = tf.pad(tf.matMul(dyRows, tf.slice(wT, [0, t * c], [cout, c]) as tf.Tensor2D), [
              [margin + off, margin - off],
              [0, 0],
            ]);
            dxr = dxr ? tf.add(dxr, back) : back;
          });
          const dw = tf.transpose(tf.concat(dwParts, 1));
          const dx = interior(tf.slice(dxr!, [margin, 0], [rows, c]), c);
          return [dx, dw];
        })),
    };
  });
  return f(x, weight) as tf.Tensor4D;
}

/**
 * One native convolution pass (`geometry` [n, d, h, w, cin, cout, k, stride, pad]) into `out`'s own memory, its
 * operands `a` and `w` read in place (forward: x and the weight; backwardData: dy and the weight; backwardWeights: x
 * and dy). The views are taken here, so call it after the pass's last allocation (an allocation may move the wasm
 * heap); an addon built before `out` existed returns a new array, copied in.
 */
export function nativeConvInto(lib: NativeDnnl, geometry: number[], out: tf.Tensor, op: NativeConvOp, a: tf.Tensor, w: tf.Tensor): void {
  const view = valuesInPlace(out);
  writtenInto(view, lib.conv3d(op, geometry, valuesInPlace(a), valuesInPlace(w), view));
}

/**
 * The convolution by oneDNN (native/ich_dnnl.cc) on the tensors' CPU memory: forward, input gradient and weight
 * gradient are one native call each. Used on the cpu and wasm backends when the addon is built (backend.ts decides);
 * a constant input (the image) gets a zero gradient without computing one.
 */
function nativeConv(a: Act3d, weight: tf.Tensor2D, g: Conv3dGeometry, lib: NativeDnnl): Act3d {
  const [b, d, h, w, cin] = shape5(a);
  const { kernel: k, stride: s, padding: p } = g;
  const cout = weight.shape[1];
  const geometry = [b, d, h, w, cin, cout, k, s, p];
  const [od, oh, ow] = [d, h, w].map((n) => Math.floor((n + 2 * p - k) / s) + 1);
  const into = (out: tf.Tensor, op: NativeConvOp, a: tf.Tensor, w: tf.Tensor) => nativeConvInto(lib, geometry, out, op, a, w);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, wt] = args as [tf.Tensor4D, tf.Tensor2D];
    // Results are written into new tensors' own memory, and operands read in place: every view is taken after the
    // pass's last allocation (an allocation may move the wasm heap and detach earlier views).
    const y = emptyTensor([b * od, oh, ow, cout]);
    saveInPlace(args[2] as tf.GradSaveFunc, [input, wt]);
    into(y, 'forward', input, wt);
    return {
      value: y,
      gradFunc: releasingSaved((dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved;
        const dx = g.constantInput ? null : emptyTensor(input.shape);
        const dw = emptyTensor(wt.shape);
        if (dx) into(dx, 'backwardData', dy, ws);
        into(dw, 'backwardWeights', xs, dy);
        return [dx ?? tf.zeros(input.shape), dw];
      }),
    };
  });
  return { x: f(a.x, weight) as tf.Tensor4D, batch: b, depth: od };
}

/**
 * The convolution by the project's WGSL programs (src/ops/webgpu/conv3d-gemm.ts) on the webgpu backend: forward, input
 * gradient and weight gradient are one implicit-GEMM dispatch each (the weight gradient adds one reduction); a
 * constant input (the image) gets a zero gradient without computing one.
 */
function webGpuConv(a: Act3d, weight: tf.Tensor2D, g: Conv3dGeometry): Act3d {
  const [b, d, h, w, cin] = shape5(a);
  const shape: ConvShape = { b, d, h, w, cin, cout: weight.shape[1], k: g.kernel, s: g.stride, p: g.padding };
  const [od, oh, ow] = convOutDims(shape);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, wt] = args as [tf.Tensor4D, tf.Tensor2D];
    saveInPlace(args[2] as tf.GradSaveFunc, [input, wt]);
    return {
      value: tf.tidy(() => tf.reshape(convGemm('forward', shape, input, wt), [b * od, oh, ow, shape.cout]) as tf.Tensor4D),
      gradFunc: releasingSaved((dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor2D];
          const dx = g.constantInput ? tf.zerosLike(xs) : tf.reshape(convGemm('backwardData', shape, dy, ws), xs.shape);
          return [dx, convGemm('backwardWeights', shape, xs, dy)];
        })),
    };
  });
  return { x: f(a.x, weight) as tf.Tensor4D, batch: b, depth: od };
}

/**
 * 3D convolution without bias, PyTorch semantics (cross-correlation, zero padding), at rank <= 4:
 * the windows are gathered into an im2col matrix [positions, k^3 * Cin] and multiplied by the weight in one matMul
 * (recomputed in the backward pass); 1 x 1 x 1 kernels are a single matMul. With the oneDNN addon active (backend.ts),
 * every convolution is one native call instead; with the WGSL kernels active (webgpu), one GPU dispatch; on the
 * tensorflow backend (tfjs-node), TensorFlow's own conv3d. Gradients are gathers and untransposed
 * matMuls, which every backend has (wasm lacks Conv2DBackpropFilter and its conv3d input gradient is wrong: neither is used).
 * @param weight [k^3 * Cin, Cout], rows ordered (kd, kh, kw, cin) = TF's [kD, kH, kW, Cin, Cout] flattened.
 */
export function conv3d(a: Act3d, weight: tf.Tensor2D, g: Conv3dGeometry): Act3d {
  const [b, d, h, w, cin] = shape5(a);
  const { kernel: k, stride: s, padding: p } = g;
  const cout = weight.shape[1];
  if (weight.shape[0] !== k * k * k * cin) {
    throw new Error(
      `conv3d weight expected [${k * k * k * cin}, Cout] for kernel ${k} and ${cin} input channels, got [${weight.shape.join(', ')}]`,
    );
  }
  const lib = nativeKernels();
  if (lib) return nativeConv(a, weight, g, lib);
  if (webGpuKernelsActive()) return webGpuConv(a, weight, g);
  if (tfKernelsActive()) return conv3dTf(a, weight, k, s, p);
  const x2 = tf.reshape(a.x, [b * d * h * w, cin]) as tf.Tensor2D;
  if (k === 1 && s === 1 && p === 0) {
    return withTensor(a, tf.reshape(matMul(x2, weight), [b * d, h, w, cout]) as tf.Tensor4D);
  }
  if (s === 1 && 2 * p === k - 1 && !(g.constantInput && cin === 1)) {
    return withTensor(a, shiftConv(a.x, weight, b, d, k));
  }
  const table = windowTable(b, [d, h, w], k, s, p);
  const [od, oh, ow] = table.outDims;
  // The image's windows are built in JS from its host copy (no readback from a GPU); otherwise gathered.
  const y = g.constantInput && cin === 1 && a.host ? matMul(windowsOfData(a.host, table), weight) : windowedMatMul(x2, weight, table);
  return { x: tf.reshape(y, [b * od, oh, ow, cout]) as tf.Tensor4D, batch: b, depth: od };
}
