import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { nativeAddonPath } from '../../src/ops/native-dnnl';
import { tempDir } from '../support/paths';
import { NATIVE_SKIP_REASON } from '../support/tf';

/**
 * A child process that runs the addon's convolutions while signals arrive: the block-4 3x3 weight gradient at
 * 40 x 160 x 160 (2 x 10 x 10, 128 -> 32), which oneDNN 2.6 runs with its JIT GEMM ("x64:gemm:jit" on AVX2), whose
 * kernels point rsp into the heap (oneDNN issue #4845), plus small allocations so that a corrupted heap shows at the
 * next free. `signals`: 'sigint' has a worker thread send the process SIGINT (handled, as in a notebook's interrupt)
 * without pause; 'profiler' relies on --cpu-prof's SIGPROF every 50 us. Prints the implementation, then "ok".
 */
function childScript(signals: 'sigint' | 'profiler', iterations: number): string {
  return `
const { Worker } = require('node:worker_threads');
const lib = require(${JSON.stringify(nativeAddonPath())});
const g = [1, 2, 10, 10, 128, 32, 3, 1, 1];
console.log(lib.implementation('backwardWeights', g));
let stop = null, worker = null;
if (${JSON.stringify(signals)} === 'sigint') {
  process.on('SIGINT', () => {});
  stop = new Int32Array(new SharedArrayBuffer(4));
  worker = new Worker("const { workerData } = require('node:worker_threads'); while (Atomics.load(workerData, 0) === 0) process.kill(process.pid, 'SIGINT');", { eval: true, workerData: stop });
}
const x = new Float32Array(2 * 10 * 10 * 128).fill(0.5), dy = new Float32Array(2 * 10 * 10 * 32).fill(0.25);
const dw = new Float32Array(27 * 128 * 32);
const churn = [];
for (let i = 0; i < ${iterations}; i++) {
  lib.conv3d('backwardWeights', g, x, dy, dw);
  churn.push(new Float32Array(1000 + (i % 7) * 3000));
  if (churn.length > 50) churn.shift();
}
const done = () => console.log('ok');
if (worker) { Atomics.store(stop, 0, 1); worker.terminate().then(done); } else done();
`;
}

describe('native addon: signals during oneDNN calls leave the heap intact', function () {
  this.timeout(180000);
  before(function () {
    if (NATIVE_SKIP_REASON) this.skip();
  });

  // Without the addon's SignalGuard both runs abort within ~300 iterations ("corrupted size vs. prev_size while
  // consolidating", "double free or corruption"): measured 3 of 3 each with Debian's oneDNN 2.6.3 on AVX2.
  for (const signals of ['sigint', 'profiler'] as const) {
    it(`runs 3,000 gemm-based weight gradients while ${signals === 'sigint' ? 'SIGINT is sent without pause' : '--cpu-prof samples every 50 us'}`, () => {
      const dir = tempDir();
      const script = path.join(dir, 'signals.js');
      fs.writeFileSync(script, childScript(signals, 3000));
      const flags = signals === 'profiler' ? ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '50'] : [];
      const r = spawnSync(process.execPath, [...flags, script], { encoding: 'utf8', timeout: 120000 });
      const output = `${r.stdout}${r.stderr}`.trim();
      assert.equal(r.signal, null, `child killed by ${r.signal}: ${output}`);
      assert.equal(r.status, 0, output);
      assert.match(r.stdout, /\nok\n$/, output);
    });
  }
});
