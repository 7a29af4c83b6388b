/**
 * What {@link pickle} can write: the subset torch.save's data.pkl uses. Strings, numbers, booleans and null map to
 * Python str, int/float, bool and None; arrays to tuples; the node types below to globals, calls and persistent ids.
 */
export type PickleNode =
  | string
  | number
  | boolean
  | null
  | readonly PickleNode[]
  | { kind: 'global'; module: string; name: string }
  /** `callable(*args)`, then `result[key] = value` for each item (how an OrderedDict pickles). */
  | { kind: 'call'; callable: PickleNode; args: readonly PickleNode[]; items?: readonly (readonly [PickleNode, PickleNode])[] }
  /** A reference resolved by the reader's persistent_load (torch: its storages). */
  | { kind: 'persistent'; id: PickleNode };

/** A Python global such as `collections.OrderedDict`, for {@link pickle}. */
export function pickleGlobal(module: string, name: string): PickleNode {
  return { kind: 'global', module, name };
}

/**
 * Serialises a value as a pickle of protocol 2 (torch.save's default, which every Python 3 reads). Globals are
 * memoised, so a class used for every tensor is named once. Integers must be safe integers; floats are written as
 * doubles.
 * @throws naming the value when it is not representable (a non-finite integer, an object of another shape).
 */
export function pickle(value: PickleNode): Uint8Array {
  const chunks: number[] = [0x80, 2];
  const memo = new Map<string, number>();
  const bytes = (...b: number[]) => {
    for (const x of b) chunks.push(x);
  };
  const u32 = (n: number) => bytes(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  const text = (s: string) => {
    for (const b of Buffer.from(s, 'utf8')) chunks.push(b);
  };
  const put = (key: string) => {
    const i = memo.size;
    memo.set(key, i);
    if (i < 256) bytes(0x71, i); // BINPUT
    else bytes(0x72), u32(i); // LONG_BINPUT
  };
  const write = (v: PickleNode): void => {
    if (v === null) return bytes(0x4e); // NONE
    if (v === true) return bytes(0x88); // NEWTRUE
    if (v === false) return bytes(0x89); // NEWFALSE
    if (typeof v === 'string') {
      const utf8 = Buffer.from(v, 'utf8');
      bytes(0x58); // BINUNICODE
      u32(utf8.length);
      for (const b of utf8) chunks.push(b);
      return;
    }
    if (typeof v === 'number') {
      if (Number.isInteger(v)) {
        if (!Number.isSafeInteger(v)) throw new Error(`pickle integer expected a safe integer, got ${v}`);
        if (v >= 0 && v < 256) return bytes(0x4b, v); // BININT1
        if (v >= 0 && v < 65536) return bytes(0x4d, v & 0xff, v >> 8); // BININT2
        if (v >= -(2 ** 31) && v < 2 ** 31) return bytes(0x4a), u32(v); // BININT
        // LONG1: little-endian two's complement, 8 bytes cover every safe integer.
        const b = Buffer.alloc(8);
        b.writeBigInt64LE(BigInt(v));
        return bytes(0x8a, 8, ...b);
      }
      const b = Buffer.alloc(8);
      b.writeDoubleBE(v);
      return bytes(0x47, ...b); // BINFLOAT
    }
    if (Array.isArray(v)) {
      if (v.length === 0) return bytes(0x29); // EMPTY_TUPLE
      if (v.length <= 3) {
        v.forEach(write);
        return bytes([0x85, 0x86, 0x87][v.length - 1]); // TUPLE1..3
      }
      bytes(0x28); // MARK
      v.forEach(write);
      return bytes(0x74); // TUPLE
    }
    const node = v as Exclude<PickleNode, string | number | boolean | null | readonly PickleNode[]>;
    switch (node.kind) {
      case 'global': {
        const key = `${node.module}\n${node.name}`;
        const at = memo.get(key);
        if (at !== undefined) return at < 256 ? bytes(0x68, at) : (bytes(0x6a), u32(at)); // BINGET, LONG_BINGET
        if (/\n/.test(node.module) || /\n/.test(node.name)) throw new Error(`pickle global expected a module and name without newlines, got ${JSON.stringify(key)}`);
        bytes(0x63); // GLOBAL
        text(`${key}\n`);
        return put(key);
      }
      case 'call':
        write(node.callable);
        write(node.args);
        bytes(0x52); // REDUCE
        if (node.items?.length) {
          bytes(0x28); // MARK
          for (const [k, x] of node.items) write(k), write(x);
          bytes(0x75); // SETITEMS
        }
        return;
      case 'persistent':
        write(node.id);
        return bytes(0x51); // BINPERSID
      default:
        throw new Error(`pickle value expected a string, number, boolean, null, array or pickle node, got ${JSON.stringify(v)?.slice(0, 60)}`);
    }
  };
  write(value);
  bytes(0x2e); // STOP
  return Uint8Array.from(chunks);
}
