import { registerAdamKernels } from './adamw';
import { registerBatchNormKernels } from './batchnorm';
import { registerConvGemmKernels } from './conv3d-gemm';
import { registerMaxPoolKernels } from './maxpool';

let active = false;

/**
 * Switches the project's own WebGPU kernels (WGSL: implicit-GEMM conv3d passes, max pooling, fused batch norm + ReLU,
 * fused AdamW) on or off for the ops in src/ops and the optimizer; off, they use their TensorFlow.js formulation
 * (27 shifted matMuls per 3x3x3 convolution and their gradients, ~12 ops per batch norm, ~17 per AdamW parameter).
 * Called by backend.ts only, and only with the webgpu backend active. Returns a description for the backend report.
 */
export function useWebGpuKernels(on: boolean): string | null {
  if (on) {
    registerConvGemmKernels();
    registerBatchNormKernels();
    registerAdamKernels();
    registerMaxPoolKernels();
  }
  active = on;
  return on ? 'WGSL kernels: implicit-GEMM conv3d, max pooling, fused batch norm + ReLU, fused AdamW' : null;
}

/** Whether the ops use the project's WebGPU kernels now. */
export function webGpuKernelsActive(): boolean {
  return active;
}
