import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROFILES } from '../../src/config/profiles';
import { DENSENET121 } from '../../src/models/densenet-config';
import { defaultFoldWorkers, foldMemoryEstimate, savedActivationBytes } from '../../src/train/memory';

const GIB = 2 ** 30;
const paper = PROFILES.paper;

/** A committed training benchmark's peak RSS in bytes (bench/results). */
function measuredPeak(file: string): number {
  const root = path.resolve(__dirname, '..', '..', '..');
  return (JSON.parse(fs.readFileSync(path.join(root, 'bench', 'results', file), 'utf8')) as { peakRssMiB: number }).peakRssMiB * 2 ** 20;
}

describe('train/memory: how many folds fit at once', () => {
  it('counts the saved activations of DenseNet-121 at the paper input, and scales with the input', () => {
    // Block 1 at 10 x 76 x 76 dominates: 6 layers keep 3,456 channel maps there (by hand: 1.46 GiB per volume with
    // the stem and the later blocks).
    const bytes = savedActivationBytes(DENSENET121, [40, 301, 301]);
    assert.ok(Math.abs(bytes / GIB - 1.4616) < 1e-3, `${bytes / GIB} GiB`);
    // Twice the depth: twice the activations, give or take the stem's and pools' rounding.
    const deeper = savedActivationBytes(DENSENET121, [80, 301, 301]);
    assert.ok(Math.abs(deeper / bytes - 2) < 0.05, `ratio ${deeper / bytes}`);
    assert.ok(savedActivationBytes(PROFILES.cpu.densenet, PROFILES.cpu.inputSize) < 0.02 * GIB);
  });

  it('estimates a fold of the paper profile within 5 % of its measured peak (cpu backend, batch 8) and batch 1 within 15 %', () => {
    const b8 = measuredPeak('train-2026-11-28-cpu2-cpu-onednn-release-saved-paper-b8.json');
    assert.ok(Math.abs(foldMemoryEstimate(paper) / b8 - 1) < 0.05, `${foldMemoryEstimate(paper) / GIB} vs ${b8 / GIB} GiB`);
    const b1 = measuredPeak('train-2026-11-28-cpu2-wasm-onednn-release-saved-paper-b1.json');
    const one = foldMemoryEstimate({ ...paper, batchSize: 1 });
    assert.ok(Math.abs(one / b1 - 1) < 0.15, `${one / GIB} vs ${b1 / GIB} GiB`);
  });

  it('trains two folds at once on two cores where memory allows, fewer where it does not, and says why', () => {
    assert.deepEqual(defaultFoldWorkers(PROFILES.cpu, 'wasm', 24 * GIB, 2), { workers: 2, note: null });
    assert.deepEqual(defaultFoldWorkers(PROFILES.quick, 'cpu', 24 * GIB, 16), { workers: 2, note: null });
    assert.deepEqual(defaultFoldWorkers(PROFILES.cpu, 'cpu', 24 * GIB, 1), { workers: 1, note: null });
    assert.deepEqual(defaultFoldWorkers(paper, 'cpu', 64 * GIB, 2), { workers: 2, note: null });
    const short = defaultFoldWorkers(paper, 'cpu', 24 * GIB, 2);
    assert.equal(short.workers, 1);
    assert.match(short.note ?? '', /paper profile \(batch 8 at 40x301x301\) needs about 16\.7 GiB; this machine's 24\.0 GiB holds 1 at a time/);
    const tiny = defaultFoldWorkers(paper, 'cpu', 8 * GIB, 2);
    assert.equal(tiny.workers, 1);
    assert.match(tiny.note ?? '', /more than this machine's 8\.0 GiB: it may run out of memory/);
    assert.match(defaultFoldWorkers(paper, 'wasm', 64 * GIB, 2).note ?? '', /more than the wasm backend's 4 GiB heap: training will stop at its first step; ICH_BACKEND=cpu/);
    assert.deepEqual(defaultFoldWorkers(paper, 'webgpu', 8 * GIB, 2), { workers: 1, note: null });
  });
});
