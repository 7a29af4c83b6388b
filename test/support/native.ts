import { strict as assert } from 'node:assert';
import { loadNativeDnnl, NativeDnnl } from '../../src/ops/native-dnnl';

/**
 * The addon with its batch-norm forward pass counted: which path a fused BN-ReLU-conv took shows in the number of
 * passes (a recomputation adds one per layer in the backward pass). Call only where the addon loads.
 */
export function countingBatchNorm(): { lib: NativeDnnl; passes: { count: number } } {
  const r = loadNativeDnnl();
  assert.ok(r.ok, 'the native addon loads');
  const passes = { count: 0 };
  // The addon's functions are not enumerable: the wrapper inherits them.
  const lib = Object.create(r.lib, {
    batchNormForward: { value: (...args: Parameters<NativeDnnl['batchNormForward']>) => (passes.count++, r.lib.batchNormForward(...args)) },
  }) as NativeDnnl;
  return { lib, passes };
}
