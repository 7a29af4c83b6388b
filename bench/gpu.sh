#!/usr/bin/env bash
# Checks and times the WebGPU route on a machine with an NVIDIA GPU (issue 7). Runs from the repository root, with
# Node and node_modules if present, else with what bench/gpu-pack.sh put in .gpu-carry/ (carry `.gpu-carry` and
# `dist`). Steps: Node and the Vulkan loader; the GPU, driver and adapter; the webgpu correctness tests (ops against
# the cpu backend, saliency and the model against PyTorch fixtures); then DenseNet-121 3D training at the paper input
# on webgpu beside PyTorch fp32 and TF32 on the same GPU, largest batch first. One JSON line per configuration goes
# to stdout and to $OUT/gpu-bench.jsonl (OUT defaults to bench/results/tmp).
#   ICH_GPU_SHAPE (default 40,301,301)  ICH_GPU_BATCHES (default "8 4 2 1")  ICH_GPU_STEPS (default 2)
#   ICH_GPU_TORCH_DEVICE (default cuda)  ICH_TORCH_PYTHON (default python3)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-bench/results/tmp}"
mkdir -p "$OUT"
log() { echo "gpu.sh: $*" >&2; }

# 1. Node and node_modules
if [ -f .gpu-carry/node.xz ]; then
  mkdir -p /tmp/ich-node && xz -dc .gpu-carry/node.xz > /tmp/ich-node/node && chmod +x /tmp/ich-node/node
  export PATH="/tmp/ich-node:$PATH"
fi
command -v node >/dev/null || { log "no node: run bench/gpu-pack.sh where Node is and carry .gpu-carry"; exit 1; }
[ -d node_modules/@tensorflow/tfjs-core ] || tar -xJf .gpu-carry/modules.tar.xz || { log "no node_modules and no .gpu-carry/modules.tar.xz"; exit 1; }
[ -f dist/src/index.js ] || { log "dist/ is missing: build it (npm run build) and carry it"; exit 1; }
log "node $(node --version)"

# 2. Vulkan loader and the NVIDIA driver's ICD
if ! ldconfig -p | grep -q 'libvulkan.so.1'; then
  for f in .gpu-carry/*.deb; do [ -f "$f" ] && dpkg -x "$f" /; done
  ldconfig
fi
if [ -z "${VK_DRIVER_FILES:-}" ]; then
  for f in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$f" ]; then export VK_DRIVER_FILES="$f"; break; fi
  done
fi
gpu="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
log "GPU: ${gpu:-none found}; VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
adapter="$(node -e "const {create}=require('webgpu');create([]).requestAdapter().then(a=>{console.log(a?(a.info.description||a.info.vendor+' '+a.info.architecture):'none');process.exit(0)})" 2>/dev/null)"
log "WebGPU adapter: ${adapter:-none}"
[ -n "$adapter" ] && [ "$adapter" != none ] || { log "no WebGPU adapter"; exit 1; }

# 3. Correctness on webgpu (the compute core's tests, narrowed to cpu + webgpu)
ICH_TEST_BACKENDS=cpu,webgpu node node_modules/mocha/bin/mocha.js --no-config --timeout 600000 --reporter dot \
  dist/test/ops/ops.test.js dist/test/models/models.test.js dist/test/explain/saliency.test.js 2>&1 | tail -15 | tee "$OUT/gpu-tests.txt" >&2
tests=${PIPESTATUS[0]}
log "webgpu tests: exit $tests"

# 4. Speed: webgpu beside PyTorch fp32 and TF32 on the same GPU, largest batch that fits first
shape="${ICH_GPU_SHAPE:-40,301,301}"
export ICH_TORCH_PYTHON="${ICH_TORCH_PYTHON:-python3}"
for batch in ${ICH_GPU_BATCHES:-8 4 2 1}; do
  if ICH_BACKEND=webgpu node bin/ich.js bench train --shape "$shape" --batch "$batch" --steps "${ICH_GPU_STEPS:-2}" \
      --torch-device "${ICH_GPU_TORCH_DEVICE:-cuda}" --torch-precisions fp32,tf32 --json > "$OUT/gpu-bench.part" 2> "$OUT/gpu-bench.err"; then
    sed "s/}\$/,\"gpu\":\"${gpu//\//_}\",\"webgpuTests\":$tests}/" "$OUT/gpu-bench.part" | tee -a "$OUT/gpu-bench.jsonl"
    exit "$tests"
  fi
  log "batch $batch failed: $(grep -v '^Warning' "$OUT/gpu-bench.err" | tail -1)"
done
exit 1
