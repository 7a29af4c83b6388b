/**
 * NumPy's legacy `RandomState` (MT19937), the subset scikit-learn and imbalanced-learn call when they split data.
 *
 * Splits must equal the authors' scikit-learn calls bit for bit, so this reproduces NumPy's integer draws exactly:
 * `mt19937_seed` for an integer seed, `random_interval` (masked rejection) for shuffles and `randint`.
 */
export class NumpyRandomState {
  private readonly mt = new Uint32Array(624);
  private index = 624;

  /** @param seed integer in [0, 2^32), as `np.random.RandomState(seed)` accepts. */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new Error(`RandomState seed expected an integer in [0, 2^32), got ${seed}`);
    }
    let s = seed >>> 0;
    for (let i = 0; i < 624; i++) {
      this.mt[i] = s;
      s = (Math.imul(1812433253, (s ^ (s >>> 30)) >>> 0) + i + 1) >>> 0;
    }
  }

  /** Next raw 32-bit output (MT19937 genrand_int32). */
  nextUint32(): number {
    const mt = this.mt;
    if (this.index >= 624) {
      for (let k = 0; k < 624; k++) {
        const y = (mt[k] & 0x80000000) | (mt[(k + 1) % 624] & 0x7fffffff);
        let v = mt[(k + 397) % 624] ^ (y >>> 1);
        if (y & 1) v ^= 0x9908b0df;
        mt[k] = v >>> 0;
      }
      this.index = 0;
    }
    let y = mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** Uniform integer in [0, max] by masked rejection (NumPy `random_interval`; max < 2^32). */
  interval(max: number): number {
    if (max === 0) return 0;
    if (max > 0xffffffff) throw new Error(`interval expected max < 2^32, got ${max}`);
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    let value: number;
    do {
      value = (this.nextUint32() & mask) >>> 0;
    } while (value > max);
    return value;
  }

  /** In-place Fisher-Yates shuffle, exactly `RandomState.shuffle` on a 1-D array. */
  shuffle<T>(values: T[]): T[] {
    for (let i = values.length - 1; i >= 1; i--) {
      const j = this.interval(i);
      const t = values[i];
      values[i] = values[j];
      values[j] = t;
    }
    return values;
  }

  /** `RandomState.permutation(n)` for an integer, or a shuffled copy for an array. */
  permutation(nOrValues: number | readonly number[]): number[] {
    const arr = typeof nOrValues === 'number' ? Array.from({ length: nOrValues }, (_, i) => i) : nOrValues.slice();
    return this.shuffle(arr);
  }

  /** `RandomState.choice(values, size, replace=False)` without probabilities: a permutation's first `size`. */
  choiceWithoutReplacement(values: readonly number[], size: number): number[] {
    if (size > values.length) {
      throw new Error(`choice expected size <= population ${values.length}, got ${size}`);
    }
    return this.permutation(values.length).slice(0, size).map((i) => values[i]);
  }

  /** `RandomState.randint(low, high, size)` for int64 output with high - low <= 2^32 (masked, as legacy NumPy). */
  randint(low: number, high: number, size: number): number[] {
    if (!(high > low)) throw new Error(`randint expected high > low, got low=${low}, high=${high}`);
    const range = high - 1 - low;
    const out = new Array<number>(size);
    for (let i = 0; i < size; i++) out[i] = low + this.interval(range);
    return out;
  }
}
