import * as tf from '@tensorflow/tfjs-core';

/**
 * Index tables of a 3D sliding window (convolution or pooling) over a [batch, depth, height, width] grid whose voxels
 * are the rows of a [voxels, channels] matrix. `forward[n * taps + k]` is the input row of tap k of output position
 * n, or `voxels` (an extra padding row) outside the volume; `inverse` lists, for every input row, the
 * (n * taps + k) entries that read it, padded with the index of a zero row, so the gradient is a gather too.
 */
export interface WindowTable {
  batch: number;
  inDims: [number, number, number];
  outDims: [number, number, number];
  taps: number;
  voxels: number;
  positions: number;
  forward: tf.Tensor1D;
  /** The same indices in host memory (JS-built windows read them without a GPU readback). */
  forwardHost: Int32Array;
  inverse: tf.Tensor1D;
  /** Entries per input row in `inverse` (the largest number of windows that read one voxel). */
  multiplicity: number;
}

const tables = new Map<string, WindowTable>();

/** The output length of a window along one axis (PyTorch's floor rule). */
function outLen(n: number, k: number, s: number, p: number): number {
  return Math.floor((n + 2 * p - k) / s) + 1;
}

/**
 * The window table for a geometry (cached, and kept out of tidy scopes: tables live as long as the process).
 * @param kernel cubic window size; @param stride 1 or 2; @param padding voxels added on both sides of every axis.
 */
export function windowTable(batch: number, dims: [number, number, number], kernel: number, stride: number, padding: number): WindowTable {
  const key = `${batch}|${dims.join('x')}|${kernel}|${stride}|${padding}|${tf.getBackend()}`;
  const cached = tables.get(key);
  if (cached) return cached;
  const [d, h, w] = dims;
  const [od, oh, ow] = [outLen(d, kernel, stride, padding), outLen(h, kernel, stride, padding), outLen(w, kernel, stride, padding)];
  if (od < 1 || oh < 1 || ow < 1) {
    throw new Error(`window ${kernel}/${stride}/${padding} expected an input of at least ${kernel - 2 * padding} voxels per axis, got [${dims.join(', ')}]`);
  }
  const taps = kernel ** 3;
  const voxels = batch * d * h * w;
  const positions = batch * od * oh * ow;
  const forward = new Int32Array(positions * taps);
  const readers = new Uint8Array(voxels);
  let n = 0;
  for (let b = 0; b < batch; b++)
    for (let z = 0; z < od; z++)
      for (let y = 0; y < oh; y++)
        for (let x = 0; x < ow; x++, n++) {
          let k = 0;
          for (let kz = 0; kz < kernel; kz++) {
            const iz = z * stride - padding + kz;
            for (let ky = 0; ky < kernel; ky++) {
              const iy = y * stride - padding + ky;
              for (let kx = 0; kx < kernel; kx++, k++) {
                const ix = x * stride - padding + kx;
                const inside = iz >= 0 && iz < d && iy >= 0 && iy < h && ix >= 0 && ix < w;
                const row = inside ? ((b * d + iz) * h + iy) * w + ix : voxels;
                forward[n * taps + k] = row;
                if (inside) readers[row]++;
              }
            }
          }
        }
  let multiplicity = 0;
  for (let i = 0; i < voxels; i++) multiplicity = Math.max(multiplicity, readers[i]);
  multiplicity = Math.max(1, multiplicity);
  const zeroRow = positions * taps;
  const inverse = new Int32Array(voxels * multiplicity).fill(zeroRow);
  const fill = new Uint8Array(voxels);
  for (let e = 0; e < forward.length; e++) {
    const row = forward[e];
    if (row === voxels) continue;
    inverse[row * multiplicity + fill[row]++] = e;
  }
  const table: WindowTable = {
    batch,
    inDims: dims,
    outDims: [od, oh, ow],
    taps,
    voxels,
    positions,
    forward: tf.keep(tf.tensor1d(forward, 'int32')),
    forwardHost: forward,
    inverse: tf.keep(tf.tensor1d(inverse, 'int32')),
    multiplicity,
  };
  tables.set(key, table);
  return table;
}

/** The adjoint of gathering windows: sums each window entry back onto its input voxel ([positions * taps, C] -> [voxels, C]). */
export function scatterWindows(dy: tf.Tensor2D, table: WindowTable): tf.Tensor2D {
  return tf.tidy(() => {
    const c = dy.shape[1];
    const dyPadded = tf.concat([dy, tf.zeros([1, c])], 0);
    const parts = tf.gather(dyPadded, table.inverse);
    return (table.multiplicity === 1 ? parts : tf.sum(tf.reshape(parts, [table.voxels, table.multiplicity, c]), 1)) as tf.Tensor2D;
  });
}

/**
 * Gathers every window's voxels: [voxels, C] -> [positions * taps, C], padding with `padValue` (0 for convolutions,
 * -Infinity for max pooling). Its gradient is a gather through the inverse table and a sum, so it runs on every
 * backend (wasm has no scatter kernel) and costs two memory-bound gathers.
 */
export function gatherWindows(x: tf.Tensor2D, table: WindowTable, padValue = 0): tf.Tensor2D {
  const c = x.shape[1];
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    const padded = tf.concat([input, tf.fill([1, c], padValue)], 0);
    const value = tf.gather(padded, table.forward) as tf.Tensor2D;
    return {
      value,
      gradFunc: (dy: tf.Tensor) => scatterWindows(dy as tf.Tensor2D, table),
    };
  });
  return f(x) as tf.Tensor2D;
}

/**
 * The im2col matrix [positions, taps] of single-channel data that needs no gradient (the network's input image),
 * built in plain JS: a gather of one float per row is the slowest case for the backends' gather kernels.
 */
export function windowsOfData(data: Float32Array, table: WindowTable): tf.Tensor2D {
  const index = table.forwardHost;
  const cols = new Float32Array(index.length);
  const v = table.voxels;
  for (let i = 0; i < index.length; i++) {
    const r = index[i];
    cols[i] = r === v ? 0 : data[r];
  }
  return tf.tensor2d(cols, [table.positions, table.taps]);
}

/** Frees every cached table (e.g. before switching backends). */
export function clearWindowTables(): void {
  for (const t of tables.values()) tf.dispose([t.forward, t.inverse]);
  tables.clear();
}
