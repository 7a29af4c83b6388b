import * as tf from '@tensorflow/tfjs-core';
import { assertDeviceHealthy } from '../backend';
import { ConvPass, ConvShape, ConvTiling, convGemm, convOutDims, convTiling, gemmDims, isNarrowInputGradient, resolveTiling } from '../ops/webgpu/conv3d-gemm';
import { CONV_TUNING_FORMAT, convTuningKey, ConvTuningTable, RecordedConvPass } from '../ops/webgpu/conv-tuning';
import { webGpuKernelsActive } from '../ops/webgpu/kernels';
import { MAX_GRID, oversizeBinding, WebGpuBackend } from '../ops/webgpu/program';

/** A tiling with its rows per thread and columns per tile resolved (what a tuning table stores). */
export type ResolvedTiling = Omit<ConvTiling, 'rows' | 'columns'> & { rows: 4 | 8; columns: 32 | 64 };

/**
 * The distinct programs a pass can run as: the current default tiling ({@link convTiling}) first, then every
 * combination of 4 or 8 rows per thread, scalar or four-channel loads, split or whole reduction, 32 or 64 columns
 * per tile and loads prefetched or not, one per program
 * that actually differs ({@link resolveTiling}), each written as what it does (four-channel loads only where the
 * channels allow them, `splitK` true where the reduction is split). One entry for a pass with no choice (the narrow
 * input gradient of the stem's image).
 */
export function convTilingCandidates(pass: ConvPass, shape: ConvShape): ResolvedTiling[] {
  const all: ConvTiling[] = [convTiling()];
  for (const rows of [4, 8] as const) {
    for (const columns of [64, 32] as const) {
      for (const vectorLoads of [true, false]) {
        for (const splitK of [true, false]) for (const prefetch of [false, true]) all.push({ rows, vectorLoads, splitK, columns, prefetch });
      }
    }
  }
  const seen = new Map<string, ResolvedTiling>();
  for (const t of all) {
    const { rows, columns, lanes, chunks, prefetch } = resolveTiling(pass, shape, t);
    const signature = isNarrowInputGradient(pass, shape) ? 'narrow' : `${rows} ${columns} ${lanes} ${chunks} ${prefetch}`;
    if (!seen.has(signature)) seen.set(signature, { rows, vectorLoads: lanes === 4, splitK: chunks > 1, columns, prefetch });
  }
  return [...seen.values()];
}

/**
 * The tiling to keep: the fastest, unless it beats the first (the default) by less than `margin` (a share of the
 * default's time), so that timing noise does not trade the default for an equal program.
 * @param timings ms per pass of each candidate, the default first; NaN for a candidate that failed.
 */
export function chooseTiling<T>(timings: { tiling: T; ms: number }[], margin = 0.03): { tiling: T; ms: number } {
  if (timings.length === 0) throw new Error('chooseTiling expected at least one timing, got none');
  const valid = timings.filter((t) => Number.isFinite(t.ms));
  if (valid.length === 0) throw new Error('chooseTiling expected at least one candidate that ran, got none');
  const best = valid.reduce((a, b) => (b.ms < a.ms ? b : a));
  const fallback = timings[0];
  return Number.isFinite(fallback.ms) && best.ms >= fallback.ms * (1 - margin) ? fallback : best;
}

/** A candidate this many times slower than the best so far is not timed again. */
const PRUNE = 1.5;

/**
 * Multiply-adds a recorded pass does in one training step (GEMM rows x columns x reduction, times its count): the
 * order of tuning, largest first, so that a tuning stopped by a time limit (gpu.sh caps it) has spent its time on the
 * passes that make up most of the step rather than on the late blocks' small ones.
 */
export function passWork(p: RecordedConvPass): number {
  const { m, n, k } = gemmDims(p.pass, p.shape);
  return m * n * k * p.count;
}

/** What tuning measured for one pass and shape. */
export interface ConvPassTuning {
  key: string;
  pass: ConvPass;
  shape: ConvShape;
  /** Times the pass ran in the recorded step. */
  count: number;
  /** Every candidate, the default first: ms per pass (best trial), or NaN with the error when it failed. */
  candidates: { tiling: ResolvedTiling; ms: number; error?: string }[];
  chosen: ResolvedTiling;
  ms: number;
  defaultMs: number;
}

/** Options of {@link tuneConvPasses}. */
export interface ConvTuningOptions {
  /** Timed trials per candidate, the best kept (default 3). */
  trials?: number;
  /** Passes run back to back per trial until about this long (ms, default 20): one read-back per trial. */
  trialMs?: number;
  /** Least share of the default's time a candidate must save to replace it (default 0.03). */
  margin?: number;
  /**
   * Tune only this many passes, the largest first ({@link passWork}); the rest keep the default tiling (default: all).
   * For a time budget: the largest passes carry most of a step's time.
   */
  maxPasses?: number;
  /** Called after each pass is tuned (progress), with every pass tuned so far (`t` last). */
  onPass?: (t: ConvPassTuning, index: number, total: number, tuned: readonly ConvPassTuning[]) => void;
}

/**
 * Times every candidate tiling ({@link convTilingCandidates}) of each recorded pass on operands of its shape,
 * on the active webgpu backend with the project's kernels, and picks one per pass ({@link chooseTiling}). Passes
 * with a single candidate are left out; a pass with an operand over the GPU's per-binding limit, or none of whose
 * candidates runs, is skipped with the reason, not fatal. Passes are tuned largest first ({@link passWork}),
 * at most `maxPasses` of them (`notTuned` counts those left at the default). Each
 * candidate runs once to compile its pipeline and once timed, then `trials` times a batch of back-to-back passes
 * ended by reading one value back (which waits for the GPU), the trials taken in turn across candidates (only those
 * within 1.5x of the best so far, and the default); a candidate keeps its best time.
 */
export async function tuneConvPasses(
  passes: RecordedConvPass[],
  options: ConvTuningOptions = {},
): Promise<{ tuned: ConvPassTuning[]; skipped: { key: string; reason: string }[]; notTuned: number }> {
  const maxPasses = options.maxPasses ?? Infinity;
  if (!(maxPasses >= 1) || (Number.isFinite(maxPasses) && !Number.isInteger(maxPasses))) {
    throw new Error(`conv tuning maxPasses expected an integer >= 1, got ${maxPasses}`);
  }
  if (tf.getBackend() !== 'webgpu' || !webGpuKernelsActive()) {
    throw new Error(`conv tuning expected the webgpu backend with the project's WGSL kernels, got ${tf.getBackend()}${webGpuKernelsActive() ? '' : ' without them'}`);
  }
  const trials = options.trials ?? 3;
  const trialMs = options.trialMs ?? 20;
  const withChoice = passes
    .map((p) => ({ ...p, tilings: convTilingCandidates(p.pass, p.shape) }))
    .filter((p) => p.tilings.length > 1)
    .sort((a, b) => passWork(b) - passWork(a));
  const tunable = withChoice.slice(0, maxPasses);
  const backend = tf.backend() as unknown as WebGpuBackend;
  const tuned: ConvPassTuning[] = [];
  const skipped: { key: string; reason: string }[] = [];
  for (const [index, p] of tunable.entries()) {
    const key = convTuningKey(p.pass, p.shape);
    const shapes = operandShapes(p.pass, p.shape);
    const over = oversizeBinding(backend, shapes.map((shape, i): [string, number[]] => [`operand ${i}`, shape]));
    if (over) {
      skipped.push({ key, reason: `conv tuning operand [${over.shape.join(', ')}] expected at most ${over.limit} bytes (the GPU's maxStorageBufferBindingSize), got ${over.bytes}` });
      continue;
    }
    const [a, b] = shapes.map((shape, i) => tf.fill(shape, i === 0 ? 0.5 : 0.01));
    const runOf = (tiling: ConvTiling) => convGemm(p.pass, p.shape, a, b, MAX_GRID, tiling);
    const candidates: ConvPassTuning['candidates'] = p.tilings.map((tiling) => ({ tiling, ms: Infinity }));
    try {
      // Trials go round the candidates, so that a slow spell of the machine hits all of them alike.
      const reps: number[] = [];
      for (const c of candidates) reps.push(await calibrate(c, () => runOf(c.tiling), trialMs));
      for (let trial = 0; trial < trials; trial++) {
        // Only candidates within PRUNE of the best so far (and the default) are timed again. The calibration's single
        // run already counts: its read-back adds the same latency to every candidate, which brings their times
        // closer together, so it prunes fewer than the trials would, never more.
        const best = Math.min(...candidates.map((c) => (Number.isFinite(c.ms) ? c.ms : Infinity)));
        for (const [i, c] of candidates.entries()) {
          if (c.error || (i > 0 && c.ms > PRUNE * best)) continue;
          try {
            c.ms = Math.min(c.ms, await timeRuns(() => runOf(c.tiling), reps[i]));
            assertDeviceHealthy(`conv tuning, ${key}, ${JSON.stringify(c.tiling)}`);
          } catch (err) {
            failed(c, err);
          }
        }
      }
    } finally {
      tf.dispose([a, b]);
    }
    if (!candidates.some((c) => Number.isFinite(c.ms))) {
      skipped.push({ key, reason: candidates.map((c) => c.error).find(Boolean) ?? 'no candidate ran' });
      continue;
    }
    const chosen = chooseTiling(candidates, options.margin);
    const result = { key, pass: p.pass, shape: p.shape, count: p.count, candidates, chosen: chosen.tiling, ms: chosen.ms, defaultMs: candidates[0].ms };
    tuned.push(result);
    options.onPass?.(result, index, tunable.length, tuned);
  }
  return { tuned, skipped, notTuned: withChoice.length - tunable.length };
}

/** A tuning table of the chosen tilings, for writeConvTuning (conv-tuning.ts) and ICH_WGSL_CONV_TUNING. */
export function convTuningTable(results: readonly ConvPassTuning[], adapter: string, input: ConvTuningTable['input']): ConvTuningTable {
  const entries: ConvTuningTable['entries'] = {};
  for (const r of results) entries[r.key] = { ...r.chosen, ms: r.ms, defaultMs: r.defaultMs };
  return { format: CONV_TUNING_FORMAT, adapter, created: new Date().toISOString(), input, entries };
}

/**
 * The operand shapes of a pass in the layouts conv3d hands the GEMM (NDHWC volumes folded to rank 4, W [k^3 Cin,
 * Cout]). Tuning fills them on the device with constants: a GEMM's time does not depend on its values, and
 * tf.randomNormal draws on the CPU (seconds per operand at the paper input, for ~200 passes).
 */
function operandShapes(pass: ConvPass, c: ConvShape): [number[], number[]] {
  const [od, oh, ow] = convOutDims(c);
  const x = [c.b * c.d, c.h, c.w, c.cin];
  const w = [c.k ** 3 * c.cin, c.cout];
  const dy = [c.b * od, oh, ow, c.cout];
  switch (pass) {
    case 'forward':
      return [x, w];
    case 'backwardData':
      return [dy, w];
    case 'backwardWeights':
      return [x, dy];
  }
}

/** Marks a candidate failed (NaN, the first line of the error): a tiling the GPU refuses is not a choice. */
function failed(c: { ms: number; error?: string }, err: unknown): void {
  c.ms = NaN;
  c.error = (err as Error).message.split('\n')[0];
}

/** Waits for a pass's result by reading one value back (which waits for everything queued before it), then frees it. */
async function finish(t: tf.Tensor): Promise<void> {
  const probe = tf.tidy(() => tf.slice(tf.reshape(t, [-1]), 0, 1));
  t.dispose();
  await probe.data();
  probe.dispose();
}

/**
 * Runs a candidate once to compile its pipeline, times one more run (the candidate's first time: one run and a
 * read-back), and returns how many back-to-back runs make a trial of about `trialMs` (1 to 64); marks the candidate
 * failed and returns 0 when it throws.
 */
async function calibrate(c: { ms: number; error?: string; tiling: unknown }, run: () => tf.Tensor, trialMs: number): Promise<number> {
  try {
    await finish(run());
    const t0 = performance.now();
    await finish(run());
    const ms = performance.now() - t0;
    assertDeviceHealthy(`conv tuning, ${JSON.stringify(c.tiling)}`);
    c.ms = ms;
    return Math.max(1, Math.min(64, Math.ceil(trialMs / Math.max(ms, 1e-3))));
  } catch (err) {
    failed(c, err);
    return 0;
  }
}

/** ms per run over `reps` back-to-back runs and one read-back. */
async function timeRuns(run: () => tf.Tensor, reps: number): Promise<number> {
  const t0 = performance.now();
  let last: tf.Tensor | null = null;
  for (let r = 0; r < reps; r++) {
    last?.dispose();
    last = run();
  }
  await finish(last!);
  return (performance.now() - t0) / reps;
}
