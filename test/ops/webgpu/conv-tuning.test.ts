import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../../src/backend';
import { conv3d } from '../../../src/ops/conv3d';
import { convGemm } from '../../../src/ops/webgpu/conv3d-gemm';
import {
  CONV_TUNING_FORMAT,
  convTuningInUse,
  convTuningKey,
  ConvTuningTable,
  readConvTuning,
  recordConvPasses,
  tunedConvTiling,
  useConvTuning,
  writeConvTuning,
} from '../../../src/ops/webgpu/conv-tuning';
import { onBackend, relError, TEST_BACKENDS, values } from '../../support/tf';

describe('ops/webgpu: conv tiling tuned per pass and shape (ICH_WGSL_CONV_TUNING)', () => {
  const stem = { b: 4, d: 40, h: 301, w: 301, cin: 1, cout: 64, k: 7, s: 2, p: 3 };
  const table = (entries: ConvTuningTable['entries']): ConvTuningTable => ({
    format: CONV_TUNING_FORMAT,
    adapter: 'test adapter',
    created: '2026-11-28T00:00:00.000Z',
    input: { shape: [40, 301, 301], batch: 4 },
    entries,
  });
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ich-tuning-'));
  });
  after(() => {
    useConvTuning(null);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keys a pass by every size that shapes its program and grid', () => {
    assert.equal(convTuningKey('forward', stem), 'forward b4 40x301x301x1 -> 64 k7 s2 p3');
    assert.notEqual(convTuningKey('forward', stem), convTuningKey('forward', { ...stem, b: 2 }));
    assert.notEqual(convTuningKey('forward', stem), convTuningKey('backwardWeights', stem));
  });

  it('round-trips a table through its file and looks tilings up only while it is in use', () => {
    const file = path.join(dir, 'nested', 'tuning.json');
    const t = table({
      [convTuningKey('forward', stem)]: { rows: 4, vectorLoads: false, splitK: false, columns: 64, prefetch: true, ms: 1.5, defaultMs: 2 },
      // Written before the prefetch knob existed: no prefetching.
      [convTuningKey('backwardWeights', stem)]: { rows: 8, vectorLoads: false, splitK: true, columns: 64, ms: 3, defaultMs: 3 },
    });
    writeConvTuning(file, t);
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['tuning.json'], 'no temporary file left behind');
    const read = readConvTuning(file);
    assert.deepEqual(read, t);
    assert.equal(tunedConvTiling('forward', stem), undefined);
    useConvTuning(read, file);
    assert.deepEqual(tunedConvTiling('forward', stem), { rows: 4, vectorLoads: false, splitK: false, columns: 64, prefetch: true });
    assert.equal(tunedConvTiling('forward', { ...stem, b: 2 }), undefined, 'another batch is another shape');
    assert.deepEqual(tunedConvTiling('backwardWeights', stem), { rows: 8, vectorLoads: false, splitK: true, columns: 64, prefetch: false });
    assert.equal(tunedConvTiling('backwardData', stem), undefined);
    assert.deepEqual(convTuningInUse(), { source: file, passes: 2 });
    useConvTuning(null);
    assert.equal(tunedConvTiling('forward', stem), undefined);
    assert.equal(convTuningInUse(), null);
  });

  it('refuses a missing or malformed file, naming it and the entry', () => {
    const file = path.join(dir, 'bad.json');
    assert.throws(() => readConvTuning(path.join(dir, 'none.json')), /conv tuning file expected to be readable \(written by "ich bench tune --out FILE"\), got ENOENT \(.*none\.json\)/);
    fs.writeFileSync(file, '{"format":');
    assert.throws(() => readConvTuning(file), /conv tuning file expected JSON, got .* \(.*bad\.json\)/);
    fs.writeFileSync(file, JSON.stringify({ ...table({}), format: 'other/1' }));
    assert.throws(() => readConvTuning(file), /conv tuning file expected format "ich-conv-tuning\/1", got "other\/1"/);
    fs.writeFileSync(file, JSON.stringify({ ...table({}), entries: null }));
    assert.throws(() => readConvTuning(file), /expected an "entries" object, got null/);
    const key = convTuningKey('forward', stem);
    fs.writeFileSync(file, JSON.stringify(table({ [key]: { rows: 6, vectorLoads: true, splitK: true, ms: 1, defaultMs: 1 } as never })));
    assert.throws(() => readConvTuning(file), /conv tuning rows expected 4 or 8, got 6 \(entry "forward b4 40x301x301x1 -> 64 k7 s2 p3" of .*bad\.json\)/);
    fs.writeFileSync(file, JSON.stringify(table({ [key]: { rows: 8, vectorLoads: true, splitK: true, ms: 1, defaultMs: 1 } as never })));
    assert.throws(() => readConvTuning(file), /conv tuning columns expected 32 or 64, got null \(entry "forward b4/);
    fs.writeFileSync(file, JSON.stringify(table({ [key]: { rows: 8, vectorLoads: 'yes', splitK: true, columns: 64, ms: 1, defaultMs: 1 } as never })));
    assert.throws(() => readConvTuning(file), /conv tuning vectorLoads expected true or false, got "yes"/);
    fs.writeFileSync(file, JSON.stringify(table({ [key]: { rows: 8, vectorLoads: true, splitK: true, columns: 64, prefetch: 1, ms: 1, defaultMs: 1 } as never })));
    assert.throws(() => readConvTuning(file), /conv tuning prefetch expected true, false or absent, got 1 \(entry "forward b4/);
    fs.writeFileSync(file, JSON.stringify(table({ 'forward 4x40': { rows: 8, vectorLoads: true, splitK: true, columns: 64, ms: 1, defaultMs: 1 } })));
    assert.throws(() => readConvTuning(file), /conv tuning key expected "<pass> b<B> .*", got "forward 4x40"/);
  });

  it('refuses a table for ICH_WGSL_CONV_TUNING that is not there, and names the file', async function () {
    if (!TEST_BACKENDS.includes('webgpu+wgsl')) this.skip();
    const saved = process.env.ICH_WGSL_CONV_TUNING;
    try {
      process.env.ICH_WGSL_CONV_TUNING = path.join(dir, 'missing.json');
      await assert.rejects(initBackend('webgpu'), /conv tuning file expected to be readable .*missing\.json/);
      const file = path.join(dir, 'other-adapter.json');
      writeConvTuning(file, table({ [convTuningKey('forward', stem)]: { rows: 4, vectorLoads: true, splitK: true, columns: 32, ms: 1, defaultMs: 1 } }));
      process.env.ICH_WGSL_CONV_TUNING = file;
      const r = await initBackend('webgpu');
      assert.match(r.native ?? '', /; conv tiling tuned for 1 passes \(.*other-adapter\.json\)$/);
      assert.ok(r.warnings.some((w) => /measured on "test adapter", not on "@tensorflow\/tfjs-backend-webgpu on .*": its tilings are correct/.test(w)), r.warnings.join('\n'));
      assert.deepEqual(tunedConvTiling('forward', stem), { rows: 4, vectorLoads: true, splitK: true, columns: 32, prefetch: false });
      // Without the WGSL kernels the table has nothing to tune.
      await initBackend('webgpu', { native: false });
      assert.equal(convTuningInUse(), null);
    } finally {
      if (saved === undefined) delete process.env.ICH_WGSL_CONV_TUNING;
      else process.env.ICH_WGSL_CONV_TUNING = saved;
      await initBackend('cpu');
    }
  });

  for (const backend of TEST_BACKENDS.filter((b) => b === 'webgpu+wgsl')) {
    it(`records the passes a step runs, and runs a pass with the table's tiling (${backend})`, async () => {
      await onBackend(backend, async () => {
        const g = { b: 1, d: 4, h: 5, w: 6, cin: 8, cout: 12, k: 3, s: 1, p: 1 };
        const x = tf.tensor(values(g.d * g.h * g.w * g.cin, 1), [g.d, g.h, g.w, g.cin]) as tf.Tensor4D;
        const w = tf.tensor(values(27 * g.cin * g.cout, 2), [27 * g.cin, g.cout]) as tf.Tensor2D;
        const geometry = { kernel: 3, stride: 1 as const, padding: 1 };
        const passes = await recordConvPasses(async () => {
          const grads = tf.grads((xs: tf.Tensor, ws: tf.Tensor) => tf.sum(conv3d({ x: xs as tf.Tensor4D, batch: 1, depth: g.d }, ws as tf.Tensor2D, geometry).x))([x, w]);
          await Promise.all(grads.map((t) => t.data()));
          tf.dispose(grads);
          tf.dispose(conv3d({ x, batch: 1, depth: g.d }, w, geometry).x);
        });
        assert.deepEqual(
          passes.map((p) => [p.pass, p.count]),
          [['forward', 2], ['backwardData', 1], ['backwardWeights', 1]],
        );
        assert.deepEqual(passes[0].shape, g);
        await assert.rejects(recordConvPasses(() => recordConvPasses(async () => undefined).then(() => undefined)), /expected no recording in progress/);

        // The table's tiling is the one that runs: its shader key says 8 rows and scalar loads, and the result is the
        // default's (one rounding order: the 8-row tile only regroups rows).
        const backendImpl = tf.backend() as unknown as { runWebGPUProgram: (p: { shaderKey: string }, ...rest: unknown[]) => unknown };
        const original = backendImpl.runWebGPUProgram;
        const keys: string[] = [];
        backendImpl.runWebGPUProgram = function (this: unknown, p, ...rest) {
          keys.push(p.shaderKey);
          return original.call(this, p, ...rest);
        };
        try {
          const plain = convGemm('forward', g, x, w);
          useConvTuning(table({ [convTuningKey('forward', g)]: { rows: 8, vectorLoads: false, splitK: false, columns: 32, prefetch: true, ms: 1, defaultMs: 1 } }));
          const tuned = convGemm('forward', g, x, w);
          assert.match(keys[0], /^ichConvForward_k3s1p1_tn32_r4_v4$/);
          assert.match(keys[1], /^ichConvForward_k3s1p1_tn32_r8_v1_pf$/);
          assert.ok(relError(await tuned.data(), await plain.data()) <= 1e-6);
          tf.dispose([plain, tuned]);
        } finally {
          backendImpl.runWebGPUProgram = original;
          useConvTuning(null);
        }
        tf.dispose([x, w]);
      });
    });
  }
});
