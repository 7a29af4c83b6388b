import * as fs from 'node:fs';
import { halfToNumber } from './half';
import { PICKLE_APPEND, PICKLE_SET_ITEM, PICKLE_SET_STATE, PickleGlobal, PickleHooks, PickleValue, unpickle, unpickleAt } from './pickle';
import { numpyGlobal } from './pickle-numpy';
import { copyStrided } from './strided';
import { readZip } from './zip';

/** Element types of PyTorch storages that a state dict can hold. */
export type TorchDType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** A tensor read from a torch.save file, made contiguous (C order, last axis fastest). */
export interface TorchTensor {
  dtype: TorchDType;
  shape: number[];
  /** Values: float32 for float32/16 and bfloat16 and the small integer types, float64 for float64, int32 and int64 (exact to 2^53). */
  values: Float32Array | Float64Array;
}

/** Storage class names of the pickle (`torch.FloatStorage`, ...) and their element types. */
const STORAGES: Record<string, TorchDType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};
/** Bytes per element of each dtype. */
export const ELEMENT_BYTES: Record<TorchDType, number> = { float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1 };

/** A storage as the pickle refers to it: its element type and bytes, decoded when a tensor first needs them. */
interface Storage {
  dtype: TorchDType;
  key: string;
  /** Undefined in the legacy format's first pass, which only finds the storages. */
  bytes: Uint8Array | undefined;
  decoded?: Float32Array | Float64Array;
}

const HOST_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Decodes a storage's bytes once, when a tensor first needs them. */
function decodeStorage(s: Storage, littleEndian: boolean, where: string): Float32Array | Float64Array {
  if (s.decoded) return s.decoded;
  if (!s.bytes) throw new Error(`storage ${s.key} expected its bytes, got none yet`);
  s.decoded = decodeTensorBytes(s.dtype, s.bytes, littleEndian, `storage ${s.key}, ${where}`);
  return s.decoded;
}

/**
 * Values of `bytes` read as elements of `dtype` in the given byte order, as {@link TorchTensor.values} holds them
 * (float64 for float64, int32 and int64; float32 otherwise). Shared by torch.save files and safetensors.
 * @throws naming `where` when the byte count is not a whole number of elements.
 */
export function decodeTensorBytes(dtype: TorchDType, bytes: Uint8Array, littleEndian: boolean, where: string): Float32Array | Float64Array {
  const n = bytes.length / ELEMENT_BYTES[dtype];
  if (!Number.isInteger(n)) throw new Error(`${dtype} values expected a multiple of ${ELEMENT_BYTES[dtype]} bytes, got ${bytes.length} (${where})`);
  // Weights are float32 (or float64) in the machine's order: a copy of the bytes, not a DataView read per value
  // (160 ms of a DenseNet-121 import).
  if (littleEndian === HOST_LITTLE_ENDIAN && (dtype === 'float32' || dtype === 'float64')) {
    const copy = dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
    // Copied into a buffer of its own: bytes may be a Buffer, whose slice() shares memory and whose offset need not be aligned.
    new Uint8Array(copy.buffer).set(bytes);
    return copy;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const wide = dtype === 'float64' || dtype === 'int64' || dtype === 'int32';
  const out = wide ? new Float64Array(n) : new Float32Array(n);
  const bf16 = new DataView(new ArrayBuffer(4));
  for (let i = 0; i < n; i++) {
    switch (dtype) {
      case 'float32':
        out[i] = view.getFloat32(4 * i, littleEndian);
        break;
      case 'float64':
        out[i] = view.getFloat64(8 * i, littleEndian);
        break;
      case 'float16':
        out[i] = halfToNumber(view.getUint16(2 * i, littleEndian));
        break;
      case 'bfloat16':
        // bfloat16 is the top half of a float32.
        bf16.setUint32(0, view.getUint16(2 * i, littleEndian) << 16);
        out[i] = bf16.getFloat32(0);
        break;
      case 'int64':
        out[i] = Number(view.getBigInt64(8 * i, littleEndian));
        break;
      case 'int32':
        out[i] = view.getInt32(4 * i, littleEndian);
        break;
      case 'int16':
        out[i] = view.getInt16(2 * i, littleEndian);
        break;
      case 'int8':
        out[i] = view.getInt8(i);
        break;
      case 'uint8':
      case 'bool':
        out[i] = view.getUint8(i);
        break;
    }
  }
  return out;
}

/** True when a view of these strides is its values in C order, one after another (axes of size 1 may stride anything). */
function isCOrder(shape: number[], stride: number[]): boolean {
  let step = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    if (shape[axis] !== 1 && stride[axis] !== step) return false;
    step *= shape[axis];
  }
  return true;
}

/** torch._utils._rebuild_tensor_v2's view of a storage (offset, size, stride) copied out in C order. */
function rebuildTensor(storage: Storage, offset: number, shape: number[], stride: number[], littleEndian: boolean, where: string): TorchTensor {
  const data = decodeStorage(storage, littleEndian, where);
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new (data.constructor as new (n: number) => Float32Array | Float64Array)(n);
  if (n > 0) {
    const last = offset + shape.reduce((a, d, i) => a + (d - 1) * stride[i], 0);
    if (offset < 0 || last >= data.length) throw new Error(`tensor expected a view within its storage of ${data.length} values, got one reaching value ${last} (storage ${storage.key}, ${where})`);
    if (isCOrder(shape, stride)) return { dtype: storage.dtype, shape, values: data.slice(offset, offset + n) };
    copyStrided(data, offset, shape, stride, values);
  }
  return { dtype: storage.dtype, shape, values };
}

/** Classes whose instances are only named attributes (a dict subclass, or an object whose state is its __dict__). */
const ATTRIBUTE_BAGS = new Set([
  'argparse.Namespace',
  'lightning.fabric.utilities.data.AttributeDict',
  'lightning_fabric.utilities.data.AttributeDict',
  'pytorch_lightning.utilities.parsing.AttributeDict',
]);

const isIntList = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => Number.isInteger(x));

/**
 * The pickle hooks of torch.save's tensors: storage classes, `_rebuild_tensor_v2`, `_rebuild_parameter`,
 * OrderedDict and NumPy values, nothing else. `storageBytes` gives a storage's bytes, or undefined where the format
 * has not reached them yet (the legacy format's first pass: its tensors then come back as null).
 */
function tensorPickleHooks(file: string, littleEndian: boolean, storageBytes: (key: string, dtype: TorchDType, numel: number) => Uint8Array | undefined): PickleHooks {
  const storages = new Map<string, Storage>();
  const storageClass = new Map<PickleGlobal, TorchDType>();
  let tensors = 0;
  return {
    refusal: 'only dense tensors and NumPy numbers and arrays load; save dense float tensors instead',
    resolveGlobal(module, name) {
      if ((module === 'torch' || module === 'torch.storage') && name in STORAGES) {
        const g: PickleGlobal = { module, name };
        storageClass.set(g, STORAGES[name]);
        return g;
      }
      if (module === 'collections' && name === 'OrderedDict') return { module, name, call: () => new Map() };
      // Plain attribute bags that training scripts keep beside the weights (argparse's arguments, PyTorch Lightning's
      // hyper_parameters): read as dicts of their attributes; nothing of theirs runs.
      if (ATTRIBUTE_BAGS.has(`${module}.${name}`)) return { module, name, call: () => new Map() };
      if (module === 'torch._utils' && name === '_rebuild_tensor_v2') {
        return {
          module,
          name,
          call: (args) => {
            const [storage, offset, size, stride] = args;
            const where = `tensor ${++tensors}`;
            if (!storages.has((storage as Storage)?.key) || !Number.isInteger(offset) || !isIntList(size) || !isIntList(stride) || size.length !== stride.length) {
              throw new Error(`torch file expected _rebuild_tensor_v2(storage, offset, size, stride, ...), got other arguments (${where}, ${file})`);
            }
            const st = storage as Storage;
            return st.bytes ? rebuildTensor(st, offset as number, size, stride, littleEndian, where) : null;
          },
        };
      }
      // nn.Parameter pickles as its tensor wrapped once more; the tensor is all a state dict needs.
      if (module === 'torch._utils' && name === '_rebuild_parameter') return { module, name, call: (args) => args[0] };
      // Python's set and frozenset as arrays, as protocol 4's set opcodes give them (a module's buffer names).
      if ((module === 'builtins' || module === '__builtin__') && (name === 'set' || name === 'frozenset')) return { module, name, call: (args) => (Array.isArray(args[0]) ? [...args[0]] : []) };
      // Metrics and statistics kept beside the weights, as numbers and arrays; other NumPy globals are refused.
      if (module === 'numpy' || module.startsWith('numpy.') || module === '_codecs') return numpyGlobal(module, name);
      // Tensors of other kinds (sparse, quantized, nested) are refused by name rather than passed over.
      if (module === 'torch._utils' && name.startsWith('_rebuild_')) return undefined;
      // Any other class (a whole pickled nn.Module, a config object beside the weights) is read as inert data.
      return { module, name, call: (args) => new PickledObject(`${module}.${name}`, args) };
    },
    persistentLoad(pid) {
      // ('storage', storage class, key, location, number of elements[, view metadata of PyTorch < 0.4])
      if (!Array.isArray(pid) || pid[0] !== 'storage' || typeof pid[2] !== 'string') throw new Error(`torch file expected storage references ('storage', class, key, location, size), got ${JSON.stringify(pid)} (${file})`);
      if (pid[5] !== undefined && pid[5] !== null) throw new Error(`torch file expected whole storages, got a view of storage ${String(pid[2])} (the format of PyTorch < 0.4; load and save it again with a newer PyTorch) (${file})`);
      const dtype = storageClass.get(pid[1] as PickleGlobal);
      if (!dtype) throw new Error(`torch file expected a storage class of ${Object.keys(STORAGES).join(', ')}, got another (storage ${pid[2]}, ${file})`);
      const key = pid[2];
      let st = storages.get(key);
      if (!st) {
        const numel = Number(pid[4]);
        const data = storageBytes(key, dtype, numel);
        if (data && data.length !== numel * ELEMENT_BYTES[dtype]) throw new Error(`torch file expected storage ${key} of ${numel} ${dtype} values (${numel * ELEMENT_BYTES[dtype]} bytes), got ${data.length} bytes (${file})`);
        st = { dtype, key, bytes: data };
        storages.set(key, st);
      }
      return st;
    },
  };
}

/** The first pickle of torch.save's legacy format (PyTorch < 1.6), a LONG1 number. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/**
 * Reads a file written by torch.save without Python: the zip format of PyTorch >= 1.6, or the legacy format before it
 * (a magic number, a protocol number and the writer's system info as pickles, the main pickle, its storage keys, then
 * each storage's element count and bytes, little-endian whatever machine wrote them). The zip format's storages are in
 * the order its `byteorder` record names (little when there is none, as in the files of PyTorch 1.13). The pickle is unpickled without running anything: tensors,
 * storages, OrderedDict, sets, argparse and Lightning attribute dicts and NumPy values are built; any other class comes
 * back as an inert {@link PickledObject} (so a whole pickled model reads without its classes' code, unlike torch.load);
 * tensors of other kinds (sparse, quantized) are refused. Every tensor is made contiguous.
 * Dicts come back as Map, tuples, lists and sets as arrays, tensors as {@link TorchTensor}.
 * @param bytes the file's contents when the caller has read them already (e.g. to hash the very bytes imported).
 * @throws naming the file: not a torch.save file (TorchScript archives are named as such), a member or storage
 *   missing, damaged or truncated, a sparse or quantized tensor, a NumPy object array, a view outside its storage.
 */
export function readTorchFile(file: string, bytes: Buffer = fs.readFileSync(file)): PickleValue {
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] === 0x02 && bytes.subarray(0, 16).includes(0x8a)) return readLegacyFormat(bytes, file);
  if (bytes.length < 4 || bytes.readUInt32LE(0) !== 0x04034b50) {
    throw new Error(`torch file expected a zip archive (torch.save), got ${bytes.length} bytes starting ${JSON.stringify(bytes.subarray(0, 4).toString('latin1'))} (${file})`);
  }
  const entries = readZip(bytes, file);
  const names = [...entries.keys()];
  const pkl = names.find((n) => n === 'data.pkl' || /^[^/]+\/data\.pkl$/.test(n));
  if (!pkl) {
    const script = names.some((n) => /(^|\/)constants\.pkl$/.test(n) || /(^|\/)code\//.test(n));
    throw new Error(`torch file expected a data.pkl member, got ${script ? 'a TorchScript archive (torch.jit.save): save the model\'s state_dict() with torch.save instead' : `members ${names.slice(0, 5).join(', ')}`} (${file})`);
  }
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const order = entries.get(`${prefix}byteorder`);
  const littleEndian = order ? Buffer.from(order.read()).toString('latin1').trim() !== 'big' : true;
  const hooks = tensorPickleHooks(file, littleEndian, (key) => {
    const e = entries.get(`${prefix}data/${key}`);
    if (!e) throw new Error(`torch file expected member ${prefix}data/${key}, got none (${file})`);
    return e.read();
  });
  return unpickle(entries.get(pkl)!.read(), hooks, `${file}: ${pkl}`);
}

/**
 * The legacy format: its storages follow the main pickle, so a first pass finds them (tensors as null) and where
 * the pickle ends, and a second builds the tensors.
 */
function readLegacyFormat(bytes: Uint8Array, file: string): PickleValue {
  const source = `${file}, legacy torch.save format`;
  const plain: PickleHooks = { resolveGlobal: () => undefined, refusal: 'the legacy format\'s header and storage keys are plain values' };
  let at = 0;
  const next = (hooks: PickleHooks) => {
    const r = unpickleAt(bytes, at, hooks, source);
    at = r.end;
    return r.value;
  };
  const magic = next(plain);
  const protocol = next(plain);
  if (magic !== LEGACY_MAGIC || protocol !== 1001) throw new Error(`torch file expected the legacy format's magic number and protocol 1001, got ${String(magic)} and ${String(protocol)} (${source})`);
  // sys_info records the writer's byte order, but the legacy writer stores element counts and storages
  // little-endian on every machine (PyTorch's writeFileRaw), so it is read and ignored.
  next(plain);
  const littleEndian = true;
  const mainAt = at;
  const wanted = new Map<string, TorchDType>();
  next(tensorPickleHooks(file, littleEndian, (key, dtype) => {
    wanted.set(key, dtype);
    return undefined;
  }));
  const keys = next(plain);
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string' && wanted.has(k))) throw new Error(`torch file expected the list of the pickle's ${wanted.size} storage keys after it, got ${Array.isArray(keys) ? `keys ${keys.slice(0, 5).join(', ')}` : typeof keys} (${source})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = new Map<string, Uint8Array>();
  for (const key of keys as string[]) {
    const size = ELEMENT_BYTES[wanted.get(key)!];
    if (at + 8 > bytes.length) throw new Error(`torch file expected storage ${key}'s element count at byte ${at}, got the end of the file (truncated? ${source})`);
    const numel = Number(view.getBigInt64(at, littleEndian));
    const end = at + 8 + numel * size;
    if (numel < 0 || end > bytes.length) throw new Error(`torch file expected ${numel} values of storage ${key} (${numel * size} bytes from byte ${at + 8}), got ${Math.max(0, bytes.length - at - 8)} bytes left (truncated? ${source})`);
    data.set(key, bytes.subarray(at + 8, end));
    at = end;
  }
  at = mainAt;
  return next(tensorPickleHooks(file, littleEndian, (key) => {
    const d = data.get(key);
    if (!d) throw new Error(`torch file expected storage ${key} after the storage keys, got none (${source})`);
    return d;
  }));
}

/**
 * An instance of a class that the file names and this reader does not build: its class path, constructor arguments
 * and pickled state (an nn.Module's `__dict__`: `_parameters`, `_buffers`, `_modules`, ...) as inert data. Nothing of
 * the class runs or needs to exist, unlike torch.load; whole pickled models are read through it.
 */
export class PickledObject {
  /** What pickle's BUILD gave the object (Python's __setstate__ argument); null when none. */
  state: PickleValue = null;
  /** The items of an instance of a dict subclass (an EasyDict of settings), in order. */
  readonly items = new Map<PickleValue, PickleValue>();
  /** The elements of an instance of a list subclass. */
  readonly elements: PickleValue[] = [];

  constructor(
    /** `module.name` of the class. */
    readonly className: string,
    readonly args: PickleValue[],
  ) {}

  [PICKLE_SET_STATE](state: PickleValue): void {
    this.state = state;
  }

  [PICKLE_SET_ITEM](key: PickleValue, value: PickleValue): void {
    this.items.set(key, value);
  }

  [PICKLE_APPEND](element: PickleValue): void {
    this.elements.push(element);
  }
}

/** A pickled nn.Module's attribute dict, or null when `v` is none (no `_parameters` and `_modules` dicts). */
function moduleAttributes(v: unknown): Map<unknown, unknown> | null {
  if (!(v instanceof PickledObject) || !(v.state instanceof Map)) return null;
  return v.state.get('_parameters') instanceof Map && v.state.get('_modules') instanceof Map ? v.state : null;
}

/**
 * The state dict of a whole pickled nn.Module, as its state_dict() would give it: each module's parameters, then
 * its persistent buffers, then its children's under `<child>.`, skipping None entries.
 */
function moduleStateDict(module: Map<unknown, unknown>, prefix = '', out = new Map<string, TorchTensor>()): Map<string, TorchTensor> {
  const nonPersistent = new Set(Array.isArray(module.get('_non_persistent_buffers_set')) ? (module.get('_non_persistent_buffers_set') as unknown[]) : []);
  for (const [k, t] of module.get('_parameters') as Map<unknown, unknown>) if (isTorchTensor(t)) out.set(`${prefix}${String(k)}`, t);
  const buffers = module.get('_buffers');
  if (buffers instanceof Map) for (const [k, t] of buffers) if (isTorchTensor(t) && !nonPersistent.has(k)) out.set(`${prefix}${String(k)}`, t);
  for (const [k, child] of module.get('_modules') as Map<unknown, unknown>) {
    const attributes = moduleAttributes(child);
    if (attributes) moduleStateDict(attributes, `${prefix}${String(k)}.`, out);
  }
  return out;
}

/** True for a value {@link readTorchFile} made from a tensor. */
export function isTorchTensor(v: unknown): v is TorchTensor {
  return typeof v === 'object' && v !== null && 'dtype' in v && 'shape' in v && 'values' in v;
}

/** Keys under which training scripts commonly nest the weights in a checkpoint dict. */
const NESTED_KEYS = ['state_dict', 'model_state_dict', 'model', 'net', 'network', 'weights'];

/**
 * The state dict (parameter name -> tensor) inside what torch.save wrote: the dict under one of `state_dict`,
 * `model_state_dict`, `model`, `net`, `network`, `weights`, else the only dict of tensors among its values, else the
 * object itself when it holds tensors. A whole pickled nn.Module (`torch.save(model)`) counts as the dict of tensors
 * its state_dict() would give, at the top or under those keys. Non-tensor values beside the tensors are left out.
 * @throws listing the top-level keys when no dict of tensors is found, or several without one of those names.
 */
export function findStateDict(value: PickleValue, source: string): Map<string, TorchTensor> {
  const tensorsOf = (v: unknown): Map<string, TorchTensor> | null => {
    const module = moduleAttributes(v);
    if (module) {
      const state = moduleStateDict(module);
      return state.size ? state : null;
    }
    if (!(v instanceof Map)) return null;
    const out = new Map<string, TorchTensor>();
    for (const [k, t] of v) if (typeof k === 'string' && isTorchTensor(t)) out.set(k, t);
    return out.size ? out : null;
  };
  if (value instanceof Map) {
    // Nested first: a checkpoint often keeps a metric as a 0-d tensor beside the weights ({'best_auc': tensor(0.8),
    // 'model_state_dict': {...}}), which must not pass for a one-tensor state dict.
    for (const key of NESTED_KEYS) {
      const nested = tensorsOf(value.get(key));
      if (nested) return nested;
    }
    const candidates = [...value.values()].map(tensorsOf).filter((m): m is Map<string, TorchTensor> => m !== null);
    if (candidates.length === 1) return candidates[0];
    const direct = tensorsOf(value);
    if (direct && candidates.length === 0) return direct;
    throw new Error(`torch file expected a state dict (a dict of tensors, or one under ${NESTED_KEYS.join(' / ')}), got a dict with keys ${[...value.keys()].slice(0, 8).map(String).join(', ')}${candidates.length > 1 ? ` and ${candidates.length} dicts of tensors` : ''} (${source})`);
  }
  const whole = tensorsOf(value);
  if (whole) return whole;
  const got = value instanceof PickledObject ? `a pickled ${value.className}${moduleAttributes(value) ? ' without weights' : ', which is no torch.nn module'}` : Array.isArray(value) ? 'a list or tuple' : value === null ? 'None' : typeof value;
  throw new Error(`torch file expected a state dict (a dict of tensors, or a whole pickled model), got ${got} (${source})`);
}
