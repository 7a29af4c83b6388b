import * as path from 'node:path';
import { writeFileAtomic } from './atomic';
import { pickle, pickleGlobal, PickleNode } from './pickle-write';
import { encodeZip, ZipMember } from './zip-write';

/** A tensor to write in a torch.save file: C order (last axis fastest). */
export interface TorchTensorToSave {
  /** float32 for weights and running statistics, int64 for batch norm's num_batches_tracked. */
  dtype: 'float32' | 'int64';
  shape: readonly number[];
  values: ArrayLike<number>;
}

const STORAGE_CLASS = { float32: 'FloatStorage', int64: 'LongStorage' } as const;

/** C-order strides of a shape, in elements. */
function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** A tensor's values as little-endian bytes in C order (torch.save's storages, safetensors' data). */
export function storageBytes(t: TorchTensorToSave, where: string): Uint8Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.values.length !== n) throw new Error(`tensor ${where} expected ${n} values for shape [${t.shape}], got ${t.values.length}`);
  if (t.dtype === 'float32') {
    const f = t.values instanceof Float32Array ? t.values : Float32Array.from(t.values);
    return new Uint8Array(f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength));
  }
  const out = Buffer.alloc(8 * n);
  for (let i = 0; i < n; i++) {
    const v = t.values[i];
    if (!Number.isSafeInteger(v)) throw new Error(`tensor ${where} expected int64 values (safe integers), got ${v} at ${i}`);
    out.writeBigInt64LE(BigInt(v), 8 * i);
  }
  return out;
}

/**
 * Encodes a state dict as torch.save writes it (the zip format of PyTorch >= 1.6, pickle protocol 2, little-endian
 * storages, one storage per tensor, data aligned to 64 bytes), so `torch.load(file)` and
 * `model.load_state_dict(...)` read it with any PyTorch from 1.6 on, `weights_only=True` included. Keys keep their
 * order (an OrderedDict, as `state_dict()` returns). Deterministic: one state dict gives one byte sequence.
 * @param archive the archive's top-level folder (torch.save uses the file name without its extension).
 * @throws naming the tensor whose values do not fit its shape or dtype.
 */
export function encodeTorchFile(state: ReadonlyMap<string, TorchTensorToSave>, archive = 'archive'): Uint8Array {
  if (!/^[A-Za-z0-9_.-]+$/.test(archive)) throw new Error(`torch archive name expected letters, digits, "_", "." or "-", got ${JSON.stringify(archive)}`);
  const members: ZipMember[] = [];
  const items: [PickleNode, PickleNode][] = [];
  const rebuild = pickleGlobal('torch._utils', '_rebuild_tensor_v2');
  const orderedDict = pickleGlobal('collections', 'OrderedDict');
  let key = 0;
  for (const [name, t] of state) {
    const data = storageBytes(t, name);
    const storageKey = String(key++);
    members.push({ name: `${archive}/data/${storageKey}`, data });
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const storage: PickleNode = { kind: 'persistent', id: ['storage', pickleGlobal('torch', STORAGE_CLASS[t.dtype]), storageKey, 'cpu', numel] };
    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks)
    const args: PickleNode[] = [storage, 0, [...t.shape], contiguousStrides(t.shape), false, { kind: 'call', callable: orderedDict, args: [] }];
    items.push([name, { kind: 'call', callable: rebuild, args }]);
  }
  const pkl = pickle({ kind: 'call', callable: orderedDict, args: [], items });
  return encodeZip([
    { name: `${archive}/data.pkl`, data: pkl },
    { name: `${archive}/byteorder`, data: Buffer.from('little') },
    ...members,
    { name: `${archive}/version`, data: Buffer.from('3\n') },
  ]);
}

/**
 * Writes {@link encodeTorchFile}'s bytes atomically (a reader never sees half a file), the archive named after the
 * file as torch.save names it; returns the bytes written (to hash them without reading the file back).
 */
export function writeTorchFile(file: string, state: ReadonlyMap<string, TorchTensorToSave>): Uint8Array {
  const stem = path.basename(file).replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_.-]/g, '_') || 'archive';
  const bytes = encodeTorchFile(state, stem);
  writeFileAtomic(file, bytes);
  return bytes;
}
