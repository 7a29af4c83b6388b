import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../config/paths';

/** The native addon's interface (native/ich_dnnl.cc): oneDNN convolutions, plain-loop pooling and batch norm, NDHWC. */
export interface NativeDnnl {
  /**
   * One convolution pass on NDHWC activations and [k, k, k, Cin, Cout] weights:
   * forward (x, w) -> y; backwardData (dy, w) -> dx; backwardWeights (x, dy) -> dw; written into `out` when given (a
   * tensor's own memory: no copy), else into a new array.
   */
  conv3d(op: NativeConvOp, geometry: number[], a: Float32Array, b: Float32Array, out?: Float32Array): Float32Array;
  /** The oneDNN implementation chosen for a pass (e.g. "jit:avx2"); "ref" means slow reference code. */
  implementation(op: NativeConvOp, geometry: number[]): string;
  /**
   * Max pooling, geometry [n, d, h, w, c, k, stride, pad], padding -infinity; returns the output (`out` when given: a
   * tensor's own memory) and, per output, the flat input index of its first maximum (PyTorch's tie rule).
   */
  maxPool3d(geometry: number[], x: Float32Array, out?: Float32Array): [Float32Array, Int32Array];
  /** The input gradient of max pooling: dy routed to the recorded maxima (into `out` when given, zeroed first). */
  maxPool3dBackward(inputLength: number, dy: Float32Array, argmax: Int32Array, out?: Float32Array): Float32Array;
  /** Average pooling without padding (geometry as maxPool3d, pad 0), into `out` when given. */
  avgPool3d(geometry: number[], x: Float32Array, out?: Float32Array): Float32Array;
  /** The input gradient of average pooling (into `out` when given, zeroed first). */
  avgPool3dBackward(geometry: number[], dy: Float32Array, out?: Float32Array): Float32Array;
  /**
   * Batch norm (+ ReLU when `relu`) of x [rows * C] with gamma and beta [C]: `stats` [mean; var] (2C) normalises
   * with given statistics (eval); null computes the batch mean and biased variance (training, sums in double).
   * Returns the output (`out` when given: a tensor's own memory, written in place) and the statistics used.
   */
  batchNormForward(x: Float32Array, gamma: Float32Array, beta: Float32Array, eps: number, relu: boolean, stats: Float32Array | null, out?: Float32Array): [Float32Array, Float32Array];
  /**
   * Gradients of {@link NativeDnnl.batchNormForward}: [dx, dgamma, dbeta]; in training dx runs through the batch
   * statistics (PyTorch's BatchNorm3d), in eval it is dy * gamma / sqrt(var + eps) (masked by the ReLU); dx is `out`
   * when given.
   */
  batchNormBackward(
    dy: Float32Array,
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    eps: number,
    relu: boolean,
    stats: Float32Array,
    training: boolean,
    out?: Float32Array,
  ): [Float32Array, Float32Array, Float32Array];
  /**
   * One AdamW / Adam step of a parameter into the caller's arrays (src/ops/native-adamw.ts): moments packed [m; v] or
   * [m; v; vmax]; constants [1 - lr wd, wd, beta1, 1 - beta1, beta2, 1 - beta2, eps, lr / (1 - beta1^t),
   * sqrt(1 - beta2^t)]. Absent in builds from before it existed.
   */
  adamStep?(
    param: Float32Array,
    grad: Float32Array,
    moments: Float32Array,
    paramOut: Float32Array,
    momentsOut: Float32Array,
    constants: number[],
    amsgrad: boolean,
    decoupled: boolean,
  ): void;
  /**
   * Rows of ca channels of a and cb of b side by side in `joined` (rows of ca + cb), and back; src/ops/native-concat.ts.
   * Absent in builds from before they existed.
   */
  concatChannels?(joined: Float32Array, a: Float32Array, b: Float32Array, ca: number, cb: number): void;
  splitChannels?(joined: Float32Array, a: Float32Array, b: Float32Array, ca: number, cb: number): void;
  /** out = a + b elementwise (three arrays of one length); src/ops/native-add.ts. Absent in builds from before it existed. */
  addInto?(out: Float32Array, a: Float32Array, b: Float32Array): void;
  /**
   * Whether glibc's malloc keeps freed memory for reuse (on: no mmap per large block, no trimming; off: glibc's
   * defaults, and what is free goes back to the system): process-wide, set by backend.ts only. Returns whether it is
   * on: false where the C library is not glibc. Absent in builds from before it existed.
   */
  keepFreedMemory?(on: boolean): boolean;
  /** OpenMP threads for the calling thread's oneDNN work. */
  setThreads(n: number): void;
  version(): string;
}

export type NativeConvOp = 'forward' | 'backwardData' | 'backwardWeights';

/** Where scripts/build-native.sh puts the addon. */
export function nativeAddonPath(): string {
  return path.join(projectRoot(), 'build', 'ich_dnnl.node');
}

let active: NativeDnnl | null = null;

/**
 * Loads the oneDNN addon; null with the reason when it was not built (no libdnnl-dev or g++) or fails to load.
 * Loading alone changes nothing: {@link useNativeKernels} switches the ops over.
 */
export function loadNativeDnnl(): { ok: true; lib: NativeDnnl; path: string } | { ok: false; reason: string } {
  const file = nativeAddonPath();
  if (!fs.existsSync(file)) return { ok: false, reason: `${file} is not built (scripts/build-native.sh needs g++ and libdnnl-dev)` };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return { ok: true, lib: require(file) as NativeDnnl, path: file };
  } catch (err) {
    return { ok: false, reason: `${file} failed to load: ${(err as Error).message.split('\n')[0]}` };
  }
}

/**
 * Routes the 3D convolutions and poolings of src/ops through the addon (lib) or back to the TensorFlow.js formulation (null).
 * Called by backend.ts only, and only for backends whose tensors live in CPU memory.
 */
export function useNativeKernels(lib: NativeDnnl | null): void {
  active = lib;
}

/** The addon the ops use now, or null. */
export function nativeKernels(): NativeDnnl | null {
  return active;
}
