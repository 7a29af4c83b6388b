import * as tf from '@tensorflow/tfjs-core';

/**
 * A batch of 3D feature maps kept at rank 4 (WebGPU cannot compile most rank-5 programs, and matMul/conv2d are the
 * fast kernels everywhere): `x` is [batch * depth, height, width, channels], depth-major within each sample.
 */
export interface Act3d {
  x: tf.Tensor4D;
  batch: number;
  depth: number;
}

/** Wraps a channels-last batch [B, D, H, W, C] given as a flat tensor or array into an {@link Act3d}. */
export function act3d(data: tf.Tensor | Float32Array, shape: [number, number, number, number, number]): Act3d {
  const [b, d, h, w, c] = shape;
  const x = data instanceof Float32Array ? tf.tensor4d(data, [b * d, h, w, c]) : tf.reshape(data, [b * d, h, w, c]);
  return { x: x as tf.Tensor4D, batch: b, depth: d };
}

/** [B, D, H, W, C] of an activation. */
export function shape5(a: Act3d): [number, number, number, number, number] {
  const [, h, w, c] = a.x.shape;
  return [a.batch, a.depth, h, w, c];
}

/** Same batch and depth, new tensor. */
export function withTensor(a: Act3d, x: tf.Tensor4D, depth = a.depth): Act3d {
  return { x, batch: a.batch, depth };
}

/** Pads one spatial axis (0 depth, 1 height, 2 width) by `before`/`after` with a constant (0, or -Infinity for max pooling). */
export function padAxis(a: Act3d, axis: 0 | 1 | 2, before: number, after: number, value = 0): Act3d {
  if (before === 0 && after === 0) return a;
  if (axis === 0) {
    const [b, d, h, w, c] = shape5(a);
    const v = tf.reshape(a.x, [b, d, h * w * c]);
    const p = tf.pad(v, [[0, 0], [before, after], [0, 0]], value);
    return { x: tf.reshape(p, [b * (d + before + after), h, w, c]) as tf.Tensor4D, batch: b, depth: d + before + after };
  }
  const pads: [number, number][] = [[0, 0], [0, 0], [0, 0], [0, 0]];
  pads[axis] = [before, after];
  return withTensor(a, tf.pad(a.x, pads, value) as tf.Tensor4D);
}

/**
 * Positions `offset + stride * i` (i < count) along one spatial axis; stride 1 or 2. Stride 2 takes the first of
 * each pair after a reshape, so every op stays at rank <= 4 and has a gradient on every backend.
 */
export function selectAxis(a: Act3d, axis: 0 | 1 | 2, offset: number, count: number, stride: 1 | 2): Act3d {
  const [b, d, h, w, c] = shape5(a);
  const n = [d, h, w][axis];
  if (offset < 0 || offset + stride * (count - 1) >= n) {
    throw new Error(`selectAxis expected positions ${offset}..${offset + stride * (count - 1)} inside 0..${n - 1} (axis ${axis})`);
  }
  if (axis === 0) {
    const v = tf.reshape(a.x, [b, d, h * w * c]);
    let s: tf.Tensor;
    if (stride === 1) s = tf.slice(v, [0, offset, 0], [b, count, h * w * c]);
    else {
      const span = Math.min(2 * count, d - offset);
      let part = tf.slice(v, [0, offset, 0], [b, span, h * w * c]);
      if (span < 2 * count) part = tf.pad(part, [[0, 0], [0, 2 * count - span], [0, 0]]);
      s = tf.slice(tf.reshape(part, [b, count, 2, h * w * c]), [0, 0, 0, 0], [b, count, 1, h * w * c]);
    }
    return { x: tf.reshape(s, [b * count, h, w, c]) as tf.Tensor4D, batch: b, depth: count };
  }
  const nd = b * d;
  if (stride === 1) {
    const begin = [0, 0, 0, 0];
    const size = [nd, h, w, c];
    begin[axis] = offset;
    size[axis] = count;
    return withTensor(a, tf.slice(a.x, begin, size) as tf.Tensor4D);
  }
  const span = Math.min(2 * count, n - offset);
  const begin = [0, 0, 0, 0];
  const size = [nd, h, w, c];
  begin[axis] = offset;
  size[axis] = span;
  let part = tf.slice(a.x, begin, size) as tf.Tensor4D;
  if (span < 2 * count) {
    const pads: [number, number][] = [[0, 0], [0, 0], [0, 0], [0, 0]];
    pads[axis] = [0, 2 * count - span];
    part = tf.pad(part, pads) as tf.Tensor4D;
  }
  if (axis === 1) {
    const pairs = tf.reshape(part, [nd, count, 2, w * c]);
    return withTensor(a, tf.reshape(tf.slice(pairs, [0, 0, 0, 0], [nd, count, 1, w * c]), [nd, count, w, c]) as tf.Tensor4D);
  }
  const pairs = tf.reshape(part, [nd * h, count, 2, c]);
  return withTensor(a, tf.reshape(tf.slice(pairs, [0, 0, 0, 0], [nd * h, count, 1, c]), [nd, h, count, c]) as tf.Tensor4D);
}
