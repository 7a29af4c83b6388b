import * as tf from '@tensorflow/tfjs-core';
import { SeededRandom } from '../math/random';

/** Kinds of parameters, for weight decay, import and counting. */
export type ParamKind = 'conv' | 'linear-weight' | 'linear-bias' | 'bn-gamma' | 'bn-beta' | 'bn-mean' | 'bn-var' | 'bias';

/** One named parameter or buffer; names follow the PyTorch state dict of the authors' model. */
export interface Param {
  name: string;
  kind: ParamKind;
  variable: tf.Variable;
  /** False for batch-norm running statistics (buffers). */
  trainable: boolean;
  /** Shape in PyTorch's layout, for import/export (conv: [out, in, k, k, k]; linear: [out, in]). */
  torchShape: number[];
}

/**
 * The parameters of a model by name, created with deterministic initial values from a seed (so two runs with one
 * seed start identical on every backend), or with zeros for a seed of null: for a model whose every parameter is
 * assigned next (a checkpoint or PyTorch weights loaded), which skips drawing 11 M random numbers (~1 s on one core).
 */
export class ParamStore {
  readonly params = new Map<string, Param>();
  private readonly rng: SeededRandom | null;

  constructor(seed: number | null) {
    this.rng = seed === null ? null : new SeededRandom(seed);
  }

  /** n initial values from `draw`, or null (zeros) where there is no seed. */
  private initial(n: number, draw: (rng: SeededRandom) => number): Float32Array | null {
    const rng = this.rng;
    if (!rng) return null;
    // A plain loop, not Float32Array.from's mapping callback; the same draws in the same order.
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = draw(rng);
    return values;
  }

  /** `values` null: zeros, filled by the backend in its own memory rather than copied in from a zeroed array. */
  private add(name: string, kind: ParamKind, values: Float32Array | null, shape: number[], torchShape: number[], trainable = true): tf.Variable {
    if (this.params.has(name)) throw new Error(`parameter name expected to be unique, got "${name}" twice`);
    // tfjs variable names are global to the engine: let it number them; our name lives in the Param.
    // The variable shares the initial tensor's data; dropping the tensor keeps a built-and-disposed model leak-free.
    const init = values ? tf.tensor(values, shape) : tf.fill(shape, 0, 'float32');
    const variable = tf.variable(init, trainable);
    init.dispose();
    this.params.set(name, { name, kind, variable, trainable, torchShape });
    return variable;
  }

  /** Conv weight [k^3 * cin, cout], Kaiming normal (fan_in, gain sqrt 2) as MONAI initialises its convs. */
  conv(name: string, k: number, cin: number, cout: number): tf.Variable {
    const fanIn = cin * k * k * k;
    const std = Math.sqrt(2 / fanIn);
    const v = this.initial(fanIn * cout, (rng) => std * rng.normal());
    return this.add(name, 'conv', v, [fanIn, cout], [cout, cin, k, k, k]);
  }

  /** A conv bias [cout], PyTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
  convBias(name: string, fanIn: number, cout: number): tf.Variable {
    const b = 1 / Math.sqrt(fanIn);
    return this.add(name, 'bias', this.initial(cout, (rng) => rng.between(-b, b)), [cout], [cout]);
  }

  /** Linear layer [in, out] and bias [out], PyTorch's default init (uniform +-1/sqrt(in)); `zeroBias` as MONAI. */
  linear(name: string, cin: number, cout: number, zeroBias = false): { weight: tf.Variable; bias: tf.Variable } {
    const b = 1 / Math.sqrt(cin);
    const weight = this.add(`${name}.weight`, 'linear-weight', this.initial(cin * cout, (rng) => rng.between(-b, b)), [cin, cout], [cout, cin]);
    const bias = this.add(`${name}.bias`, 'linear-bias', zeroBias ? new Float32Array(cout) : this.initial(cout, (rng) => rng.between(-b, b)), [cout], [cout]);
    return { weight, bias };
  }

  /** Batch norm: gamma 1, beta 0, running mean 0, running variance 1 (PyTorch defaults). */
  batchNorm(name: string, c: number): { gamma: tf.Variable; beta: tf.Variable; runningMean: tf.Variable; runningVar: tf.Variable } {
    return {
      gamma: this.add(`${name}.weight`, 'bn-gamma', new Float32Array(c).fill(1), [c], [c]),
      beta: this.add(`${name}.bias`, 'bn-beta', new Float32Array(c), [c], [c]),
      runningMean: this.add(`${name}.running_mean`, 'bn-mean', new Float32Array(c), [c], [c], false),
      runningVar: this.add(`${name}.running_var`, 'bn-var', new Float32Array(c).fill(1), [c], [c], false),
    };
  }

  /** Trainable variables in creation order. */
  trainable(): tf.Variable[] {
    return [...this.params.values()].filter((p) => p.trainable).map((p) => p.variable);
  }

  /** Number of trainable values (PyTorch's `sum(p.numel() for p in model.parameters())`). */
  countTrainable(prefix = ''): number {
    let n = 0;
    for (const p of this.params.values()) if (p.trainable && p.name.startsWith(prefix)) n += p.variable.size;
    return n;
  }

  /** Frees every variable. */
  dispose(): void {
    for (const p of this.params.values()) p.variable.dispose();
    this.params.clear();
  }
}

/**
 * Copies values between PyTorch's layout and this store's (conv [out, in, kD, kH, kW] vs ours [kD, kH, kW, in, out];
 * linear [out, in] vs ours [in, out]); the values themselves when both layouts are the same.
 * One pass in PyTorch's order without an index table: 11 M DenseNet-121 weights in tens of milliseconds, where an
 * index table and Float32Array.from took 1.8 s of a 4 s import.
 */
function relayout(kind: ParamKind, torchShape: number[], values: Float32Array, toStore: boolean): Float32Array {
  if (kind !== 'conv' && kind !== 'linear-weight') return values;
  const [cout, cin] = torchShape;
  const taps = kind === 'conv' ? torchShape[2] * torchShape[3] * torchShape[4] : 1;
  const out = new Float32Array(values.length);
  let torchAt = 0;
  for (let o = 0; o < cout; o++)
    for (let i = 0; i < cin; i++)
      for (let t = 0; t < taps; t++, torchAt++) {
        const storeAt = (t * cin + i) * cout + o;
        if (toStore) out[storeAt] = values[torchAt];
        else out[torchAt] = values[storeAt];
      }
  return out;
}

/** Converts a PyTorch-layout tensor's values to this store's layout. */
export function fromTorchLayout(kind: ParamKind, torchShape: number[], values: Float32Array): Float32Array {
  return relayout(kind, torchShape, values, true);
}

/** Inverse of {@link fromTorchLayout}. */
export function toTorchLayout(kind: ParamKind, torchShape: number[], values: Float32Array): Float32Array {
  return relayout(kind, torchShape, values, false);
}

/**
 * Loads values given in PyTorch's layout by state-dict name (e.g. a released checkpoint converted to
 * name -> Float32Array). Every parameter of the store must be present with its exact size.
 * @throws naming the first missing or mis-sized parameter.
 */
export function loadTorchStateDict(store: ParamStore, state: ReadonlyMap<string, Float32Array>, prefix = ''): void {
  for (const p of store.params.values()) {
    const values = state.get(prefix + p.name);
    if (!values) throw new Error(`state dict expected "${prefix + p.name}", got no such key`);
    if (values.length !== p.variable.size) throw new Error(`state dict "${prefix + p.name}" expected ${p.variable.size} values (${p.torchShape.join('x')}), got ${values.length}`);
    const t = tf.tensor(fromTorchLayout(p.kind, p.torchShape, values), p.variable.shape);
    p.variable.assign(t);
    t.dispose();
  }
}
