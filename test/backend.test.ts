import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { assertDeviceHealthy, backendReport, describeBackend, explainBackendError, initBackend, keepFreedMemory, keepsFreedMemory } from '../src/backend';
import { WEBGPU } from './support/tf';

describe('backend: the one place that chooses a TensorFlow.js backend', () => {
  after(async () => {
    await initBackend('wasm');
  });

  it('starts a named backend and reports it', async () => {
    const r = await initBackend('cpu');
    assert.equal(r.backend, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
    assert.equal(r.gpu, false);
    assert.equal(r.tfjsVersion, '4.22.0');
    assert.deepEqual(backendReport(), r);
    assert.match(describeBackend(r), /TensorFlow\.js 4\.22\.0 on cpu/);
  });

  it('chooses automatically: tfjs-node-gpu, tfjs-node, then wasm, saying why each was passed over', async () => {
    const r = await initBackend('');
    assert.equal(r.requested, 'auto');
    if (r.backend === 'wasm') assert.ok(r.skipped.some((s) => /^tensorflow: .*not installed/.test(s)), r.skipped.join('; '));
    assert.ok(['tensorflow', 'wasm'].includes(r.backend));
  });

  it('passes over wasm when training would not fit its heap, and only when choosing automatically', async () => {
    const big = await initBackend('', { memoryNeeded: 13.7 * 2 ** 30 });
    assert.ok(['tensorflow', 'cpu'].includes(big.backend), big.backend);
    if (big.backend === 'cpu') assert.ok(big.skipped.includes('wasm: training needs at least ~13.7 GiB, more than its 4 GiB heap holds'), big.skipped.join('; '));
    const small = await initBackend('', { memoryNeeded: 2.5 * 2 ** 30 });
    assert.ok(['tensorflow', 'wasm'].includes(small.backend), small.backend);
    assert.ok(!small.skipped.some((s) => s.startsWith('wasm')));
    assert.equal((await initBackend('wasm', { memoryNeeded: 13.7 * 2 ** 30 })).backend, 'wasm', 'a named backend is kept');
  });

  it('reports the native kernels it uses with the CPU backends, and why not when it does not', async () => {
    const off = await initBackend('wasm', { native: false });
    assert.equal(off.native, null);
    assert.match(off.nativeSkipped ?? '', /disabled/);
    const on = await initBackend('wasm', { threads: 1 });
    if (on.native) {
      assert.match(on.native, /^oneDNN \d+\.\d+\.\d+ conv3d \+ native pooling, batch norm, concatenation and AdamW, 1 thread$/);
      assert.match(describeBackend(on), /; oneDNN/);
      // The cpu backend's tensors are malloc'd arrays: it also adds and keeps freed memory for reuse (wasm has its heap).
      const cpu = await initBackend('cpu', { threads: 2 });
      assert.match(cpu.native ?? '', /^oneDNN \d+\.\d+\.\d+ conv3d \+ native pooling, batch norm, concatenation, addition and AdamW, 2 threads; freed memory kept for reuse$/);
      assert.equal(keepsFreedMemory(), true);
      // Off when asked (the fold plan, when a fold fits only so), and whenever another backend or no addon takes over.
      assert.equal(keepFreedMemory(false), false);
      assert.equal(keepFreedMemory(true), true);
      assert.doesNotMatch((await initBackend('cpu', { keepFreedMemory: false })).native ?? '', /freed memory/);
      assert.equal(keepsFreedMemory(), false);
      await initBackend('cpu');
      assert.equal(keepsFreedMemory(), true);
      await initBackend('cpu', { native: false });
      assert.equal(keepsFreedMemory(), false);
      assert.equal(keepFreedMemory(true), false, 'not without the native kernels');
      await initBackend('cpu');
      await initBackend('wasm');
      assert.equal(keepsFreedMemory(), false);
      assert.equal(keepFreedMemory(true), false, 'not on wasm');
    } else {
      assert.match(on.nativeSkipped ?? '', /not built|failed to load|ICH_NATIVE/);
    }
  });

  it('starts webgpu on the adapter it finds, says which, and warns when it is software', async function () {
    if (!WEBGPU.ok) this.skip(); // no adapter: scripts/setup-webgpu.sh installs software Vulkan
    const r = await initBackend('webgpu');
    assert.equal(r.backend, 'webgpu');
    assert.match(r.native ?? '', /^WGSL kernels: implicit-GEMM conv3d/, 'the oneDNN kernels stay with the CPU backends; webgpu has its own');
    assert.equal((await initBackend('webgpu', { native: false })).native, null);
    assert.match(r.package, /^@tensorflow\/tfjs-backend-webgpu on /);
    if (/llvmpipe/.test(r.package)) {
      assert.equal(r.gpu, false);
      assert.ok(r.warnings.some((w) => /software adapter/.test(w)));
    }
  });

  it('turns the errors Dawn reports on the side (a tensor over the binding limit) into one that names the step', async function () {
    if (!WEBGPU.ok) this.skip();
    await initBackend('webgpu');
    const limit = (tf.backend() as unknown as { device: { limits: { maxStorageBufferBindingSize: number } } }).device.limits.maxStorageBufferBindingSize;
    // Software Vulkan allows 128 MiB per binding; a GPU's few GiB would make this test allocate too much.
    if (limit > 512 * 2 ** 20) this.skip();
    try {
      assert.doesNotThrow(() => assertDeviceHealthy('before'));
      const x = tf.fill([limit / 4 + 1024], 1);
      const y = tf.add(x, 1);
      // Dawn skips the add: no exception, and the result is not x + 1.
      const tail = await tf.slice(y, [limit / 4], [3]).data();
      assert.notDeepEqual(Array.from(tail), [2, 2, 2]);
      tf.dispose([x, y]);
      assert.throws(() => assertDeviceHealthy('the test step'), /WebGPU device expected no errors, got \d+ \(Binding size \(\d+\) .* is larger than the maximum storage buffer binding size \(\d+\).*\) \(the test step\); its results are invalid/);
      // Reported once: a smaller retry in the same process starts clean.
      assert.doesNotThrow(() => assertDeviceHealthy('after'));
      assert.deepEqual(Array.from(await tf.add(tf.ones([3]), 1).data()), [2, 2, 2]);
    } finally {
      await initBackend('cpu');
    }
  });

  it("uses the backend's rank-5 kernels only where they are correct: tensorflow by default, cpu when asked", async () => {
    const r = await initBackend('cpu', { tfKernels: true });
    assert.equal(r.native, "the backend's rank-5 conv3d and pooling kernels");
    await assert.rejects(initBackend('wasm', { tfKernels: true }), /tfKernels expected the tensorflow or cpu backend, got wasm \(its rank-5 conv3d is wrong or does not compile\)/);
  });

  it("explains the wasm heap running out instead of passing on an opaque 'Aborted()'", () => {
    const e = explainBackendError(new Error('Aborted(). Build with -sASSERTIONS for more info.'), 'wasm');
    assert.match(e.message, /wasm backend expected to fit its heap \(wasm32: at most 4 GiB\), got "Aborted\(\)\. .*ICH_BACKEND=cpu/);
    const other = new Error('fold expected an integer');
    assert.equal(explainBackendError(other, 'wasm'), other);
    assert.equal(explainBackendError(new Error('Aborted()'), 'cpu').message, 'Aborted()');
  });

  it('refuses an unknown name and explains a backend that cannot start', async () => {
    await assert.rejects(initBackend('tpu'), /ICH_BACKEND expected one of tensorflow, webgpu, wasm, cpu, got "tpu"/);
    let tfjsNode = true;
    try {
      require.resolve('@tensorflow/tfjs-node');
    } catch {
      tfjsNode = false;
    }
    if (!tfjsNode) await assert.rejects(initBackend('tensorflow'), /backend tensorflow expected @tensorflow\/tfjs-node-gpu or @tensorflow\/tfjs-node, got: .*not installed/);
  });
});
