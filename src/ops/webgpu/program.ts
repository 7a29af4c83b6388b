import * as tf from '@tensorflow/tfjs-core';

/**
 * A compute program in tfjs-backend-webgpu's program interface, for the project's own WGSL kernels: the backend
 * declares the output buffer `result`, one read-only buffer per name in `variableNames`, and a `uniforms` struct
 * (shapes first, then the program's own fields), and calls `main()` once per invocation.
 */
export interface WgslProgram {
  variableNames: string[];
  /** Values per element of each input buffer (4: declared array<vec4<f32>>); absent: 1 each. */
  variableComponents?: number[];
  uniforms: string;
  outputShape: number[];
  shaderKey: string;
  /** Not flat (a `y` entry), so the backend calls main() without an index and the code reads workgroupId itself. */
  dispatchLayout: { x: number[]; y: number[]; z?: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  getUserCode(): string;
}

/** The slice of tfjs-backend-webgpu's backend the kernels use. */
export interface WebGpuBackend {
  runWebGPUProgram(program: WgslProgram, inputs: tf.TensorInfo[], dtype: 'float32' | 'int32', uniforms: { type: 'int32' | 'float32'; data: number[] }[]): tf.TensorInfo;
  disposeData(dataId: tf.DataId): boolean;
  device: { limits: { maxStorageBufferBindingSize: number } };
}

/**
 * A program from its parts; `uniforms` lists "name: type" fields (values in the same order go to {@link runProgram}).
 * The output has rank >= 2 so that the dispatch layout is not flat: the backend then calls `main()` without an index.
 */
export function wgslProgram(parts: {
  key: string;
  inputs: string[];
  /** Values per element of each input buffer (default 1 each). */
  components?: number[];
  uniforms: [string, 'i32' | 'f32'][];
  outputShape: number[];
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  code: string;
}): WgslProgram {
  if (parts.outputShape.length < 2) throw new Error(`${parts.key} output expected rank >= 2 (a dispatch that is not flat), got [${parts.outputShape.join(', ')}]`);
  return {
    variableNames: parts.inputs,
    ...(parts.components ? { variableComponents: parts.components } : {}),
    uniforms: parts.uniforms.map(([n, t]) => `${n}: ${t},`).join(' '),
    outputShape: parts.outputShape,
    shaderKey: parts.key,
    dispatchLayout: { x: [parts.outputShape.length - 1], y: parts.outputShape.slice(0, -1).map((_, i) => i) },
    dispatch: parts.dispatch,
    workgroupSize: parts.workgroupSize,
    getUserCode: () => parts.code,
  };
}

/** Runs a program on the webgpu backend with its uniform values (types as declared); the output is float32 unless told. */
export function runProgram(
  backend: WebGpuBackend,
  program: WgslProgram,
  inputs: tf.TensorInfo[],
  uniforms: [string, 'i32' | 'f32'][],
  values: number[],
  dtype: 'float32' | 'int32' = 'float32',
): tf.TensorInfo {
  if (values.length !== uniforms.length) throw new Error(`${program.shaderKey} expected ${uniforms.length} uniform values, got ${values.length}`);
  checkBindingSizes(backend, program, inputs);
  return backend.runWebGPUProgram(
    program,
    inputs,
    dtype,
    values.map((v, i) => ({ type: uniforms[i][1] === 'f32' ? 'float32' : 'int32', data: [v] })),
  );
}

/**
 * Throws before a dispatch whose input or output would exceed the device's storage binding limit (128 MiB on
 * software Vulkan; a few GiB on GPUs): Dawn would reject the bind group and skip the dispatch without an exception,
 * leaving zeros behind. All our tensors are 4-byte values.
 */
export function checkBindingSizes(backend: WebGpuBackend, program: WgslProgram, inputs: tf.TensorInfo[]): void {
  const tensors: [string, number[]][] = [...inputs.map((t, i): [string, number[]] => [program.variableNames[i] ?? `input ${i}`, t.shape]), ['result', program.outputShape]];
  const over = oversizeBinding(backend, tensors);
  if (over) {
    throw new Error(
      `${program.shaderKey} expected tensors of at most ${over.limit} bytes (the GPU's maxStorageBufferBindingSize), ` +
        `got ${over.bytes} for ${over.name} [${over.shape.join(', ')}]; lower the batch size or the input size`,
    );
  }
}

/**
 * The first of the named tensor shapes (4-byte values) over the device's storage binding limit, with its size and the
 * limit in bytes; null when all fit.
 */
export function oversizeBinding(backend: WebGpuBackend, tensors: [string, number[]][]): { name: string; shape: number[]; bytes: number; limit: number } | null {
  const limit = backend.device.limits.maxStorageBufferBindingSize;
  for (const [name, shape] of tensors) {
    const bytes = 4 * shape.reduce((a, b) => a * b, 1);
    if (bytes > limit) return { name, shape, bytes, limit };
  }
  return null;
}

/** Workgroups per grid dimension allowed by WebGPU (maxComputeWorkgroupsPerDimension's default). */
export const MAX_GRID = 65535;

/**
 * The grid of a one-dimensional dispatch of `workgroups` workgroups, folded into a square when one dimension cannot
 * hold it (tfjs refuses to fold programs whose layout is not flat, as ours are). Code finds its place with
 * {@link flatWorkgroupIndex}; the last invocations of a folded grid fall past the end and must check it.
 */
export function elementwiseDispatch(workgroups: number, maxGrid = MAX_GRID): [number, number, number] {
  if (workgroups <= maxGrid) return [Math.max(1, workgroups), 1, 1];
  const side = Math.ceil(Math.sqrt(workgroups));
  if (side > maxGrid) throw new Error(`dispatch expected at most ${maxGrid ** 2} workgroups, got ${workgroups}`);
  return [side, side, 1];
}

/** WGSL: the flat invocation index in a grid from {@link elementwiseDispatch}, for workgroups of `groupSize` threads. */
export function flatWorkgroupIndex(groupSize: number): string {
  return `i32(((workgroupId.z * numWorkgroups.y + workgroupId.y) * numWorkgroups.x + workgroupId.x) * ${groupSize}u + localIndex)`;
}

/** Threads per workgroup of {@link elementwiseProgram}. */
const ELEMENTWISE_GROUP = 256;

/**
 * A program with one invocation per element `i` in [0, `count`): `bound` is the WGSL expression of the count (from
 * uniforms, so one pipeline serves every size) and `body` the code run for each `i` below it.
 */
export function elementwiseProgram(parts: {
  key: string;
  inputs: string[];
  uniforms: [string, 'i32' | 'f32'][];
  outputShape: number[];
  count: number;
  bound: string;
  body: string;
  helpers?: string;
  groupSize?: number;
  /** Workgroups per grid dimension before folding (default WebGPU's; lower in tests). */
  maxGrid?: number;
}): WgslProgram {
  const group = parts.groupSize ?? ELEMENTWISE_GROUP;
  return wgslProgram({
    key: parts.key,
    inputs: parts.inputs,
    uniforms: parts.uniforms,
    outputShape: parts.outputShape,
    dispatch: elementwiseDispatch(Math.ceil(parts.count / group), parts.maxGrid),
    workgroupSize: [group, 1, 1],
    code: `
      ${parts.helpers ?? ''}
      fn main() {
        let i = ${flatWorkgroupIndex(group)};
        if (i < ${parts.bound}) {
          ${parts.body}
        }
      }`,
  });
}

/**
 * WGSL lines splitting the flat row index `row` of an NDHWC volume into `b`, `z`, `y`, `x` (declared with the given
 * names), for depth, height and width given as WGSL expressions: row = ((b * D + z) * H + y) * W + x.
 */
export function decodeRow(row: string, [d, h, w]: [string, string, string], [b, z, y, x]: [string, string, string, string]): string {
  return `let ${x} = ${row} % ${w};
        let ${x}_rest = ${row} / ${w};
        let ${y} = ${x}_rest % ${h};
        let ${y}_rest = ${x}_rest / ${h};
        let ${z} = ${y}_rest % ${d};
        let ${b} = ${y}_rest / ${d};`;
}
