import { halfToNumber } from './half';
import { PICKLE_SET_STATE, PickleGlobal, PickleValue } from './pickle';
import { copyStrided } from './strided';

/**
 * NumPy values as checkpoints hold them beside the weights (a validation AUC from scikit-learn is a numpy.float64, a
 * normalisation mean an ndarray), decoded as data: numbers and arrays, nothing constructed or run. torch.load with
 * weights_only=True refuses these files outright; the weights in them are what the project reads.
 */

/**
 * A NumPy array from a pickle: C-order values, shape in elements; `descr` is NumPy's type string ('<f8', '|b1').
 * Filled by the array's BUILD state (an ndarray pickles as an empty one, then its state).
 */
export class NumpyArray {
  descr = '';
  shape: number[] = [];
  values: Float64Array | BigInt64Array | BigUint64Array = new Float64Array(0);

  [PICKLE_SET_STATE](state: PickleValue): void {
    // (version, shape, dtype, is_fortran, raw bytes) - object arrays pickle a list instead of bytes.
    const [, shape, dtype, fortran, raw] = Array.isArray(state) ? state : [];
    if (!Array.isArray(shape) || !shape.every((n) => Number.isInteger(n)) || !(dtype instanceof NumpyDtype)) throw new Error('NumPy array expected the state (version, shape, dtype, is_fortran, data), got another');
    if (!(raw instanceof Uint8Array)) throw new Error(`NumPy array expected raw bytes of ${dtype.code}, got an object array`);
    const flat = decodeNumbers(dtype, raw);
    const n = shape.reduce((x: number, y: number) => x * y, 1);
    if (flat.length !== n) throw new Error(`NumPy array expected ${n} values of ${dtype.code} for shape [${shape}], got ${flat.length}`);
    // NumPy writes '|' (no byte order) for one-byte types.
    this.descr = `${SIZES[dtype.code] === 1 ? '|' : dtype.littleEndian ? '<' : '>'}${dtype.code}`;
    this.shape = shape as number[];
    this.values = fortran ? toCOrder(flat, this.shape) : flat;
  }
}

/** numpy.dtype('f8', False, True) before and after its BUILD state (version, byte order, ...). */
class NumpyDtype {
  byteOrder = '=';
  constructor(readonly code: string) {}
  // Structured and object dtypes never get here: typeCode refuses their 'V' and 'O' codes.
  [PICKLE_SET_STATE](state: PickleValue): void {
    if (Array.isArray(state) && typeof state[1] === 'string') this.byteOrder = state[1];
  }
  get littleEndian(): boolean {
    // '=' is the writer's native order; every machine NumPy runs on for training is little-endian.
    return this.byteOrder !== '>';
  }
}

const SIZES: Record<string, number> = { f2: 2, f4: 4, f8: 8, i1: 1, i2: 2, i4: 4, i8: 8, u1: 1, u2: 2, u4: 4, u8: 8, b1: 1 };

/** NumPy's type codes as pickled ('f8', 'i4', '?', 'b1', ...) to 'f8'-style codes. */
function typeCode(code: string): string {
  const aliases: Record<string, string> = { '?': 'b1', b: 'i1', B: 'u1', h: 'i2', H: 'u2', i: 'i4', I: 'u4', l: 'i8', L: 'u8', q: 'i8', Q: 'u8', e: 'f2', f: 'f4', d: 'f8' };
  const c = aliases[code] ?? code;
  if (!(c in SIZES)) throw new Error(`NumPy dtype expected one of ${Object.keys(SIZES).join(', ')}, got '${code}'`);
  return c;
}

function decodeNumbers(dtype: NumpyDtype, raw: Uint8Array): Float64Array | BigInt64Array | BigUint64Array {
  const size = SIZES[dtype.code];
  if (raw.length % size) throw new Error(`NumPy data expected a multiple of ${size} bytes for ${dtype.code}, got ${raw.length}`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const le = dtype.littleEndian;
  const n = raw.length / size;
  // 64-bit integers stay exact (a step counter, a seed).
  if (dtype.code === 'i8') return BigInt64Array.from({ length: n }, (_, i) => view.getBigInt64(i * 8, le));
  if (dtype.code === 'u8') return BigUint64Array.from({ length: n }, (_, i) => view.getBigUint64(i * 8, le));
  const read: Record<string, (at: number) => number> = {
    f2: (at) => halfToNumber(view.getUint16(at, le)), f4: (at) => view.getFloat32(at, le), f8: (at) => view.getFloat64(at, le),
    i1: (at) => view.getInt8(at), i2: (at) => view.getInt16(at, le), i4: (at) => view.getInt32(at, le),
    u1: (at) => view.getUint8(at), u2: (at) => view.getUint16(at, le), u4: (at) => view.getUint32(at, le), b1: (at) => (view.getUint8(at) ? 1 : 0),
  };
  return Float64Array.from({ length: n }, (_, i) => read[dtype.code](i * size));
}

/** A Fortran-order array's values in C order: the strided view whose first axis steps by one element. */
function toCOrder<T extends Float64Array | BigInt64Array | BigUint64Array>(flat: T, shape: number[]): T {
  const stride = shape.map((_, axis) => shape.slice(0, axis).reduce((a, b) => a * b, 1));
  const out = flat.slice() as T;
  copyStrided<number | bigint>(flat, 0, shape, stride, out);
  return out;
}

const NUMPY_CORE = new Set(['numpy.core.multiarray', 'numpy._core.multiarray']);

/**
 * The NumPy globals a checkpoint's metadata uses, as data: `numpy.dtype`, `numpy.ndarray`, `multiarray.scalar`
 * (-> number, bigint for 64-bit integers beyond 2^53, boolean), `multiarray._reconstruct` (-> {@link NumpyArray}), and
 * `_codecs.encode(text, 'latin1')` (protocol 2's bytes). Undefined for any other global.
 */
export function numpyGlobal(module: string, name: string): PickleGlobal | undefined {
  if (module === '_codecs' && name === 'encode') {
    return {
      module, name, call: ([text, encoding]) => {
        if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) throw new Error(`_codecs.encode expected (text, 'latin1'), got encoding ${String(encoding)}`);
        if (/[^\u0000-\u00ff]/.test(text)) throw new Error('_codecs.encode expected latin-1 text (protocol 2 bytes), got characters beyond U+00FF');
        return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
      },
    };
  }
  if (module === 'numpy' && name === 'dtype') {
    return { module, name, call: ([code]) => {
      if (typeof code !== 'string') throw new Error(`numpy.dtype expected a type code, got ${typeof code}`);
      return new NumpyDtype(typeCode(code));
    } };
  }
  if (module === 'numpy' && name === 'ndarray') return { module, name };
  if (NUMPY_CORE.has(module) && name === 'scalar') {
    return { module, name, call: ([dtype, raw]) => {
      if (!(dtype instanceof NumpyDtype) || !(raw instanceof Uint8Array)) throw new Error('numpy scalar expected (dtype, bytes), got other arguments');
      const [v] = decodeNumbers(dtype, raw);
      if (dtype.code === 'b1') return v === 1;
      return typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    } };
  }
  if (NUMPY_CORE.has(module) && name === '_reconstruct') return { module, name, call: () => new NumpyArray() };
  return undefined;
}
