import * as tf from '@tensorflow/tfjs-core';
import { decodeRow, elementwiseProgram, MAX_GRID, runProgram, WebGpuBackend, WgslProgram, wgslProgram } from './program';
import { noteConvPass, tunedConvTiling } from './conv-tuning';

/**
 * One pass of a 3D convolution on NDHWC activations as a single WebGPU dispatch: an implicit GEMM whose operand
 * tiles are read straight from the activation (the im2col matrix is never built). Forward: y = im2col(x) W;
 * input gradient: dx = im2col'(dy) W' (the transposed convolution, taps that land between strides read zero);
 * weight gradient: dW = im2col(x)^T dy, split over the positions into chunks whose partial sums are added by one
 * reduction afterwards (no atomics, so the sum is the same on every run); the other two passes are split the same way
 * over their reduction when their tiles alone would leave a GPU idle.
 */
export type ConvPass = 'forward' | 'backwardData' | 'backwardWeights';

/** Sizes of one convolution: batch B, input D x H x W x Cin, Cout filters of kernel k, stride s, padding p (every axis). */
export interface ConvShape {
  b: number;
  d: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  k: number;
  s: number;
  p: number;
}

/** Output depth, height and width of a convolution (PyTorch's floor rule). */
export function convOutDims(c: ConvShape): [number, number, number] {
  return [c.d, c.h, c.w].map((n) => Math.floor((n + 2 * c.p - c.k) / c.s) + 1) as [number, number, number];
}

/** Rows M, columns N and reduction length K of the GEMM one pass computes. */
export function gemmDims(pass: ConvPass, c: ConvShape): { m: number; n: number; k: number } {
  const [od, oh, ow] = convOutDims(c);
  const taps = c.k * c.k * c.k;
  const outPositions = c.b * od * oh * ow;
  switch (pass) {
    case 'forward':
      return { m: outPositions, n: c.cout, k: taps * c.cin };
    case 'backwardData':
      return { m: c.b * c.d * c.h * c.w, n: c.cin, k: taps * c.cout };
    case 'backwardWeights':
      return { m: taps * c.cin, n: c.cout, k: outPositions };
  }
}

/**
 * How the GEMM tiles its work. `rows`: output rows per thread, 4 (tiles of 64 rows) or 8 (tiles of 128 rows: half
 * the loads of B and of workgroup memory per multiply-add, more registers), or 'auto' (the default; see
 * {@link tileRows}); ICH_WGSL_CONV_ROWS=4|8|auto. `vectorLoads`: the forward and input-gradient passes read the
 * activation four channels at a time (one mask test and index per 4 values, 16-byte loads) when the channels are a
 * multiple of 4 (default on; ICH_WGSL_CONV_VEC4=0 turns it off). `splitK`: the forward and input-gradient passes
 * split their reduction where their tiles alone would leave a GPU idle ({@link reductionChunks}; default on,
 * ICH_WGSL_CONV_SPLIT=0 turns it off). `columns`: output columns per tile, 32 or 64, or 'auto' (the default: 32 for
 * outputs of at most 32 channels, else 64; {@link tileColumns}); ICH_WGSL_CONV_COLUMNS=32|64|auto. Narrower tiles
 * give a small layer twice the workgroups without splitting its reduction, and read A twice as often. Each workgroup
 * is (columns / 4) x 16 threads. `prefetch`: each thread issues the loads of the next reduction step's tiles before
 * its multiply-adds of the current one (register double buffering: their latency hidden by arithmetic rather than
 * only by other workgroups, for a few more registers); off by default until a GPU has measured it,
 * ICH_WGSL_CONV_PREFETCH=1 turns it on.
 * On software Vulkan 8 rows and vector loads were each 5-25% faster per pass (bench/NOTES.md). The fastest per pass
 * and shape on a given GPU is measured by `ich bench tune` and used through ICH_WGSL_CONV_TUNING (conv-tuning.ts).
 */
export interface ConvTiling {
  rows: 4 | 8 | 'auto';
  vectorLoads: boolean;
  splitK: boolean;
  columns: 32 | 64 | 'auto';
  prefetch: boolean;
}

export const DEFAULT_TILING: ConvTiling = { rows: 'auto', vectorLoads: true, splitK: true, columns: 'auto', prefetch: false };

/**
 * The tiling from ICH_WGSL_CONV_ROWS (4, 8 or auto), ICH_WGSL_CONV_VEC4, ICH_WGSL_CONV_SPLIT and
 * ICH_WGSL_CONV_PREFETCH (0 or 1) and ICH_WGSL_CONV_COLUMNS (32, 64 or auto), {@link DEFAULT_TILING} otherwise.
 */
export function convTiling(): ConvTiling {
  const rows = envChoice('ICH_WGSL_CONV_ROWS', ['4', '8', 'auto'], 'auto');
  const vec = envChoice('ICH_WGSL_CONV_VEC4', ['0', '1'], '1');
  const split = envChoice('ICH_WGSL_CONV_SPLIT', ['0', '1'], '1');
  const columns = envChoice('ICH_WGSL_CONV_COLUMNS', ['32', '64', 'auto'], 'auto');
  const prefetch = envChoice('ICH_WGSL_CONV_PREFETCH', ['0', '1'], '0');
  return {
    rows: rows === 'auto' ? 'auto' : (Number(rows) as 4 | 8),
    vectorLoads: vec === '1',
    splitK: split === '1',
    columns: columns === 'auto' ? 'auto' : (Number(columns) as 32 | 64),
    prefetch: prefetch === '1',
  };
}

/** An environment switch's value among `choices` ("a, b or c"), `fallback` when unset. */
function envChoice(name: string, choices: string[], fallback: string): string {
  const value = process.env[name] ?? fallback;
  if (!choices.includes(value)) throw new Error(`${name} expected ${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}, got "${value}"`);
  return value;
}

/** Workgroups that keep a large GPU busy (about two per multiprocessor of an H100) before tiles may grow. */
const FILL_WORKGROUPS = 256;

/**
 * Rows per thread of one pass: as asked, or for 'auto' 8 where tiles of 128 rows leave no more than 10% more rows
 * idle than tiles of 64 and (forward, input gradient) still make at least {@link FILL_WORKGROUPS} workgroups; the
 * weight gradient fills the GPU by splitting its positions instead. Else 4: the small late layers (DenseNet's blocks
 * 3 and 4 have a few hundred to a few thousand rows) need every workgroup they can get.
 */
export function tileRows(pass: ConvPass, shape: ConvShape, rows: ConvTiling['rows'] = 'auto', columns: ConvTiling['columns'] = 'auto'): 4 | 8 {
  if (rows !== 'auto') return rows;
  const { m, n } = gemmDims(pass, shape);
  const padded = (r: number) => Math.ceil(m / (ROW_THREADS * r)) * ROW_THREADS * r;
  if (padded(8) > 1.1 * padded(4)) return 4;
  if (pass === 'backwardWeights') return 8;
  return outputTiles(m, n, 8, tileColumns(n, columns)) >= FILL_WORKGROUPS ? 8 : 4;
}

/** Workgroups one pass's M x N output takes in tiles of 16 x `rows` rows by `tn` columns. */
function outputTiles(m: number, n: number, rows: 4 | 8, tn: 32 | 64): number {
  return Math.ceil(m / (ROW_THREADS * rows)) * Math.ceil(n / tn);
}

/** Threads along the rows of a tile, and the reduction step held in workgroup memory. */
const ROW_THREADS = 16;
const TK = 16;
/** Enough workgroups to fill a large GPU (an H100 has 132 multiprocessors) before the weight gradient is split further. */
const TARGET_WORKGROUPS = 1024;
/** Fewest positions one chunk of the weight gradient sums, so that a chunk amortises its tile loads. */
const MIN_CHUNK = 256;
/** Shortest reduction one chunk of a split forward or input-gradient GEMM runs (8 steps of TK). */
const MIN_SPLIT_K = 128;

/**
 * Chunks a pass's reduction is split into, each chunk's partial sums added afterwards in a fixed order. The weight
 * gradient (reduction over every output position) aims at {@link TARGET_WORKGROUPS}. The forward and input-gradient
 * passes split only when their tiles make fewer than {@link FILL_WORKGROUPS} workgroups: DenseNet's late blocks at the
 * paper input (block 3: 2,888 rows at batch 4, 46 tiles; block 4: 324 rows, 6 tiles) would otherwise leave most of a
 * GPU idle, while their reductions (27 x 128 for the 3x3x3 convolutions) are long enough to share out.
 */
export function reductionChunks(pass: ConvPass, c: ConvShape, rows: 4 | 8 = 4, splitK = true, columns: ConvTiling['columns'] = 'auto'): number {
  const { m, n, k } = gemmDims(pass, c);
  const tiles = outputTiles(m, n, rows, tileColumns(n, columns));
  if (pass === 'backwardWeights') return Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / tiles), Math.floor(k / MIN_CHUNK), 512));
  if (!splitK || tiles >= FILL_WORKGROUPS) return 1;
  return Math.max(1, Math.min(Math.ceil(FILL_WORKGROUPS / tiles), Math.floor(k / MIN_SPLIT_K)));
}

/** Columns per tile: 32 for narrow outputs (the dense layers' growth rate of 32) whatever is asked, else as asked, 64 for 'auto'. */
export function tileColumns(n: number, columns: ConvTiling['columns'] = 'auto'): 32 | 64 {
  return n <= 32 ? 32 : columns === 'auto' ? 64 : columns;
}

const UNIFORMS: [string, 'i32' | 'f32'][] = ['M', 'N', 'K', 'kChunk', 'B', 'D', 'H', 'W', 'CIN', 'COUT', 'OD', 'OH', 'OW'].map((n) => [n, 'i32']);

/**
 * The WebGPU program of one pass and its uniform values. Kernel size, stride and padding are compiled in; the sizes
 * are uniforms, so one pipeline serves every layer with the same kernel and pass.
 */
export function convGemmProgram(
  pass: ConvPass,
  shape: ConvShape,
  maxGrid = MAX_GRID,
  tiling: ConvTiling = DEFAULT_TILING,
): { program: WgslProgram; uniforms: number[] } {
  const { m, n, k } = gemmDims(pass, shape);
  if (isNarrowInputGradient(pass, shape)) return narrowInputGradient(shape, maxGrid);
  const { rows, columns: tn, lanes, chunks, prefetch } = resolveTiling(pass, shape, tiling);
  const kChunk = Math.ceil(k / chunks / TK) * TK;
  const [od, oh, ow] = convOutDims(shape);
  const rowTiles = Math.ceil(m / (ROW_THREADS * rows));
  // WebGPU allows 65,535 workgroups per dimension; tfjs would refold a larger grid in a way the tile indexing below
  // does not follow, so the forward and input-gradient passes spread their row tiles over y and z themselves.
  const rowGrid: [number, number] = chunks > 1 ? [rowTiles, chunks] : [Math.min(rowTiles, maxGrid), Math.ceil(rowTiles / maxGrid)];
  if (rowGrid[0] > maxGrid || rowGrid[1] > maxGrid) {
    throw new Error(
      `conv3d ${pass} expected at most ${maxGrid} row tiles per grid dimension, got [${rowGrid.join(', ')}] ` +
        `(batch ${shape.b}, input ${shape.d}x${shape.h}x${shape.w})`,
    );
  }
  const program = wgslProgram({
    key: `${PROGRAM_NAMES[pass]}_k${shape.k}s${shape.s}p${shape.p}_tn${tn}_r${rows}_v${lanes}${chunks > 1 ? '_split' : ''}${prefetch ? '_pf' : ''}`,
    inputs: ['a', 'b'],
    components: [lanes, 1],
    uniforms: UNIFORMS,
    outputShape: chunks > 1 ? [chunks, m, n] : [m, n],
    dispatch: [Math.ceil(n / tn), rowGrid[0], rowGrid[1]],
    workgroupSize: [tn / 4, ROW_THREADS, 1],
    code: convGemmCode(pass, shape, tn, rows, lanes, chunks > 1 || pass === 'backwardWeights', prefetch),
  });
  return { program, uniforms: [m, n, k, kChunk, shape.b, shape.d, shape.h, shape.w, shape.cin, shape.cout, od, oh, ow] };
}

/**
 * What a tiling comes to for one pass and shape: columns per tile ({@link tileColumns}), output rows per thread
 * ({@link tileRows}), channels per load of the activation (4 where asked and its channels are a multiple of 4: all
 * but the stem's image; never in the weight gradient), reduction chunks ({@link reductionChunks}) and whether loads
 * are prefetched (as asked). Two tilings with the same result run the same program.
 * (The input gradient of few channels ignores the tiling: {@link isNarrowInputGradient}.)
 */
export function resolveTiling(
  pass: ConvPass,
  shape: ConvShape,
  tiling: ConvTiling,
): { rows: 4 | 8; columns: 32 | 64; lanes: 1 | 4; chunks: number; prefetch: boolean } {
  const columns = tileColumns(gemmDims(pass, shape).n, tiling.columns);
  const rows = tileRows(pass, shape, tiling.rows, columns);
  const lanes = tiling.vectorLoads && pass !== 'backwardWeights' && (pass === 'forward' ? shape.cin : shape.cout) % 4 === 0 ? 4 : 1;
  return { rows, columns, lanes, chunks: reductionChunks(pass, shape, rows, tiling.splitK, columns), prefetch: tiling.prefetch };
}

/**
 * Input channels up to which the input gradient is computed directly rather than as a GEMM: with one channel (the
 * stem's image) a GEMM tile would waste 31 of its 32 columns, and at stride 2 seven of eight taps read zeros
 * (measured on software Vulkan: 26 s for the stem at 32^3, batch 2). Saliency maps need this gradient.
 */
const NARROW_INPUT_GRADIENT = 4;
const NARROW_GROUP = 64;

/** Whether a pass is the input gradient for so few input channels that it runs as {@link narrowInputGradient}. */
export function isNarrowInputGradient(pass: ConvPass, shape: ConvShape): boolean {
  return pass === 'backwardData' && shape.cin <= NARROW_INPUT_GRADIENT;
}

/**
 * The input gradient for few input channels: one invocation per input element, looping over only the taps whose
 * stride parity reaches an output (ceil(k / s)^3 of k^3) and over the output channels.
 */
function narrowInputGradient(shape: ConvShape, maxGrid: number): { program: WgslProgram; uniforms: number[] } {
  const { m, n, k } = gemmDims('backwardData', shape);
  const { k: ks, s, p } = shape;
  const [od, oh, ow] = convOutDims(shape);
  const span = Math.ceil(ks / s);
  const program = elementwiseProgram({
    key: `ichConvNarrowInputGrad_k${ks}s${s}p${p}`,
    inputs: ['a', 'b'],
    uniforms: UNIFORMS,
    outputShape: [m, n],
    count: m * n,
    bound: 'uniforms.M * uniforms.N',
    groupSize: NARROW_GROUP,
    maxGrid,
    body: `let ci = i % uniforms.N;
          let pos = i / uniforms.N;
          ${decodeRow('pos', ['uniforms.D', 'uniforms.H', 'uniforms.W'], ['bb', 'iz', 'iy', 'ix'])}
          var acc = 0.0;
          for (var jd = 0; jd < ${span}; jd++) {
            let kd = (iz + ${p}) % ${s} + jd * ${s};
            let z = (iz + ${p} - kd) / ${s};
            if (kd < ${ks} && iz + ${p} - kd >= 0 && z < uniforms.OD) {
              for (var jh = 0; jh < ${span}; jh++) {
                let kh = (iy + ${p}) % ${s} + jh * ${s};
                let y = (iy + ${p} - kh) / ${s};
                if (kh < ${ks} && iy + ${p} - kh >= 0 && y < uniforms.OH) {
                  for (var jw = 0; jw < ${span}; jw++) {
                    let kw = (ix + ${p}) % ${s} + jw * ${s};
                    let x = (ix + ${p} - kw) / ${s};
                    if (kw < ${ks} && ix + ${p} - kw >= 0 && x < uniforms.OW) {
                      let o = (((bb * uniforms.OD + z) * uniforms.OH + y) * uniforms.OW + x) * uniforms.COUT;
                      let wRow = (((kd * ${ks} + kh) * ${ks} + kw) * uniforms.CIN + ci) * uniforms.COUT;
                      for (var co = 0; co < uniforms.COUT; co++) {
                        acc += a[o + co] * b[wRow + co];
                      }
                    }
                  }
                }
              }
            }
          }
          result[i] = acc;`,
  });
  return { program, uniforms: [m, n, k, k, shape.b, shape.d, shape.h, shape.w, shape.cin, shape.cout, od, oh, ow] };
}

/**
 * WGSL that stores one value of A's tile. Workgroup memory holds both tiles as vec4s laid out so that the inner loop
 * reads each thread's four rows of A (ty + 16 i) and four columns of B (tx + tn/4 j) with one load each, instead of
 * four scalar loads: row r of step k goes to component (r / 16) % 4 of As[k * TM/4 + (r / 64) * 16 + r % 16].
 */
function storeA(k: string, row: string, value: string, TM: number): string {
  return `As[(${k}) * ${TM / 4} + ((${row}) / ${4 * ROW_THREADS}) * ${ROW_THREADS} + (${row}) % ${ROW_THREADS}][((${row}) / ${ROW_THREADS}) % 4] = ${value};`;
}

/**
 * WGSL of `count` copies of `body(r)`, r = 0 .. count - 1 written out: per-thread values stay scalars with names of
 * their own (a GPU compiler may move an array indexed at run time to slow local memory), and a thread's loads are
 * all issued before the first one is stored.
 */
function unrolled(count: number, body: (r: number) => string): string {
  return Array.from({ length: count }, (_, r) => body(r)).join('\n      ');
}

/**
 * WGSL that moves a reduction index held as (tap, channel) on by one step of TK: the channel wraps into the next tap
 * at most once per `channels / TK` steps, so the division a fresh decode needs on every step (tens of instructions
 * on a GPU, with a runtime divisor) runs only on a wrap.
 */
function advanceTap(tap: string, channel: string, channels: string): string {
  return `${channel} += ${TK};
      if (${channel} >= ${channels}) {
        let wraps = ${channel} / ${channels};
        ${tap} += wraps;
        ${channel} -= wraps * ${channels};
      }`;
}

/**
 * Whether a pass reads A through in-bounds masks: per row (or per position of the weight gradient's tile) one u32
 * holds, for each axis, which of the k kernel offsets stay inside the volume (3k bits, so k <= 10: every kernel of
 * DenseNet-121 3D, the stem's 7 included), and each load is base + tap offset + channel behind one mask test. The
 * input gradient does so at stride 1 only, where its output position is linear in the tap.
 */
function usesAxisMasks(pass: ConvPass, shape: ConvShape): boolean {
  return 3 * shape.k <= 32 && (pass !== 'backwardData' || shape.s === 1);
}

/**
 * WGSL of `ichAxisMask(z0, y0, x0, d, h, w)`: bit t set where z0 + t lies in [0, d), bit k + t where y0 + t lies in
 * [0, h), bit 2k + t where x0 + t lies in [0, w), for t < k (`sign` -1: z0 - t, ...). Computed once per row, it
 * replaces six comparisons and a multiplied-out index per loaded element with `(mask & tapSelector) == tapSelector`.
 */
function axisMaskHelper(ks: number, sign: 1 | -1): string {
  const op = sign === 1 ? '+' : '-';
  return `
    fn ichAxisMask(z0: i32, y0: i32, x0: i32, d: i32, h: i32, w: i32) -> u32 {
      var m = 0u;
      for (var t = 0; t < ${ks}; t++) {
        let z = z0 ${op} t;
        let y = y0 ${op} t;
        let x = x0 ${op} t;
        if (z >= 0 && z < d) { m |= 1u << u32(t); }
        if (y >= 0 && y < h) { m |= 1u << u32(${ks} + t); }
        if (x >= 0 && x < w) { m |= 1u << u32(${2 * ks} + t); }
      }
      return m;
    }`;
}

/** WGSL: the selector of tap (kd, kh, kw) among an {@link axisMaskHelper} mask's bits (all three must be set). */
function tapSelector(ks: number): string {
  return `(1u << u32(kd)) | (1u << u32(${ks} + kh)) | (1u << u32(${2 * ks} + kw))`;
}

/**
 * WGSL of one pass: tiles of A (read through the convolution's index map) and B in workgroup memory, `rows` x 4
 * outputs per thread (rows 16 apart, columns tn / 4 apart). B is read row-major (k, n) in every pass: the input
 * gradient gets W transposed within each tap beforehand ({@link tapTransposeProgram}), so that neighbouring threads
 * read neighbouring addresses.
 */
function convGemmCode(pass: ConvPass, shape: ConvShape, tn: number, rows: 4 | 8, lanes: 1 | 4, chunked: boolean, prefetch: boolean): string {
  const { k: ks, s, p } = shape;
  const TM = ROW_THREADS * rows;
  const threads = (tn / 4) * ROW_THREADS;
  const aPerThread = (TM * TK) / threads;
  // Loads of A per thread and reduction step in groups of `lanes` values (the forward and input-gradient passes).
  const kGroups = TK / lanes;
  const groupLoads = (TM * kGroups) / threads;
  const bPerThread = (TK * tn) / threads;
  const masked = usesAxisMasks(pass, shape);
  const tapDecode = `let kd = tap / ${ks * ks}; let kh = (tap / ${ks}) % ${ks}; let kw = tap % ${ks};`;
  let prologue: string;
  // A's tile in three parts, so that the loop can order them either way: the per-thread values declared once
  // (`declareA`), read from the activation for the tile starting at reduction index `kt` (`readA`; the weight
  // gradient's positions come from slot `slot` of Pos), stored to workgroup memory (`storeAll`, by {@link storeA}).
  let declareA: string;
  let readA: (kt: string, slot: string) => string;
  let storeAll: string;
  // The weight gradient decodes the next tile's positions during the loop (empty for the other passes).
  let nextPositions = '';
  let helpers = '';
  let positionSlots = '';
  if (pass === 'backwardWeights') {
    // A(row = tap * CIN + ci, k = output position): contiguous along rows (channels), so rows vary fastest.
    // Every row of a tile reads the same TK positions: TK threads decode them into workgroup memory instead of each
    // of the TM rows dividing by the output sizes again. Two slots: the positions of the next tile are decoded while
    // the current tile loads. With axis masks a slot holds the window corner's flat index and its in-bounds taps (mask
    // 0 past the chunk's end); otherwise batch (-1 past the end) and the corner.
    helpers = masked ? axisMaskHelper(ks, 1) : '';
    positionSlots = `var<workgroup> Pos: array<vec4<i32>, ${2 * TK}>;`;
    const decodePositions = (first: string, slot: string) => `
      if (li < ${TK}) {
        let pos = ${first} + li;
        var q = vec4<i32>(-1, 0, 0, 0);
        if (pos < kEnd) {
          ${decodeRow('pos', ['uniforms.OD', 'uniforms.OH', 'uniforms.OW'], ['bb', 'od', 'oh', 'ow'])}
          let pz = od * ${s} - ${p};
          let py = oh * ${s} - ${p};
          let px = ow * ${s} - ${p};
          ${
            masked
              ? `q = vec4<i32>((((bb * uniforms.D + pz) * uniforms.H + py) * uniforms.W + px) * uniforms.CIN,
                  bitcast<i32>(ichAxisMask(pz, py, px, uniforms.D, uniforms.H, uniforms.W)), 0, 0);`
              : `q = vec4<i32>(bb, pz, py, px);`
          }
        }
        Pos[(${slot}) * ${TK} + li] = q;
      }`;
    prologue = `
      let aRow = li % ${TM};
      let aK = li / ${TM};
      let row = m0 + aRow;
      let rowValid = row < uniforms.M;
      let tap = min(row / uniforms.CIN, ${ks ** 3 - 1});
      let ci = row - tap * uniforms.CIN;
      ${tapDecode}
      ${
        masked
          ? `// A row's tap selector (all ones past M: no mask has bits beyond 3k) and its offset from the window corner.
      let rowSelector = select(0xffffffffu, ${tapSelector(ks)}, rowValid);
      let rowOffset = ((kd * uniforms.H + kh) * uniforms.W + kw) * uniforms.CIN + ci;`
          : ''
      }
      ${decodePositions('kBegin', '0')}
      workgroupBarrier();`;
    const read = (r: number) =>
      `
        let q${r} = Pos[aSlot * ${TK} + aK + ${r * (threads / TM)}];
        v${r} = 0.0;` +
      (masked
        ? `
        if ((bitcast<u32>(q${r}.y) & rowSelector) == rowSelector) {
          v${r} = a[q${r}.x + rowOffset];
        }`
        : `
        if (rowValid && q${r}.x >= 0) {
          let z = q${r}.y + kd;
          let y = q${r}.z + kh;
          let x = q${r}.w + kw;
          if (z >= 0 && z < uniforms.D && y >= 0 && y < uniforms.H && x >= 0 && x < uniforms.W) {
            v${r} = a[(((q${r}.x * uniforms.D + z) * uniforms.H + y) * uniforms.W + x) * uniforms.CIN + ci];
          }
        }`);
    declareA = unrolled(aPerThread, (r) => `var v${r} = 0.0;`);
    readA = (_kt, slot) => `{
        let aSlot = ${slot};${unrolled(aPerThread, read)}
      }`;
    storeAll = unrolled(aPerThread, (r) => storeA(`aK + ${r * (threads / TM)}`, 'aRow', `v${r}`, TM));
    nextPositions = decodePositions(`kt + ${TK}`, `(tile + 1) % 2`);
  } else {
    // A(row = position, k = tap * C + c): contiguous along k (channels), so k varies fastest; each thread keeps
    // the same rows for the whole reduction and decodes them once.
    const forward = pass === 'forward';
    const [rd, rh, rw] = forward ? ['uniforms.OD', 'uniforms.OH', 'uniforms.OW'] : ['uniforms.D', 'uniforms.H', 'uniforms.W'];
    // The volume A is read from: the input (forward) or the output gradient (input gradient).
    const [vd, vh, vw, vc] = forward
      ? ['uniforms.D', 'uniforms.H', 'uniforms.W', 'uniforms.CIN']
      : ['uniforms.OD', 'uniforms.OH', 'uniforms.OW', 'uniforms.COUT'];
    // The window corner of a row: forward, output position * s - p, taps added; input gradient, input position + p,
    // taps subtracted (then divided by s where the stride is not 1).
    const corner = forward ? [`c2 * ${s} - ${p}`, `c1 * ${s} - ${p}`, `c0 * ${s} - ${p}`] : [`c2 + ${p}`, `c1 + ${p}`, `c0 + ${p}`];
    helpers = masked ? axisMaskHelper(ks, forward ? 1 : -1) : '';
    // Each thread's rows as scalars (numbered, no array indexed at run time: that could put them in local memory).
    const rowDecl = (r: number) => (masked ? `var rBase${r} = 0;\n      var rMask${r} = 0u;` : `var rb${r} = -1;\n      var rz${r} = 0;\n      var ry${r} = 0;\n      var rx${r} = 0;`);
    const rowInit = (r: number) => `{
        let row = m0 + aRow + ${r * (threads / kGroups)};
        ${decodeRow('row', [rd, rh, rw], ['c3', 'c2', 'c1', 'c0'])}
        ${
          masked
            ? `if (row < uniforms.M) {
          let z0 = ${corner[0]};
          let y0 = ${corner[1]};
          let x0 = ${corner[2]};
          rBase${r} = (((c3 * ${vd} + z0) * ${vh} + y0) * ${vw} + x0) * ${vc};
          rMask${r} = ichAxisMask(z0, y0, x0, ${vd}, ${vh}, ${vw});
        }`
            : `rb${r} = select(-1, c3, row < uniforms.M);
        rz${r} = ${corner[0]}; ry${r} = ${corner[1]}; rx${r} = ${corner[2]};`
        }
      }`;
    prologue = `
      let aK = li % ${kGroups};
      let aRow = li / ${kGroups};
      ${unrolled(groupLoads, rowDecl)}
      ${unrolled(groupLoads, rowInit)}`;
    const channels = forward ? 'uniforms.CIN' : 'uniforms.COUT';
    let read: (r: number) => string;
    if (masked) {
      read = (r) => `
          if ((rMask${r} & selector) == selector) {
            v${r} = a[(rBase${r} + tapOffset + c) / ${lanes}];
          }`;
    } else if (forward) {
      read = (r) => `
          if (rb${r} >= 0) {
            let z = rz${r} + kd;
            let y = ry${r} + kh;
            let x = rx${r} + kw;
            if (z >= 0 && z < uniforms.D && y >= 0 && y < uniforms.H && x >= 0 && x < uniforms.W) {
              v${r} = a[((((rb${r} * uniforms.D + z) * uniforms.H + y) * uniforms.W + x) * uniforms.CIN + c) / ${lanes}];
            }
          }`;
    } else {
      // The output position that tap (kd, kh, kw) of input position i reached: o = (i + p - kd) / s when exact.
      read = (r) => `
          if (rb${r} >= 0) {
            let sz = rz${r} - kd;
            let sy = ry${r} - kh;
            let sx = rx${r} - kw;
            ${s === 1 ? '' : `if (sz % ${s} == 0 && sy % ${s} == 0 && sx % ${s} == 0) {`}
            let z = sz / ${s};
            let y = sy / ${s};
            let x = sx / ${s};
            if (sz >= 0 && z < uniforms.OD && sy >= 0 && y < uniforms.OH && sx >= 0 && x < uniforms.OW) {
              v${r} = a[((((rb${r} * uniforms.OD + z) * uniforms.OH + y) * uniforms.OW + x) * uniforms.COUT + c) / ${lanes}];
            }
            ${s === 1 ? '' : '}'}
          }`;
    }
    const zero = lanes === 4 ? 'vec4<f32>(0.0)' : '0.0';
    const store = (r: number) => {
      const row = `aRow + ${r * (threads / kGroups)}`;
      return lanes === 4
        ? [0, 1, 2, 3].map((j) => storeA(`aK * 4 + ${j}`, row, `v${r}[${j}]`, TM)).join('\n      ')
        : storeA('aK', row, `v${r}`, TM);
    };
    prologue += `
      var tapA = (kBegin + aK * ${lanes}) / ${channels};
      var cA = kBegin + aK * ${lanes} - tapA * ${channels};`;
    // The flat offset of a tap from the window corner (negative for the input gradient, whose taps are subtracted).
    const tapOffset = masked
      ? `let tapOffset = ${forward ? '' : '-'}((kd * ${vh} + kh) * ${vw} + kw) * ${vc};
      let selector = ${tapSelector(ks)};`
      : '';
    declareA = unrolled(groupLoads, (r) => `var v${r} = ${zero};`);
    readA = (kt) => `{
        let tap = tapA;
        let c = cA;
        let kValid = ${kt} + aK * ${lanes} < kEnd;
        ${tapDecode}
        ${tapOffset}
        ${unrolled(groupLoads, (r) => `v${r} = ${zero};`)}
        if (kValid) {${unrolled(groupLoads, read)}
        }
        ${advanceTap('tapA', 'cA', channels)}
      }`;
    storeAll = unrolled(groupLoads, store);
  }
  const readB = (kt: string) =>
    unrolled(
      bPerThread,
      (r) => `w${r} = 0.0;
        if (${kt} + bK + ${r * (threads / tn)} < kEnd && bValid) {
          w${r} = b[(${kt} + bK + ${r * (threads / tn)}) * uniforms.N + n0 + bN];
        }`,
    );
  return `
    var<workgroup> As: array<vec4<f32>, ${(TK * TM) / 4}>;
    var<workgroup> Bs: array<vec4<f32>, ${(TK * tn) / 4}>;
    ${positionSlots}
    ${helpers}

    fn main() {
      let li = i32(localIndex);
      let tx = i32(localId.x);
      let ty = i32(localId.y);
      let n0 = i32(workgroupId.x) * ${tn};
      ${
        chunked
          ? `let m0 = i32(workgroupId.y) * ${TM};
      let chunk = i32(workgroupId.z);`
          : // Row tiles beyond one dispatch dimension's limit continue along z (the paper input at batch 16 has 113,000).
            `let m0 = (i32(workgroupId.z) * i32(numWorkgroups.y) + i32(workgroupId.y)) * ${TM};
      let chunk = 0;`
      }
      let kBegin = chunk * uniforms.kChunk;
      let kEnd = min(uniforms.K, kBegin + uniforms.kChunk);
      let bN = li % ${tn};
      let bK = li / ${tn};
      let bValid = n0 + bN < uniforms.N;
      ${prologue}
      ${unrolled(rows, (i) => `var acc${i} = vec4<f32>(0.0);`)}
      ${declareA}
      ${unrolled(bPerThread, (r) => `var w${r} = 0.0;`)}
      ${prefetch ? `${readA('kBegin', '0')}
      ${readB('kBegin')}` : ''}
      // The trip count comes from uniforms alone: barriers need uniform control flow, and WGSL does not know that
      // workgroupId is uniform within a workgroup. The last chunk's tiles past K load zeros.
      for (var tile = 0; tile < uniforms.kChunk / ${TK}; tile++) {
        let kt = kBegin + tile * ${TK};
        ${nextPositions}
        ${prefetch ? '' : `${readA('kt', 'tile % 2')}
        ${readB('kt')}`}
        ${storeAll}
        ${unrolled(bPerThread, (r) => `Bs[(bK + ${r * (threads / tn)}) * ${tn / 4} + bN % ${tn / 4}][bN / ${tn / 4}] = w${r};`)}
        workgroupBarrier();
        ${
          // Prefetch: the next tile's loads are issued before this tile's multiply-adds, which then hide their latency
          // (the values wait in registers until the stores at the top of the next round; past the end they read zeros).
          prefetch ? `${readA(`kt + ${TK}`, '(tile + 1) % 2')}
        ${readB(`kt + ${TK}`)}` : ''
        }
        for (var kk = 0; kk < ${TK}; kk++) {
          let bv = Bs[kk * ${tn / 4} + tx];
          ${Array.from(
            { length: rows / 4 },
            (_, g) => `let av${g} = As[kk * ${TM / 4} + ${g * ROW_THREADS} + ty];
          acc${4 * g} += av${g}.x * bv;
          acc${4 * g + 1} += av${g}.y * bv;
          acc${4 * g + 2} += av${g}.z * bv;
          acc${4 * g + 3} += av${g}.w * bv;`,
          ).join('\n          ')}
        }
        workgroupBarrier();
      }
      let base = chunk * uniforms.M * uniforms.N;
      ${unrolled(
        rows,
        (i) => `if (m0 + ty + ${i * ROW_THREADS} < uniforms.M) {
        let out${i} = base + (m0 + ty + ${i * ROW_THREADS}) * uniforms.N + n0 + tx;
        ${[0, 1, 2, 3]
          .map((j) => `if (n0 + tx + ${j * (tn / 4)} < uniforms.N) { result[out${i} + ${j * (tn / 4)}] = acc${i}.${'xyzw'[j]}; }`)
          .join('\n        ')}
      }`,
      )}
    }`;
}

const TAP_TRANSPOSE_UNIFORMS: [string, 'i32' | 'f32'][] = [
  ['size', 'i32'],
  ['CIN', 'i32'],
  ['COUT', 'i32'],
];

/**
 * W [taps * Cin, Cout] -> [taps * Cout, Cin] (each tap's Cin x Cout block transposed): the input gradient's B, so that
 * its GEMM reads B along rows like the other passes (read in place, neighbouring threads would be Cout apart).
 * The weights are small (at most 27 x 128 x 32 values in DenseNet-121), so one extra pass over them is cheap.
 */
function tapTransposeProgram(taps: number, cin: number, cout: number): WgslProgram {
  return elementwiseProgram({
    key: 'ichConvTapTranspose',
    inputs: ['w'],
    uniforms: TAP_TRANSPOSE_UNIFORMS,
    outputShape: [taps * cout, cin],
    count: taps * cin * cout,
    bound: 'uniforms.size',
    body: `let ci = i % uniforms.CIN;
          let rest = i / uniforms.CIN;
          let co = rest % uniforms.COUT;
          let tap = rest / uniforms.COUT;
          result[i] = w[(tap * uniforms.CIN + ci) * uniforms.COUT + co];`,
  });
}

/**
 * Kernel names of the three passes in TensorFlow.js's registry (webgpu backend only): one per pass, so that tf.profile
 * and `ich bench profile` report the forward pass and each gradient apart.
 */
export const CONV_GEMM_KERNELS: Record<ConvPass, string> = {
  forward: 'IchConv3dForward',
  backwardData: 'IchConv3dBackwardData',
  backwardWeights: 'IchConv3dBackwardWeights',
};

/** The first part of each pass's shader key, which the profile's dispatch counts group by. */
const PROGRAM_NAMES: Record<ConvPass, string> = {
  forward: 'ichConvForward',
  backwardData: 'ichConvBackwardData',
  backwardWeights: 'ichConvBackwardWeights',
};

/** Registers the kernels for the webgpu backend; harmless when called again or when that backend never starts. */
export function registerConvGemmKernels(): void {
  for (const pass of Object.keys(CONV_GEMM_KERNELS) as ConvPass[]) registerPass(pass);
}

function registerPass(pass: ConvPass): void {
  if (tf.getKernel(CONV_GEMM_KERNELS[pass], 'webgpu')) return;
  tf.registerKernel({
    kernelName: CONV_GEMM_KERNELS[pass],
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { shape, maxGrid, rows, vectorLoads, splitK, columns, prefetch } = attrs as unknown as { shape: number[]; maxGrid: number } & ConvTiling;
      const [bs, d, h, w, cin, cout, k, s, p] = shape;
      const gpu = backend as unknown as WebGpuBackend;
      const { program, uniforms } = convGemmProgram(pass, { b: bs, d, h, w, cin, cout, k, s, p }, maxGrid, { rows, vectorLoads, splitK, columns, prefetch });
      let out: tf.TensorInfo;
      // The GEMM reads W transposed per tap; the direct kernel for few input channels reads it as it is.
      if (pass === 'backwardData' && !isNarrowInputGradient(pass, { b: bs, d, h, w, cin, cout, k, s, p })) {
        const taps = k * k * k;
        const wt = runProgram(gpu, tapTransposeProgram(taps, cin, cout), [b], TAP_TRANSPOSE_UNIFORMS, [taps * cin * cout, cin, cout]);
        out = runProgram(gpu, program, [a, wt], UNIFORMS, uniforms);
        gpu.disposeData(wt.dataId);
      } else {
        out = runProgram(gpu, program, [a, b], UNIFORMS, uniforms);
      }
      if (out.shape.length === 2) return out;
      const [chunks, m, n] = out.shape;
      const summed = runProgram(gpu, chunkSumProgram(m * n), [out], CHUNK_SUM_UNIFORMS, [m * n, chunks]);
      gpu.disposeData(out.dataId);
      return { ...summed, shape: [m, n] };
    },
  });
}

const CHUNK_SUM_UNIFORMS: [string, 'i32' | 'f32'][] = [
  ['size', 'i32'],
  ['chunks', 'i32'],
];

/**
 * A split reduction's chunks added in a fixed order, one invocation per output ([chunks, size] -> [1, size]);
 * tfjs's sum over the outer axis transposes first (measured: ~1 s of a 5 s step on software Vulkan for the stem).
 */
function chunkSumProgram(size: number): WgslProgram {
  return elementwiseProgram({
    key: 'ichConvChunkSum',
    inputs: ['partial'],
    uniforms: CHUNK_SUM_UNIFORMS,
    outputShape: [1, size],
    count: size,
    bound: 'uniforms.size',
    body: `var acc = 0.0;
          for (var c = 0; c < uniforms.chunks; c++) {
            acc += partial[c * uniforms.size + i];
          }
          result[i] = acc;`,
  });
}

/**
 * Runs one pass on the webgpu backend. Operands: forward (x [B*D, H, W, Cin], w [k^3 Cin, Cout]) -> y
 * [B*OD*OH*OW, Cout]; backwardData (dy, w) -> dx [B*D*H*W, Cin]; backwardWeights (x, dy) -> dW [k^3 Cin, Cout]
 * (the chunks' partial sums added by a second program). `maxGrid` lowers the workgroups per grid dimension (tests of the layout
 * that very large inputs need); `tiling` defaults to the tuning table's choice for this pass and shape
 * ({@link tunedConvTiling}, ICH_WGSL_CONV_TUNING), else {@link convTiling} (the environment).
 */
export function convGemm(
  pass: ConvPass,
  shape: ConvShape,
  a: tf.Tensor,
  b: tf.Tensor,
  maxGrid = MAX_GRID,
  tiling: ConvTiling = tunedConvTiling(pass, shape) ?? convTiling(),
): tf.Tensor2D {
  noteConvPass(pass, shape);
  const { b: bs, d, h, w, cin, cout, k, s, p } = shape;
  const attrs = { shape: [bs, d, h, w, cin, cout, k, s, p], maxGrid, ...tiling };
  return tf.engine().runKernel(CONV_GEMM_KERNELS[pass], { a, b }, attrs as never) as tf.Tensor2D;
}
