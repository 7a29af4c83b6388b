/**
 * A Python pickle as plain JavaScript values: None -> null, bool, int -> number (or bigint beyond 2^53), float,
 * str, bytes -> Uint8Array, list, tuple and set -> array, dict -> Map (keys as they were).
 * Class instances exist only where the caller's `resolveGlobal` builds them.
 */
export type PickleValue = unknown;

/** A class or function the pickle names (`module.name`), as the caller resolved it. */
export interface PickleGlobal {
  module: string;
  name: string;
  /** Builds the object for REDUCE / NEWOBJ from its arguments; absent for globals used only as values. */
  call?: (args: PickleValue[]) => PickleValue;
}

/** What an unpickler is allowed to build: the caller's whitelist, like torch.load(weights_only=True). */
export interface PickleHooks {
  /** The global `module.name`, or undefined to refuse it. */
  resolveGlobal(module: string, name: string): PickleGlobal | undefined;
  /** Why a refused global is refused, for the error (default: only whitelisted classes load). */
  refusal?: string;
  /** The object behind a persistent ID (torch.save: storages). */
  persistentLoad?(pid: PickleValue): PickleValue;
}

/** The method by which an object a caller's global built takes its BUILD state (Python's __setstate__). */
export const PICKLE_SET_STATE = Symbol('pickle set state');
/** The method by which such an object takes SETITEMS' key-value pairs (an instance of a dict subclass). */
export const PICKLE_SET_ITEM = Symbol('pickle set item');
/** The method by which such an object takes APPENDS' elements (an instance of a list subclass). */
export const PICKLE_APPEND = Symbol('pickle append');

/** True when `v` is an object with the method `key` (one of the symbols above). */
function hasMethod<K extends symbol>(v: unknown, key: K): v is { [k in K]: (...args: PickleValue[]) => void } {
  return typeof v === 'object' && v !== null && key in v;
}

/** Builds a dict from a value that pickle BUILD updates; objects without state (OrderedDict's attributes) drop it. */
function applyBuild(target: PickleValue, state: PickleValue): void {
  if (target instanceof Map && state instanceof Map) for (const [k, v] of state) target.set(k, v);
  else if (hasMethod(target, PICKLE_SET_STATE)) target[PICKLE_SET_STATE](state);
}

/**
 * Unpickles the binary protocols 2-5 (and the text opcodes torch and Python 2 pickles still use) without running
 * anything: every class or function must come from `hooks.resolveGlobal`.
 * @param source the file or member, for error messages.
 * @throws naming the source and byte offset: an unknown opcode, a refused global, a truncated stream, a stack fault.
 */
export function unpickle(bytes: Uint8Array, hooks: PickleHooks, source: string): PickleValue {
  return unpickleAt(bytes, 0, hooks, source).value;
}

/**
 * {@link unpickle} of the pickle that starts at byte `start`, and the byte after its STOP: for streams of several
 * pickles one after another (torch.save's legacy format).
 */
export function unpickleAt(bytes: Uint8Array, start: number, hooks: PickleHooks, source: string): { value: PickleValue; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = start;
  let opAt = 0;
  const fail = (what: string): never => {
    throw new Error(`pickle expected ${what} (byte ${opAt} of ${source})`);
  };
  const need = (n: number) => {
    if (pos + n > bytes.length) fail(`${n} more bytes, the stream ends after ${bytes.length - pos}`);
    const at = pos;
    pos += n;
    return at;
  };
  const u8 = () => bytes[need(1)];
  const u16 = () => view.getUint16(need(2), true);
  const u32 = () => view.getUint32(need(4), true);
  const u64 = () => {
    const at = need(8);
    return view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
  };
  const raw = (n: number) => bytes.subarray(need(n), pos);
  const text = (n: number) => Buffer.from(raw(n)).toString('utf8');
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('a newline-terminated argument');
    const s = Buffer.from(bytes.subarray(pos, end)).toString('latin1');
    pos = end + 1;
    return s;
  };
  const pop = () => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) fail('a value on the stack');
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0) fail('a value on the stack');
    return stack[stack.length - 1];
  };
  const popMark = () => {
    const m = marks.pop();
    if (m === undefined) fail('a MARK before this opcode');
    return stack.splice(m!);
  };
  const signedInt = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  // A caller's global or BUILD state that refuses its arguments says so; where in which stream is added here.
  const located = <T>(run: () => T): T => {
    try {
      return run();
    } catch (e) {
      if (e instanceof Error && !e.message.includes(source)) e.message += ` (byte ${opAt} of ${source})`;
      throw e;
    }
  };
  const global = (module: string, name: string) => {
    const g = hooks.resolveGlobal(module, name);
    if (!g) fail(`a known class or function, got ${module}.${name} (refused: ${hooks.refusal ?? 'only whitelisted classes load'})`);
    return g!;
  };
  const call = (g: unknown, args: unknown) => {
    const fn = g as PickleGlobal;
    if (!fn || typeof fn !== 'object' || !('module' in fn) || !fn.call) fail(`a callable global, got ${fn && typeof fn === 'object' && 'name' in fn ? `${fn.module}.${fn.name}` : typeof fn}`);
    if (!Array.isArray(args)) fail('an argument tuple');
    return located(() => fn.call!(args as unknown[]));
  };
  const setItems = (dict: unknown, items: unknown[]) => {
    const set = dict instanceof Map ? (k: unknown, v: unknown) => dict.set(k, v) : hasMethod(dict, PICKLE_SET_ITEM) ? (k: unknown, v: unknown) => dict[PICKLE_SET_ITEM](k, v) : fail('a dict to set items in');
    for (let i = 0; i + 1 < items.length; i += 2) set(items[i], items[i + 1]);
  };
  const append = (list: unknown, items: unknown[]) => {
    if (Array.isArray(list)) list.push(...items);
    else if (hasMethod(list, PICKLE_APPEND)) for (const item of items) list[PICKLE_APPEND](item);
    else fail('a list to append to');
  };
  const memoGet = (i: number) => {
    if (!memo.has(i)) fail(`memo entry ${i}`);
    return memo.get(i);
  };
  for (;;) {
    opAt = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME: a length hint only
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) fail(`one value on the stack at STOP, got ${stack.length}`);
        return { value: stack[0], end: pos };
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(signedInt(raw(u8())));
        break;
      case 0x8b: // LONG4
        stack.push(signedInt(raw(u32())));
        break;
      case 0x49: {
        // INT (text): "01" / "00" are True / False in protocol 0
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : Number(s));
        break;
      }
      case 0x4c: // LONG (text)
        stack.push(Number(line().replace(/L$/, '')));
        break;
      case 0x47: // BINFLOAT: big-endian float64
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x46: // FLOAT (text)
        stack.push(Number(line()));
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x55: // SHORT_BINSTRING (Python 2 str)
        stack.push(Buffer.from(raw(u8())).toString('latin1'));
        break;
      case 0x54: // BINSTRING
        stack.push(Buffer.from(raw(u32())).toString('latin1'));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(raw(u8()).slice());
        break;
      case 0x42: // BINBYTES
        stack.push(raw(u32()).slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(raw(u64()).slice());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        append(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const d = new Map();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push([]);
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(popMark());
        break;
      case 0x63: {
        // GLOBAL
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('a module and a name as strings for STACK_GLOBAL');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const g = pop();
        stack.push(call(g, args));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX (keyword arguments are not passed on: no whitelisted class takes any)
        pop();
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        located(() => applyBuild(top(), state));
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!hooks.persistentLoad) fail('no persistent IDs (this pickle is not from torch.save)');
        stack.push(hooks.persistentLoad!(pid));
        break;
      }
      case 0x50: {
        // PERSID
        const pid = line();
        if (!hooks.persistentLoad) fail('no persistent IDs');
        stack.push(hooks.persistentLoad!(pid));
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: // PUT
        memo.set(Number(line()), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x67: // GET
        stack.push(memoGet(Number(line())));
        break;
      default:
        fail(`a pickle opcode of protocols 0-5, got 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}
