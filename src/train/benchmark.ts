import * as tf from '@tensorflow/tfjs-core';
import { assertDeviceHealthy } from '../backend';
import { DenseNetConvLayer } from '../models/densenet-config';
import { buildImageModel } from '../models/multitask';
import { conv3d } from '../ops/conv3d';
import { MODEL_SPECS } from '../models/tasks';
import { AdamW } from './adamw';
import { multiTaskLoss } from './losses';

/** One timing of training steps. */
export interface StepTiming {
  backend: string;
  shape: [number, number, number];
  batch: number;
  steps: number;
  /** Median milliseconds per step (forward, backward, AdamW). */
  stepMs: number;
  volumesPerSecond: number;
  params: number;
}

/**
 * Times training steps of the full DenseNet-121 3D with the three heads of MT (ord GCS, bin age) on random volumes,
 * on the active backend: forward, backward, batch-norm statistics and an AdamW (AMSGrad) step, as the training loop
 * does. One warm-up step is not counted.
 */
export async function timeTrainingSteps(shape: [number, number, number], batch: number, steps: number): Promise<StepTiming> {
  const times: number[] = [];
  let params = 0;
  await withTrainingStep(shape, batch, async (step, count) => {
    params = count;
    for (let s = 0; s <= steps; s++) {
      const t0 = performance.now();
      await step();
      if (s > 0) times.push(performance.now() - t0);
    }
  });
  times.sort((a, b) => a - b);
  const stepMs = times[Math.floor(times.length / 2)];
  return { backend: tf.getBackend(), shape, batch, steps, stepMs, volumesPerSecond: (batch * 1000) / stepMs, params };
}

/** Kernel launches of one op in a profiled step. */
export interface KernelProfileRow {
  kernel: string;
  /** Launches (on webgpu: about one GPU dispatch each; a few kernels dispatch more than one program). */
  calls: number;
  /** Summed kernel time in ms as the backend reports it (GPU time on webgpu with timestamp queries), or null when unavailable. */
  ms: number | null;
  /** Bytes of the outputs created. */
  outputBytes: number;
}

/** One profiled training step: kernels by total launches, the step's wall time and, on webgpu, the GPU programs dispatched. */
export interface StepProfile {
  backend: string;
  shape: [number, number, number];
  batch: number;
  wallMs: number;
  /** Whether kernel times were measured (GPU timestamp queries on webgpu). */
  timed: boolean;
  totalCalls: number;
  kernels: KernelProfileRow[];
  /** webgpu only: compute dispatches per program (shader class), the most frequent first. */
  dispatches: { program: string; count: number }[] | null;
  totalDispatches: number | null;
}

/** The slice of tfjs-backend-webgpu's backend that the profile instruments. */
interface InstrumentedBackend {
  time(f: () => void): Promise<unknown>;
  runWebGPUProgram?: (program: { constructor: { name: string }; shaderKey: string }, ...rest: unknown[]) => unknown;
}

/**
 * Profiles one training step of the same network as {@link timeTrainingSteps} (after one unprofiled warm-up step,
 * which compiles the GPU programs) with tf.profile: launches, output bytes and (when `timed`) kernel time per kernel,
 * sorted by time, else by launches; on webgpu also every compute dispatch by program. The launch and dispatch counts
 * are what the WebGPU work of issue 7 reduces, and they do not depend on the GPU.
 * Untimed is the default on webgpu: tfjs-backend-webgpu times each program with its own timestamp query and submit,
 * which changes what is measured and crashed Dawn's query resolution on lavapipe during a training step (measured).
 */
export async function profileTrainingStep(shape: [number, number, number], batch: number, options: { timed?: boolean } = {}): Promise<StepProfile> {
  const backend = tf.backend() as unknown as InstrumentedBackend;
  const timed = options.timed ?? tf.getBackend() !== 'webgpu';
  let result: StepProfile | null = null;
  const counts = new Map<string, number>();
  const originalTime = backend.time;
  const originalRun = backend.runWebGPUProgram;
  await withTrainingStep(shape, batch, async (step) => {
    await step();
    if (!timed) backend.time = async (f: () => void) => (f(), { kernelMs: null, wallMs: null });
    if (originalRun) {
      backend.runWebGPUProgram = function (this: unknown, program, ...rest) {
        // tfjs programs are classes; the project's own (src/ops/webgpu) are plain objects named by their shader key.
        const name = program.constructor.name === 'Object' ? program.shaderKey.split('_')[0] : program.constructor.name;
        counts.set(name, (counts.get(name) ?? 0) + 1);
        return originalRun.call(this, program, ...rest);
      };
    }
    let info: Awaited<ReturnType<typeof tf.profile>>;
    const t0 = performance.now();
    try {
      info = await tf.profile(step);
    } finally {
      backend.time = originalTime;
      if (originalRun) backend.runWebGPUProgram = originalRun;
    }
    const wallMs = performance.now() - t0;
    const rows = new Map<string, KernelProfileRow>();
    for (const k of info.kernels) {
      const row = rows.get(k.name) ?? { kernel: k.name, calls: 0, ms: timed ? 0 : null, outputBytes: 0 };
      row.calls++;
      if (row.ms !== null) row.ms = typeof k.kernelTimeMs === 'number' ? row.ms + k.kernelTimeMs : null;
      row.outputBytes += k.outputShapes.reduce((a, s) => a + 4 * s.reduce((p, n) => p * n, 1), 0);
      rows.set(k.name, row);
    }
    const kernels = [...rows.values()].sort((a, b) => (b.ms ?? 0) - (a.ms ?? 0) || b.calls - a.calls);
    const dispatches = originalRun ? [...counts.entries()].map(([program, count]) => ({ program, count })).sort((a, b) => b.count - a.count) : null;
    result = {
      backend: tf.getBackend(),
      shape,
      batch,
      wallMs,
      timed,
      totalCalls: info.kernels.length,
      kernels,
      dispatches,
      totalDispatches: dispatches ? dispatches.reduce((a, d) => a + d.count, 0) : null,
    };
  });
  return result!;
}

/**
 * Builds the benchmark network (DenseNet-121 3D, heads of MT (ord GCS, bin age)), random volumes and targets, and
 * hands `body` a function running one training step (forward, backward, batch-norm statistics, AdamW with AMSGrad,
 * as the training loop does); everything is disposed afterwards.
 */
export async function withTrainingStep(
  shape: [number, number, number],
  batch: number,
  body: (step: () => Promise<void>, params: number) => Promise<void>,
): Promise<void> {
  const spec = MODEL_SPECS['mt-ord-gcs-bin-age'];
  const model = buildImageModel(spec, 1);
  const optimizer = new AdamW();
  const [d, h, w] = shape;
  const x = new Float32Array(batch * d * h * w);
  for (let i = 0; i < x.length; i++) x[i] = (Math.sin(i * 12.9898) * 43758.5453) % 1;
  const targets = { prognosis: tf.ones([batch, 1]), 'gcs-ordinal': tf.zeros([batch, 2]), 'age-binary': tf.zeros([batch, 1]) };
  const variables = model.store.trainable();
  const step = async () => {
    const ctx = { training: true, stats: new Map() };
    const { value, grads } = tf.variableGrads(() => multiTaskLoss(model.predict(x, [batch, d, h, w], ctx), targets, spec.tasks).total, variables);
    model.commitBatchStats(ctx);
    optimizer.apply(variables, grads);
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
    assertDeviceHealthy(`training step, batch ${batch} of ${d}x${h}x${w}`);
  };
  try {
    await body(step, model.store.countTrainable());
  } finally {
    tf.dispose(Object.values(targets));
    optimizer.dispose();
    model.dispose();
  }
}

/** Timing of one convolution shape: forward, and forward + both gradients, on the active backend. */
export interface ConvLayerTiming {
  name: string;
  input: [number, number, number, number, number];
  cout: number;
  kernel: number;
  count: number;
  /** Median ms of the forward pass, and of forward + input gradient (none for the stem's image) + weight gradient. */
  forwardMs: number;
  trainMs: number;
  /** Multiply-adds x 2 of the forward pass; training does 3x (2x for the stem, whose input needs no gradient). */
  forwardGflop: number;
  trainGflopPerSecond: number;
}

/**
 * Backends whose kernels have run when the op returns (nothing to wait for before stopping a clock); not tensorflow,
 * whose GPU build queues work on the device.
 */
const SYNCHRONOUS_BACKENDS = ['cpu', 'wasm'];

/**
 * Times the convolutions of a network (e.g. {@link denseNetConvLayers}) through src/ops' conv3d with whatever kernels
 * the backend uses (oneDNN, WGSL, TensorFlow's, or the TypeScript formulation): forward, then forward with the
 * gradients that training computes, each the median of `repeats` runs after one warm-up; on a GPU each run waits for
 * one value of each result (not a full read back, which PyTorch's timing does not have either).
 */
export async function timeConvLayers(layers: DenseNetConvLayer[], repeats = 3): Promise<ConvLayerTiming[]> {
  const out: ConvLayerTiming[] = [];
  for (const l of layers) {
    const [b, d, h, w, cin] = l.input;
    const image = l.name === 'stem';
    const x = tf.randomNormal([b * d, h, w, cin], 0, 1, 'float32', 1) as tf.Tensor4D;
    const weight = tf.randomNormal([l.kernel ** 3 * cin, l.cout], 0, 0.05, 'float32', 2) as tf.Tensor2D;
    const geometry = { kernel: l.kernel, stride: l.stride as 1 | 2, padding: l.padding, constantInput: image };
    const forward = () => conv3d({ x, batch: b, depth: d }, weight, geometry).x;
    const train = () =>
      tf.tidy(() => {
        const f = (xs: tf.Tensor, ws: tf.Tensor) => tf.sum(conv3d({ x: xs as tf.Tensor4D, batch: b, depth: d }, ws as tf.Tensor2D, geometry).x);
        return image ? [tf.grad((ws: tf.Tensor) => f(x, ws))(weight)] : tf.grads(f)([x, weight]);
      });
    const median = async (run: () => tf.Tensor | tf.Tensor[]) => {
      const times: number[] = [];
      for (let r = 0; r <= repeats; r++) {
        const t0 = performance.now();
        const result = run();
        const parts = Array.isArray(result) ? result : [result];
        // The CPU backends have finished when the call returns; a GPU's queue runs in order, so one value of each
        // result waits for the whole pass. Reading all of it would add a copy PyTorch's timing does not have (wasm:
        // 1.4-2.7 ms of block 1's first 1x1x1 convolution at 40 x 160 x 160, whose pass takes 0.9 ms; a GPU's
        // transfer of up to 3.7 GB).
        const probes = SYNCHRONOUS_BACKENDS.includes(tf.getBackend()) ? [] : parts.map((t) => tf.tidy(() => tf.slice(tf.reshape(t, [-1]), [0], [1])));
        await Promise.all(probes.map((p) => p.data()));
        tf.dispose([...parts, ...probes]);
        assertDeviceHealthy(`conv3d ${l.name}, input [${l.input.join(', ')}]`);
        if (r > 0) times.push(performance.now() - t0);
      }
      return times.sort((p, q) => p - q)[Math.floor(times.length / 2)];
    };
    try {
      const forwardMs = await median(forward);
      const trainMs = await median(train);
      const o = (n: number) => Math.floor((n + 2 * l.padding - l.kernel) / l.stride) + 1;
      const forwardGflop = (2 * b * o(d) * o(h) * o(w) * l.cout * l.kernel ** 3 * cin) / 1e9;
      out.push({ name: l.name, input: l.input, cout: l.cout, kernel: l.kernel, count: l.count, forwardMs, trainMs, forwardGflop, trainGflopPerSecond: ((image ? 2 : 3) * forwardGflop) / (trainMs / 1000) });
    } finally {
      tf.dispose([x, weight]);
    }
  }
  return out;
}
