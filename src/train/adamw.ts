import * as tf from '@tensorflow/tfjs-core';
import { adamStepNative, nativeAdamActive } from '../ops/native-adamw';
import { adamStepGpu, momentRows } from '../ops/webgpu/adamw';
import { webGpuKernelsActive } from '../ops/webgpu/kernels';

/** AdamW settings; the defaults are the paper's (lr 1e-3, weight decay 1e-4, AMSGrad, betas 0.9/0.999, eps 1e-8). */
export interface AdamWOptions {
  lr?: number;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  amsgrad?: boolean;
  /**
   * true (default): AdamW's decoupled decay p <- p (1 - lr wd). false: torch.optim.Adam's L2 decay, added to the
   * gradient (g <- g + wd p) before the moments, as the paper's tabular MLP uses.
   */
  decoupled?: boolean;
}

/**
 * PyTorch's AdamW (torch.optim.AdamW, single-tensor path) step for step: decoupled weight decay
 * p <- p (1 - lr wd), then Adam with bias correction and optionally AMSGrad's running maximum of the second moment.
 * The learning rate is public so a scheduler can change it. With the WGSL kernels active (webgpu) each parameter's
 * step is two dispatches on moments packed per parameter (src/ops/webgpu/adamw.ts), with the native addon (cpu, wasm)
 * one pass of the addon over the same packed moments (src/ops/native-adamw.ts); checkpoints see the same m / v / vmax
 * either way.
 */
export class AdamW {
  lr: number;
  readonly weightDecay: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly amsgrad: boolean;
  readonly decoupled: boolean;
  /** Optimizer steps taken. */
  step = 0;
  private readonly state = new Map<string, { m: tf.Variable; v: tf.Variable; vmax?: tf.Variable }>();
  /** The moments of the fused paths (WebGPU, native), packed per parameter: [m; v] or [m; v; vmax] as [k, n]. */
  private readonly packed = new Map<string, tf.Variable>();

  constructor(options: AdamWOptions = {}) {
    this.lr = options.lr ?? 1e-3;
    this.weightDecay = options.weightDecay ?? 1e-4;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.amsgrad = options.amsgrad ?? true;
    this.decoupled = options.decoupled ?? true;
  }

  /** Applies one step to each variable with its gradient (variables without a gradient are left alone). */
  apply(variables: readonly tf.Variable[], grads: Record<string, tf.Tensor>): void {
    this.step++;
    const t = this.step;
    const bias1 = 1 - this.beta1 ** t;
    const bias2Sqrt = Math.sqrt(1 - this.beta2 ** t);
    const stepSize = this.lr / bias1;
    const fused = webGpuKernelsActive() ? adamStepGpu : nativeAdamActive() ? adamStepNative : null;
    if (fused) {
      const constants = { lr: this.lr, weightDecay: this.weightDecay, beta1: this.beta1, beta2: this.beta2, eps: this.eps, stepSize, bias2Sqrt: bias2Sqrt, amsgrad: this.amsgrad, decoupled: this.decoupled };
      for (const p of variables) {
        const g = grads[p.name];
        if (!g) continue;
        const moments = this.packedMoments(p);
        tf.tidy(() => {
          const next = fused(p, g, moments as tf.Tensor as tf.Tensor2D, constants);
          moments.assign(next.moments);
          p.assign(next.param);
        });
      }
      return;
    }
    for (const p of variables) {
      const g = grads[p.name];
      if (!g) continue;
      let s = this.state.get(p.name) ?? this.unpack(p.name);
      if (!s) {
        // In a tidy, so the zeros each variable was made from go: a variable keeps its own reference to the data.
        s = tf.tidy(() => ({ m: tf.variable(tf.zerosLike(p), false), v: tf.variable(tf.zerosLike(p), false), ...(this.amsgrad ? { vmax: tf.variable(tf.zerosLike(p), false) } : {}) }));
        this.state.set(p.name, s);
      }
      const st = s;
      tf.tidy(() => {
        let grad: tf.Tensor = g;
        if (this.weightDecay !== 0) {
          if (this.decoupled) p.assign(tf.mul(p, 1 - this.lr * this.weightDecay));
          else grad = tf.add(g, tf.mul(p, this.weightDecay));
        }
        st.m.assign(tf.add(tf.mul(st.m, this.beta1), tf.mul(grad, 1 - this.beta1)));
        st.v.assign(tf.add(tf.mul(st.v, this.beta2), tf.mul(tf.square(grad), 1 - this.beta2)));
        let second: tf.Tensor = st.v;
        if (st.vmax) {
          st.vmax.assign(tf.maximum(st.vmax, st.v));
          second = st.vmax;
        }
        const denom = tf.add(tf.div(tf.sqrt(second), bias2Sqrt), this.eps);
        p.assign(tf.sub(p, tf.mul(tf.div(st.m, denom), stepSize)));
      });
    }
  }

  /** The packed moments of a parameter for the fused paths, created (zeros) or packed from separate ones. */
  private packedMoments(p: tf.Variable): tf.Variable {
    let packed = this.packed.get(p.name);
    if (packed) return packed;
    const s = this.state.get(p.name);
    const rows = momentRows(this.amsgrad);
    packed = tf.tidy(() =>
      tf.variable(s ? tf.stack([s.m, s.v, ...(s.vmax ? [s.vmax] : [])].map((t) => tf.reshape(t, [-1]))) : tf.zeros([rows, p.size]), false),
    );
    if (s) {
      tf.dispose([s.m, s.v, ...(s.vmax ? [s.vmax] : [])]);
      this.state.delete(p.name);
    }
    this.packed.set(p.name, packed);
    return packed;
  }

  /** Separate m, v (, vmax) of a parameter from its packed moments (checkpoints, the tfjs path), or undefined. */
  private unpack(name: string): { m: tf.Variable; v: tf.Variable; vmax?: tf.Variable } | undefined {
    const packed = this.packed.get(name);
    if (!packed) return undefined;
    const shape = tf.engine().registeredVariables[name].shape;
    const [m, v, vmax] = tf.tidy(() => tf.unstack(packed).map((t) => tf.variable(tf.reshape(t, shape), false)));
    const slots = { m, v, ...(vmax ? { vmax } : {}) };
    packed.dispose();
    this.packed.delete(name);
    this.state.set(name, slots);
    return slots;
  }

  /** Moment estimates keyed `<parameter name>/m|v|vmax` by the model's parameter names (for checkpoints). */
  stateTensorsByParam(model: { store: { params: Map<string, { name: string; variable: tf.Variable }> } }): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const p of model.store.params.values()) {
      const s = this.state.get(p.variable.name) ?? this.unpack(p.variable.name);
      if (!s) continue;
      out.set(`${p.name}/m`, s.m);
      out.set(`${p.name}/v`, s.v);
      if (s.vmax) out.set(`${p.name}/vmax`, s.vmax);
    }
    return out;
  }

  /** Restores moments (copied) for variables and the step count, e.g. from a checkpoint. */
  restore(slots: { variable: tf.Variable; m?: tf.Tensor; v?: tf.Tensor; vmax?: tf.Tensor }[], step: number): void {
    this.dispose();
    this.step = step;
    for (const s of slots) {
      if (!s.m || !s.v) continue;
      const entry: { m: tf.Variable; v: tf.Variable; vmax?: tf.Variable } = { m: tf.variable(s.m, false), v: tf.variable(s.v, false) };
      if (this.amsgrad) entry.vmax = tf.variable(s.vmax ?? s.v, false);
      this.state.set(s.variable.name, entry);
    }
  }

  /** Frees the moment estimates. */
  dispose(): void {
    for (const s of this.state.values()) tf.dispose([s.m, s.v, ...(s.vmax ? [s.vmax] : [])]);
    this.state.clear();
    for (const packed of this.packed.values()) packed.dispose();
    this.packed.clear();
  }
}
