import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { convGemm, convGemmProgram, ConvTiling, convTiling, DEFAULT_TILING, gemmDims, reductionChunks, resolveTiling, tileColumns, tileRows } from '../../../src/ops/webgpu/conv3d-gemm';
import { MAX_GRID } from '../../../src/ops/webgpu/program';
import { onBackend, relError, TEST_BACKENDS, values } from '../../support/tf';

describe('ops/webgpu: the implicit-GEMM conv3d program', () => {
  const shape = { b: 2, d: 6, h: 9, w: 10, cin: 5, cout: 7, k: 3, s: 1, p: 1 };

  it('sizes the GEMM of each pass and splits the reduction where the tiles alone would leave a GPU idle', () => {
    assert.deepEqual(gemmDims('forward', shape), { m: 1080, n: 7, k: 135 });
    assert.deepEqual(gemmDims('backwardData', shape), { m: 1080, n: 5, k: 189 });
    assert.deepEqual(gemmDims('backwardWeights', shape), { m: 135, n: 7, k: 1080 });
    assert.equal(reductionChunks('forward', shape), 1);
    assert.equal(reductionChunks('backwardWeights', shape), 4);
    // 1,080 rows = 17 tiles of 64: one grid column normally, 9 x 2 with at most 9 per dimension.
    assert.deepEqual(convGemmProgram('forward', shape).program.dispatch, [1, 17, 1]);
    assert.deepEqual(convGemmProgram('forward', shape, 9).program.dispatch, [1, 9, 2]);
    assert.throws(() => convGemmProgram('forward', shape, 4), /conv3d forward expected at most 4 row tiles per grid dimension, got \[4, 5\]/);
    assert.equal(MAX_GRID, 65535);
    // 8 rows per thread: tiles of 128 rows, the same 16 x (columns / 4) threads.
    const eight = convGemmProgram('forward', shape, MAX_GRID, { rows: 8, vectorLoads: false, splitK: true, columns: 'auto', prefetch: false }).program;
    assert.deepEqual(eight.dispatch, [1, 9, 1]);
    assert.deepEqual(eight.workgroupSize, [8, 16, 1]);
    assert.equal(reductionChunks('backwardWeights', shape, 8), 4);
    // Four channels per load only where the activation read has channels in multiples of 4 (here: 5 in, 7 out).
    const vec = { rows: 4, vectorLoads: true, splitK: true, columns: 'auto', prefetch: false } as const;
    assert.match(convGemmProgram('forward', shape, MAX_GRID, vec).program.shaderKey, /_v1$/);
    assert.match(convGemmProgram('forward', { ...shape, cin: 8 }, MAX_GRID, vec).program.shaderKey, /_v4$/);
    assert.equal(convGemmProgram('forward', { ...shape, cin: 8 }, MAX_GRID, vec).program.variableComponents?.join(), '4,1');
    // In-bounds masks (3k bits per row) for kernels up to 10 wide, except the input gradient at stride 2, whose
    // output position is not linear in the tap; that and wider kernels keep explicit bounds checks.
    const code = (pass: 'forward' | 'backwardData' | 'backwardWeights', g: typeof shape) => convGemmProgram(pass, g).program.getUserCode();
    const stem = { ...shape, k: 7, s: 2, p: 3 };
    assert.match(code('forward', stem), /ichAxisMask/);
    assert.match(code('backwardWeights', stem), /ichAxisMask/);
    assert.match(code('backwardData', shape), /ichAxisMask/);
    assert.doesNotMatch(code('backwardData', { ...shape, s: 2 }), /ichAxisMask/);
    assert.doesNotMatch(code('forward', { ...shape, k: 11, p: 5 }), /ichAxisMask/);
    assert.doesNotMatch(code('backwardWeights', { ...shape, k: 11, p: 5 }), /ichAxisMask/);
    // 'auto': 8 rows only where 128-row tiles leave few rows idle and still make >= 256 workgroups (the weight
    // gradient splits its positions instead); DenseNet's block 1 at the paper input, batch 4: 231,040 rows.
    const block1 = { b: 4, d: 10, h: 76, w: 76, cin: 128, cout: 32, k: 3, s: 1, p: 1 };
    assert.equal(tileRows('forward', block1), 8);
    assert.equal(tileRows('backwardData', block1), 8);
    assert.equal(tileRows('forward', { ...block1, d: 2, h: 19, w: 19 }), 4, 'block 3: 2,888 rows, 23 tiles of 128');
    assert.equal(tileRows('backwardWeights', block1), 8, '27 x 128 rows, a multiple of 128');
    assert.equal(tileRows('backwardWeights', { ...block1, k: 1, cin: 192 }), 4, '192 rows: tiles of 128 would idle 64, tiles of 64 none');
    assert.equal(tileRows('forward', block1, 4), 4);
    assert.match(convGemmProgram('forward', block1).program.shaderKey, /_r8_v4$/);
    assert.deepEqual(DEFAULT_TILING, { rows: 'auto', vectorLoads: true, splitK: true, columns: 'auto', prefetch: false });
    // Forward and input gradient split their reduction only below 256 workgroups: not in block 1, 6 ways in block 3
    // (46 tiles of 64 rows, a reduction of 27 x 128), never below 128 per chunk (the 5 -> 7 shape above: 135).
    const block3 = { ...block1, d: 2, h: 19, w: 19 };
    assert.equal(reductionChunks('forward', block1, 8), 1);
    assert.equal(reductionChunks('forward', block3, 4), 6);
    assert.equal(reductionChunks('backwardData', block3, 4), 3, '46 x 2 tiles (128 input channels), a reduction of 27 x 32');
    assert.match(convGemmProgram('forward', block3).program.shaderKey, /_r4_v4_split$/);
    assert.deepEqual(convGemmProgram('forward', block3).program.dispatch, [1, 46, 6]);
    assert.deepEqual(convGemmProgram('forward', block3).program.outputShape, [6, 2888, 32]);
    assert.equal(reductionChunks('forward', block3, 4, false), 1);
    assert.deepEqual(convGemmProgram('forward', block3, MAX_GRID, { rows: 4, vectorLoads: true, splitK: false, columns: 'auto', prefetch: false }).program.dispatch, [1, 46, 1]);
    // 32 columns per tile wherever the output has at most 32 channels; wider outputs take 64 unless 32 is asked
    // (twice the workgroups for a small layer, without splitting its reduction).
    assert.equal(tileColumns(32), 32);
    assert.equal(tileColumns(32, 64), 32);
    assert.equal(tileColumns(128), 64);
    assert.equal(tileColumns(128, 32), 32);
    const block3x1 = { b: 4, d: 2, h: 19, w: 19, cin: 512, cout: 128, k: 1, s: 1, p: 0 };
    assert.deepEqual(resolveTiling('forward', block3x1, DEFAULT_TILING), { rows: 4, columns: 64, lanes: 4, chunks: 3, prefetch: false });
    assert.deepEqual(resolveTiling('forward', block3x1, { ...DEFAULT_TILING, columns: 32 }), { rows: 4, columns: 32, lanes: 4, chunks: 2, prefetch: false });
    // Prefetching is a program of its own (loads of the next step issued before this step's multiply-adds).
    assert.match(convGemmProgram('forward', block3x1, MAX_GRID, { ...DEFAULT_TILING, prefetch: true }).program.shaderKey, /_r4_v4_split_pf$/);
    assert.match(convGemmProgram('backwardWeights', block3x1, MAX_GRID, { ...DEFAULT_TILING, prefetch: true }).program.shaderKey, /_pf$/);
    assert.deepEqual(convGemmProgram('forward', block3x1, MAX_GRID, { ...DEFAULT_TILING, columns: 32 }).program.dispatch, [4, 46, 2]);
    const names = ['ICH_WGSL_CONV_ROWS', 'ICH_WGSL_CONV_VEC4', 'ICH_WGSL_CONV_SPLIT', 'ICH_WGSL_CONV_COLUMNS', 'ICH_WGSL_CONV_PREFETCH'];
    const saved = names.map((n) => process.env[n]);
    try {
      names.forEach((n) => delete process.env[n]);
      assert.deepEqual(convTiling(), DEFAULT_TILING);
      process.env.ICH_WGSL_CONV_ROWS = '8';
      process.env.ICH_WGSL_CONV_VEC4 = '1';
      assert.deepEqual(convTiling(), { rows: 8, vectorLoads: true, splitK: true, columns: 'auto', prefetch: false });
      process.env.ICH_WGSL_CONV_COLUMNS = '32';
      assert.equal(convTiling().columns, 32);
      process.env.ICH_WGSL_CONV_COLUMNS = '16';
      assert.throws(() => convTiling(), /ICH_WGSL_CONV_COLUMNS expected 32, 64 or auto, got "16"/);
      delete process.env.ICH_WGSL_CONV_COLUMNS;
      process.env.ICH_WGSL_CONV_SPLIT = '0';
      assert.equal(convTiling().splitK, false);
      process.env.ICH_WGSL_CONV_SPLIT = 'no';
      assert.throws(() => convTiling(), /ICH_WGSL_CONV_SPLIT expected 0 or 1, got "no"/);
      delete process.env.ICH_WGSL_CONV_SPLIT;
      process.env.ICH_WGSL_CONV_PREFETCH = '1';
      assert.equal(convTiling().prefetch, true);
      process.env.ICH_WGSL_CONV_PREFETCH = 'on';
      assert.throws(() => convTiling(), /ICH_WGSL_CONV_PREFETCH expected 0 or 1, got "on"/);
      delete process.env.ICH_WGSL_CONV_PREFETCH;
      process.env.ICH_WGSL_CONV_ROWS = '6';
      assert.throws(() => convTiling(), /ICH_WGSL_CONV_ROWS expected 4, 8 or auto, got "6"/);
      process.env.ICH_WGSL_CONV_ROWS = '4';
      process.env.ICH_WGSL_CONV_VEC4 = 'yes';
      assert.throws(() => convTiling(), /ICH_WGSL_CONV_VEC4 expected 0 or 1, got "yes"/);
    } finally {
      saved.forEach((v, i) => (v === undefined ? delete process.env[names[i]] : (process.env[names[i]] = v)));
    }
  });

  for (const backend of TEST_BACKENDS.filter((b) => b === 'webgpu+wgsl')) {
    it(`gives the same result when row tiles spill over into the grid's z dimension (${backend})`, async () => {
      await onBackend(backend, async () => {
        const x = tf.tensor(values(2 * 6 * 9 * 10 * 5, 3), [12, 9, 10, 5]);
        const w = tf.tensor(values(135 * 7, 4), [135, 7]);
        const dy = tf.tensor(values(1080 * 7, 5), [12, 9, 10, 7]);
        for (const [pass, a, b] of [['forward', x, w], ['backwardData', dy, w]] as const) {
          const plain = convGemm(pass, shape, a, b);
          const folded = convGemm(pass, shape, a, b, 5);
          assert.equal(relError(await folded.data(), await plain.data()), 0, pass);
          tf.dispose([plain, folded]);
        }
        tf.dispose([x, w, dy]);
      });
    });

    it(`gives the same passes with every tiling: 8 output rows per thread, loads of four channels, prefetched loads (${backend})`, async () => {
      await onBackend(backend, async () => {
        // 36 -> 70 channels: two column tiles, a reduction that is no multiple of the 16-deep step, chunked weights,
        // channels in multiples of 4 on both sides (vector loads in the forward and input-gradient passes).
        const wide = { b: 2, d: 6, h: 9, w: 10, cin: 36, cout: 70, k: 3, s: 1, p: 1 };
        const strided = { b: 1, d: 7, h: 8, w: 9, cin: 8, cout: 12, k: 3, s: 2, p: 1 };
        for (const g of [wide, strided]) {
          const [od, oh, ow] = [g.d, g.h, g.w].map((n) => Math.floor((n + 2 * g.p - g.k) / g.s) + 1);
          const x = tf.tensor(values(g.b * g.d * g.h * g.w * g.cin, 6), [g.b * g.d, g.h, g.w, g.cin]);
          const w = tf.tensor(values(27 * g.cin * g.cout, 7), [27 * g.cin, g.cout]);
          const dy = tf.tensor(values(g.b * od * oh * ow * g.cout, 8), [g.b * od, oh, ow, g.cout]);
          for (const [pass, a, b] of [['forward', x, w], ['backwardData', dy, w], ['backwardWeights', x, dy]] as const) {
            const plain = convGemm(pass, g, a, b, MAX_GRID, { rows: 4, vectorLoads: false, splitK: true, columns: 'auto', prefetch: false });
            const expected = await plain.data();
            plain.dispose();
            const variants: ConvTiling[] = [
              { rows: 8, vectorLoads: false, splitK: true, columns: 'auto', prefetch: false },
              { rows: 4, vectorLoads: true, splitK: true, columns: 'auto', prefetch: false },
              { rows: 8, vectorLoads: true, splitK: true, columns: 'auto', prefetch: false },
              { rows: 4, vectorLoads: false, splitK: false, columns: 'auto', prefetch: false },
              // 70 output channels in three tiles of 32 columns instead of two of 64 (the last one ragged).
              { rows: 8, vectorLoads: true, splitK: true, columns: 32, prefetch: false },
            ];
            for (const tiling of variants) {
              const y = convGemm(pass, g, a, b, MAX_GRID, tiling);
              const got = await y.data();
              y.dispose();
              // Unsplit, the forward pass sums ~1,000 products of values around 10 in one order instead of 7 partial
              // sums: float32 rounding of order 1e-5 (the same tolerance as the wide case against the cpu backend).
              const tol = tiling.splitK ? 1e-5 : 1e-4;
              assert.ok(relError(got, expected) <= tol, `${pass} ${JSON.stringify(tiling)} (Cin ${g.cin})`);
              // Prefetched loads change when values are read, not the order they are added in: the same bits on
              // software Vulkan; a GPU compiler may fuse multiply-adds differently in the two programs (~1e-7), while a
              // wrong index would be off by O(1).
              const prefetched = convGemm(pass, g, a, b, MAX_GRID, { ...tiling, prefetch: true });
              assert.ok(relError(await prefetched.data(), got) <= 1e-6, `${pass} ${JSON.stringify(tiling)} prefetched (Cin ${g.cin})`);
              prefetched.dispose();
            }
          }
          tf.dispose([x, w, dy]);
        }
      });
    });
  }
});
