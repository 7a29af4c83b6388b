import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { explainBackendError, initBackend, keepsFreedMemory } from '../../backend';
import { projectRoot } from '../../config/paths';
import { DENSENET121, denseNetConvLayers } from '../../models/densenet-config';
import { recordConvPasses, writeConvTuning } from '../../ops/webgpu/conv-tuning';
import { profileTrainingStep, StepTiming, timeConvLayers, timeTrainingSteps, withTrainingStep } from '../../train/benchmark';
import { convTuningTable, tuneConvPasses } from '../../train/tune-conv';
import { runWorker, threadsPerWorker } from '../../train/cv';
import { intFlag, parseArgs, stringFlag, UsageError } from '../args';

/**
 * `ich bench train [--shape 32,64,64] [--batch 2] [--steps 3] [--threads 2] [--workers N] [--torch-device cpu|cuda]
 * [--torch-precisions fp32,tf32] [--json]`: trains the full DenseNet-121 3D (three heads) on the default backend (N
 * concurrent training loops on CPU backends, as the cross-validation runner trains N folds at once) and, in the same
 * run, the PyTorch reference of the same network (bench/torch_train_reference.py; Python from ICH_TORCH_PYTHON,
 * default Debian's /usr/bin/python3), and prints both throughputs and their ratio: one line per PyTorch precision.
 */
export async function benchCommand(argv: string[]): Promise<number> {
  if (argv[0] === 'profile') return profileCommand(argv.slice(1));
  if (argv[0] === 'conv') return convCommand(argv.slice(1));
  if (argv[0] === 'tune') return tuneCommand(argv.slice(1));
  if (argv[0] !== 'train') throw new UsageError(`ich bench: expected "train", "profile", "conv" or "tune", got "${argv[0] ?? ''}"`);
  const args = parseArgs(
    argv.slice(1),
    { shape: 'string', batch: 'string', steps: 'string', threads: 'string', workers: 'string', 'torch-device': 'string', 'torch-precisions': 'string', json: 'boolean' },
    'ich bench train',
  );
  const { torchDevice, precisions } = torchFlags(args);
  const shapeText = stringFlag(args, 'shape', '32,64,64')!;
  const shape = parseShape(shapeText);
  const batch = intFlag(args, 'batch', 2, 1, 64);
  const steps = intFlag(args, 'steps', 3, 1, 1000);
  const threads = intFlag(args, 'threads', 2, 1, 64);
  const report = await initBackend();
  // PyTorch first: the cpu backend keeps the memory it freed for reuse (src/backend.ts), so after the paper's batch 8
  // this process still holds its ~19 GiB peak and a reference started then would not fit beside it.
  const references = precisions.map((precision) => {
    const py = runTorchReference('torch_train_reference.py', ['--shape', shapeText, '--batch', String(batch), '--steps', String(Math.max(3, steps)), '--threads', String(threads)], torchDevice, precision);
    return { precision, torch: (py.lines.pop() ?? null) as { volumesPerSecond: number; stepMs: number; torch: string; params: number; device?: string } | null, torchError: py.error };
  });
  const cpuBackend = report.backend === 'wasm' || report.backend === 'cpu';
  const workers = intFlag(args, 'workers', cpuBackend ? Math.min(2, os.cpus().length) : 1, 1, 16);
  // The cross-validation workload: on CPU backends the runner trains `workers` folds at once, so the same number of
  // independent training loops run concurrently here and their throughputs add up.
  let timings: StepTiming[];
  try {
    timings = (workers === 1
      ? [await timeTrainingSteps(shape as [number, number, number], batch, steps)]
      : await Promise.all(Array.from({ length: workers }, () => runWorker({ kind: 'bench', backend: report.backend, threads: threadsPerWorker(workers), native: report.native !== null, keepFreedMemory: keepsFreedMemory(), shape: shape as [number, number, number], batch, steps }).then((r) => r[0])))) as StepTiming[];
  } catch (err) {
    throw explainBackendError(err, report.backend);
  }
  const ts = { stepMs: timings[0].stepMs, volumesPerSecond: timings.reduce((a, t) => a + t.volumesPerSecond, 0), params: timings[0].params };
  for (const { precision, torch, torchError } of references) {
    const result = {
      backend: report.backend,
      adapter: report.package,
      native: report.native,
      nativeThreadsPerWorker: report.native && cpuBackend ? threadsPerWorker(workers) : null,
      shape,
      batch,
      workers,
      tsStepMsPerWorker: timings.map((t) => t.stepMs),
      tsVolumesPerSecond: ts.volumesPerSecond,
      torchDevice: torch?.device ?? torchDevice,
      torchPrecision: precision,
      torchVolumesPerSecond: torch?.volumesPerSecond ?? null,
      torchStepMs: torch?.stepMs ?? null,
      torchThreads: threads,
      torchVersion: torch?.torch ?? null,
      ratio: torch ? ts.volumesPerSecond / torch.volumesPerSecond : null,
      params: ts.params,
      paramsMatchTorch: torch ? torch.params === ts.params : null,
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      ...(torchError ? { torchError } : {}),
    };
    if (args.flags.json) process.stdout.write(JSON.stringify(result) + '\n');
    else for (const [k, v] of Object.entries(result)) process.stdout.write(`${k}: ${typeof v === 'number' ? +v.toPrecision(5) : JSON.stringify(v)}\n`);
  }
  return 0;
}

/** --torch-device (cpu or cuda[:N], default cpu) and --torch-precisions (fp32 and/or tf32, default fp32). */
function torchFlags(args: ReturnType<typeof parseArgs>): { torchDevice: string; precisions: ('fp32' | 'tf32')[] } {
  const torchDevice = stringFlag(args, 'torch-device', 'cpu')!;
  if (!/^(cpu|cuda(:\d+)?)$/.test(torchDevice)) throw new UsageError(`--torch-device expected cpu or cuda[:N], got "${torchDevice}"`);
  const precisions = stringFlag(args, 'torch-precisions', 'fp32')!.split(',');
  if (precisions.some((p) => p !== 'fp32' && p !== 'tf32')) throw new UsageError(`--torch-precisions expected fp32 and/or tf32, got "${precisions.join(',')}"`);
  return { torchDevice, precisions: precisions as ('fp32' | 'tf32')[] };
}

/**
 * Runs a PyTorch reference script of bench/ (Python from ICH_TORCH_PYTHON, default Debian's /usr/bin/python3) on a
 * device and precision, `input` on its stdin: its JSON output lines, or the last line of its error.
 */
function runTorchReference(script: string, args: string[], device: string, precision: 'fp32' | 'tf32', input?: string): { lines: unknown[]; error?: string } {
  const python = process.env.ICH_TORCH_PYTHON || '/usr/bin/python3';
  const py = spawnSync(python, [path.join(projectRoot(), 'bench', script), ...args, '--device', device, ...(precision === 'tf32' ? ['--tf32'] : [])], { encoding: 'utf8', input });
  if (py.status !== 0) return { lines: [], error: (py.stderr || py.error?.message || 'no output').trim().split('\n').pop() };
  return { lines: py.stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line)) };
}

/** "D,H,W" of a benchmark volume, each >= 8 (the network halves the size five times). */
function parseShape(text: string): [number, number, number] {
  const shape = text.split(',').map(Number);
  if (shape.length !== 3 || shape.some((s) => !Number.isInteger(s) || s < 8)) throw new UsageError(`--shape expected depth,height,width (each >= 8), got "${text}"`);
  return shape as [number, number, number];
}

/**
 * `ich bench profile [--shape 32,32,32] [--batch 1] [--top 25] [--timed] [--json]`: one training step of the benchmark network
 * under tf.profile on the default backend: launches, kernel time (where the backend measures it) and output bytes per
 * kernel, the most expensive first.
 */
async function profileCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { shape: 'string', batch: 'string', top: 'string', timed: 'boolean', json: 'boolean' }, 'ich bench profile');
  const shape = parseShape(stringFlag(args, 'shape', '32,32,32')!);
  const batch = intFlag(args, 'batch', 1, 1, 64);
  const top = intFlag(args, 'top', 25, 1, 10000);
  const report = await initBackend();
  const profile = await profileTrainingStep(shape, batch, args.flags.timed ? { timed: true } : {});
  if (args.flags.json) {
    process.stdout.write(JSON.stringify({ ...profile, adapter: report.package, native: report.native }) + '\n');
    return 0;
  }
  const timed = profile.timed;
  const dispatched = profile.totalDispatches === null ? '' : `, ${profile.totalDispatches} GPU dispatches`;
  process.stdout.write(`${profile.backend} (${report.package}), shape ${shape.join('x')}, batch ${batch}: ${profile.totalCalls} kernel launches${dispatched}, ${profile.wallMs.toFixed(0)} ms wall\n`);
  process.stdout.write(`${'kernel'.padEnd(28)}${'calls'.padStart(8)}${timed ? 'ms'.padStart(10) : ''}${'MB out'.padStart(10)}\n`);
  for (const k of profile.kernels.slice(0, top)) {
    process.stdout.write(`${k.kernel.padEnd(28)}${String(k.calls).padStart(8)}${timed ? (k.ms === null ? '-' : k.ms.toFixed(1)).padStart(10) : ''}${(k.outputBytes / 2 ** 20).toFixed(1).padStart(10)}\n`);
  }
  if (profile.dispatches) {
    process.stdout.write(`${'GPU program'.padEnd(36)}${'dispatches'.padStart(12)}\n`);
    for (const d of profile.dispatches.slice(0, top)) process.stdout.write(`${d.program.padEnd(36)}${String(d.count).padStart(12)}\n`);
  }
  return 0;
}

/**
 * `ich bench conv [--shape 32,64,64] [--batch 2] [--repeats 3] [--layers stem,block1.3x3] [--threads 2]
 * [--torch-device cpu|cuda] [--torch-precisions fp32,tf32] [--json]`: DenseNet-121's convolution shapes at an input
 * size (denseNetConvLayers), each timed forward and with its training gradients on the default backend, and in the
 * same run with PyTorch (bench/torch_conv_reference.py); one line per layer and precision with both and the ratio,
 * weighted by how often the shape occurs in the network in the totals.
 */
async function convCommand(argv: string[]): Promise<number> {
  const args = parseArgs(
    argv,
    { shape: 'string', batch: 'string', repeats: 'string', layers: 'string', threads: 'string', 'torch-device': 'string', 'torch-precisions': 'string', json: 'boolean' },
    'ich bench conv',
  );
  const shape = parseShape(stringFlag(args, 'shape', '32,64,64')!);
  const batch = intFlag(args, 'batch', 2, 1, 64);
  const repeats = intFlag(args, 'repeats', 3, 1, 100);
  const threads = intFlag(args, 'threads', 2, 1, 64);
  const { torchDevice, precisions } = torchFlags(args);
  let layers = denseNetConvLayers(DENSENET121, shape, batch);
  const only = stringFlag(args, 'layers');
  if (only) {
    const names = only.split(',');
    const unknown = names.filter((n) => !layers.some((l) => l.name === n));
    if (unknown.length) throw new UsageError(`--layers expected names among ${layers.map((l) => l.name).join(', ')}, got "${unknown.join(',')}"`);
    layers = layers.filter((l) => names.includes(l.name));
  }
  const report = await initBackend(undefined, { threads });
  const ours = await timeConvLayers(layers, repeats);
  for (const precision of precisions) {
    const py = runTorchReference('torch_conv_reference.py', ['--threads', String(threads), '--repeats', String(repeats)], torchDevice, precision, JSON.stringify(layers));
    const torch = new Map((py.lines as { name: string; forwardMs: number; trainMs: number; torch: string }[]).map((r) => [r.name, r]));
    const torchError = py.error;
    let tsTotal = 0;
    let torchTotal = 0;
    for (const t of ours) {
      const ref = torch.get(t.name);
      tsTotal += t.trainMs * t.count;
      torchTotal += (ref?.trainMs ?? NaN) * t.count;
      const row = {
        layer: t.name,
        input: t.input,
        cout: t.cout,
        kernel: t.kernel,
        count: t.count,
        backend: report.backend,
        kernels: report.native,
        tsForwardMs: t.forwardMs,
        tsTrainMs: t.trainMs,
        tsTrainGflopPerSecond: t.trainGflopPerSecond,
        torchDevice,
        torchPrecision: precision,
        torchForwardMs: ref?.forwardMs ?? null,
        torchTrainMs: ref?.trainMs ?? null,
        ratio: ref ? ref.trainMs / t.trainMs : null,
      };
      if (args.flags.json) process.stdout.write(JSON.stringify(row) + '\n');
      else
        process.stdout.write(
          `${t.name.padEnd(20)} x${String(t.count).padEnd(3)} ours ${t.forwardMs.toFixed(1).padStart(9)} / ${t.trainMs.toFixed(1).padStart(9)} ms (${t.trainGflopPerSecond.toFixed(1)} GFLOP/s)` +
            `   torch ${precision} ${ref ? `${ref.forwardMs.toFixed(1).padStart(8)} / ${ref.trainMs.toFixed(1).padStart(8)} ms   ratio ${(ref.trainMs / t.trainMs).toFixed(3)}` : '-'}\n`,
        );
    }
    const total = { layer: 'total (x count)', backend: report.backend, kernels: report.native, tsTrainMs: tsTotal, torchPrecision: precision, torchTrainMs: Number.isNaN(torchTotal) ? null : torchTotal, ratio: Number.isNaN(torchTotal) ? null : torchTotal / tsTotal, ...(torchError ? { torchError } : {}) };
    if (args.flags.json) process.stdout.write(JSON.stringify(total) + '\n');
    else process.stdout.write(`total (x count): ours ${tsTotal.toFixed(0)} ms, torch ${precision} ${total.torchTrainMs?.toFixed(0) ?? `- (${torchError})`} ms, ratio ${total.ratio?.toFixed(3) ?? '-'}\n`);
  }
  return 0;
}

/**
 * `ich bench tune [--shape 32,64,64] [--batch 2] [--trials 3] [--trial-ms 20] [--passes N] [--out FILE] [--json]` (webgpu
 * with the WGSL kernels):
 * records the convolution passes of one training step of the benchmark network at an input size and batch, times
 * every tiling of each (src/train/tune-conv.ts) and prints, per pass, the default's and the fastest tiling's time;
 * the totals weight each pass by how often the step runs it. `--passes N` tunes only the N largest passes (the rest
 * keep the default tiling; the summary's `notTuned` counts them). `--out` writes the choices for ICH_WGSL_CONV_TUNING
 * (atomically, after every pass, so that a run stopped part-way leaves what it tuned).
 */
async function tuneCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { shape: 'string', batch: 'string', trials: 'string', 'trial-ms': 'string', passes: 'string', out: 'string', json: 'boolean' }, 'ich bench tune');
  const shape = parseShape(stringFlag(args, 'shape', '32,64,64')!);
  const batch = intFlag(args, 'batch', 2, 1, 64);
  const trials = intFlag(args, 'trials', 3, 1, 100);
  const trialMs = intFlag(args, 'trial-ms', 20, 1, 10000);
  const maxPasses = args.flags.passes === undefined ? undefined : intFlag(args, 'passes', 1, 1, 100000);
  const out = stringFlag(args, 'out');
  const report = await initBackend();
  if (report.backend !== 'webgpu' || !report.native) {
    throw new UsageError(`ich bench tune expected ICH_BACKEND=webgpu with the WGSL kernels (not ICH_NATIVE=0), got ${report.backend}${report.native ? '' : ` (${report.nativeSkipped ?? 'no kernels'})`}`);
  }
  const passes = await recordConvPasses(() => withTrainingStep(shape, batch, (step) => step()));
  const { tuned: results, skipped, notTuned } = await tuneConvPasses(passes, {
    trials,
    trialMs,
    maxPasses,
    onPass: (r, i, n, tunedSoFar) => {
      // Written after every pass: a run stopped part-way (a time limit) leaves the passes tuned so far.
      if (out) writeConvTuning(out, convTuningTable(tunedSoFar, report.package, { shape, batch }));
      const line = { pass: r.key, count: r.count, defaultMs: r.defaultMs, ms: r.ms, chosen: r.chosen, candidates: r.candidates };
      if (args.flags.json) process.stdout.write(JSON.stringify(line) + '\n');
      else
        process.stdout.write(
          `${String(i + 1).padStart(3)}/${n} ${r.key.padEnd(52)} x${String(r.count).padEnd(3)} default ${r.defaultMs.toFixed(2).padStart(8)} ms, ` +
            `chosen ${r.ms.toFixed(2).padStart(8)} ms (rows ${r.chosen.rows}, columns ${r.chosen.columns}, ${r.chosen.vectorLoads ? 'vec4' : 'scalar'}, ${r.chosen.splitK ? 'split' : 'whole'} K${r.chosen.prefetch ? ', prefetch' : ""})\n`,
        );
    },
  });
  // Every tuned pass was written as it finished; with none tuned, an empty table, so that --out always leaves a file.
  if (out && results.length === 0) writeConvTuning(out, convTuningTable([], report.package, { shape, batch }));
  const total = (f: (r: (typeof results)[number]) => number) => results.reduce((a, r) => a + f(r) * r.count, 0);
  const summary = {
    total: 'ms per training step in the tuned passes (x count)',
    adapter: report.package,
    shape,
    batch,
    passes: results.length,
    changed: results.filter((r) => r.ms !== r.defaultMs).length,
    notTuned,
    skipped,
    defaultMs: total((r) => r.defaultMs),
    tunedMs: total((r) => r.ms),
    file: out ?? null,
  };
  if (args.flags.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else
    process.stdout.write(
      `${summary.passes} passes, ${summary.changed} changed: ${summary.defaultMs.toFixed(1)} ms -> ${summary.tunedMs.toFixed(1)} ms per step in these passes` +
        `${notTuned > 0 ? ` (${notTuned} smaller passes left at the default: --passes)` : ''}` +
        `${out ? `; written to ${out} (use with ICH_WGSL_CONV_TUNING=${out})` : ''}\n` +
        skipped.map((s) => `skipped ${s.key}: ${s.reason}\n`).join(''),
    );
  return 0;
}
