/** ReduceLROnPlateau settings; defaults are the paper's (mode min, factor 0.98, patience 5, threshold 1e-4 relative). */
export interface PlateauOptions {
  factor?: number;
  patience?: number;
  threshold?: number;
  cooldown?: number;
  minLr?: number;
  /** Smallest change of the rate that is applied (PyTorch's eps, 1e-8). */
  eps?: number;
}

/**
 * PyTorch's ReduceLROnPlateau (mode 'min', threshold_mode 'rel'): a value counts as better when it is below
 * best * (1 - threshold); after more than `patience` steps without improvement the rate is multiplied by `factor`.
 * The paper steps it at every optimizer step on the current accumulated batch loss.
 */
export class ReduceLROnPlateau {
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly cooldown: number;
  readonly minLr: number;
  readonly eps: number;
  best = Infinity;
  badSteps = 0;
  cooldownCounter = 0;

  constructor(options: PlateauOptions = {}) {
    this.factor = options.factor ?? 0.98;
    this.patience = options.patience ?? 5;
    this.threshold = options.threshold ?? 1e-4;
    this.cooldown = options.cooldown ?? 0;
    this.minLr = options.minLr ?? 0;
    this.eps = options.eps ?? 1e-8;
    if (!(this.factor < 1)) throw new Error(`ReduceLROnPlateau factor expected < 1, got ${this.factor}`);
  }

  /** Records one value and returns the (possibly reduced) learning rate. */
  step(value: number, lr: number): number {
    if (value < this.best * (1 - this.threshold)) {
      this.best = value;
      this.badSteps = 0;
    } else {
      this.badSteps++;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.badSteps = 0;
    }
    if (this.badSteps > this.patience) {
      const next = Math.max(lr * this.factor, this.minLr);
      this.cooldownCounter = this.cooldown;
      this.badSteps = 0;
      if (lr - next > this.eps) return next;
    }
    return lr;
  }

  /** The state to checkpoint. */
  toJSON(): { best: number | null; badSteps: number; cooldownCounter: number } {
    return { best: Number.isFinite(this.best) ? this.best : null, badSteps: this.badSteps, cooldownCounter: this.cooldownCounter };
  }

  /** Restores a checkpointed state. */
  restore(s: { best: number | null; badSteps: number; cooldownCounter: number }): void {
    this.best = s.best ?? Infinity;
    this.badSteps = s.badSteps;
    this.cooldownCounter = s.cooldownCounter;
  }
}
