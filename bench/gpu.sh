#!/usr/bin/env bash
# Checks and times the WebGPU route on a machine with an NVIDIA GPU (issue 7). Runs from the repository root, with
# Node and node_modules if present, else with what bench/gpu-pack.sh put in .gpu-carry/ (carry `.gpu-carry` and
# `dist`). Steps: Node and the Vulkan loader; the GPU, driver and adapter; the webgpu correctness tests (ops against
# the cpu backend, saliency and the model against PyTorch fixtures, with the tfjs formulation and with the project's
# WGSL kernels); DenseNet-121 3D training at the paper input on webgpu (WGSL kernels) beside PyTorch fp32 and TF32 on
# the same GPU, largest batch first; the same at a smaller input with the tfjs formulation (ICH_NATIVE=0) and with
# the kernels, for the gain; a timed kernel profile of one step; last, each convolution shape against PyTorch
# ($OUT/gpu-conv.jsonl). Between the first paper-input run and the smaller input, the conv tiling is tuned on the GPU
# ($OUT/conv-tuning.json, per-pass times in gpu-tune.jsonl) and the paper input timed again with it. One JSON line per
# training configuration goes to stdout and to $OUT/gpu-bench.jsonl (OUT defaults to bench/results/tmp); the profile
# to $OUT/gpu-profile.json.
#   ICH_GPU_SHAPE (default 40,301,301)  ICH_GPU_BATCHES (default "8 4 2 1")  ICH_GPU_STEPS (default 2)
#   ICH_GPU_TRAIN_CAP (seconds per training benchmark, default 300)
#   ICH_GPU_SMALL_SHAPE (default 40,128,128, batch 2)  ICH_GPU_TORCH_DEVICE (default cuda)
#   ICH_TORCH_PYTHON (default python3)  ICH_GPU_TUNE_CAP (seconds, default 180)
#   ICH_GPU_VARIANTS=1 (the conv bench also with each fixed tiling)  ICH_GPU_BUDGET (seconds for the whole run, 570)
set -uo pipefail
# Budget: the device tool allows 600 s per command. Each step has a cap (the tests 240 s, each training benchmark
# 300 s, the tuning and the profile 180 s, the conv bench 150 s), cut to what is left of ICH_GPU_BUDGET; a step with
# under 30 s left is skipped, so the run ends with its summary before the tool's limit. The least needed steps come
# last; the tuning leaves time for the tuned training run after it. What $OUT holds when the call ends comes back.
BUDGET="${ICH_GPU_BUDGET:-570}"
capped() { # seconds a step wants [seconds to keep for later steps] -> what the budget still allows, 0 when under 30 s
  # (skip: `timeout 0` never stops)
  local want="$1" left=$((BUDGET - SECONDS - 15 - ${2:-0}))
  [ "$left" -lt "$want" ] && want="$left"
  [ "$want" -lt 30 ] && want=0
  echo "$want"
}
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"   # ldconfig, for a PATH without the sbin directories
OUT="${OUT:-bench/results/tmp}"
mkdir -p "$OUT"
log() { echo "gpu.sh [${SECONDS} s]: $*" >&2; }

# 1. Node and node_modules
if [ -f .gpu-carry/node.xz ]; then
  mkdir -p /tmp/ich-node && xz -dc .gpu-carry/node.xz > /tmp/ich-node/node && chmod +x /tmp/ich-node/node
  export PATH="/tmp/ich-node:$PATH"
fi
command -v node >/dev/null || { log "no node: run bench/gpu-pack.sh where Node is and carry .gpu-carry"; exit 1; }
[ -d node_modules/@tensorflow/tfjs-core ] || tar -xJf .gpu-carry/modules.tar.xz || { log "no node_modules and no .gpu-carry/modules.tar.xz"; exit 1; }
[ -f dist/src/index.js ] || { log "dist/ is missing: build it (npm run build) and carry it"; exit 1; }
log "node $(node --version)"

# 2. Vulkan loader, the GL dispatch libraries the NVIDIA ICD links against, and the driver's ICD
if ! ldconfig -p | grep -q 'libvulkan.so.1' || ! ldconfig -p | grep -q 'libGLdispatch.so.0'; then
  for f in .gpu-carry/*.deb; do [ -f "$f" ] && dpkg -x "$f" /; done
  ldconfig
fi
if [ -z "${VK_DRIVER_FILES:-}" ]; then
  for f in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$f" ]; then export VK_DRIVER_FILES="$f"; break; fi
  done
fi
egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
[ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ] && [ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES="$egl"
gpu="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
log "GPU: ${gpu:-none found}; VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
# One probe: the adapter's name on the first line, its limits on the second (the per-binding limit decides the
# largest batch at the paper input: the stem's output is 3.7 GB at batch 8).
probe="$(node -e "const {create}=require('webgpu');create([]).requestAdapter().then(a=>{if(!a){console.log('none');process.exit(0)}const l=a.limits;console.log(a.info.description||a.info.vendor+' '+a.info.architecture);console.log(JSON.stringify({maxStorageBufferBindingSize:l.maxStorageBufferBindingSize,maxBufferSize:l.maxBufferSize,maxComputeWorkgroupStorageSize:l.maxComputeWorkgroupStorageSize,maxComputeInvocationsPerWorkgroup:l.maxComputeInvocationsPerWorkgroup}));process.exit(0)})" 2>/dev/null)"
adapter="$(head -1 <<< "$probe")"
log "WebGPU adapter: ${adapter:-none}"
[ -n "$adapter" ] && [ "$adapter" != none ] || { log "no WebGPU adapter"; exit 1; }
log "WebGPU limits: $(sed -n 2p <<< "$probe")"

# 3. Correctness on webgpu (the compute core's tests, narrowed to cpu, webgpu and webgpu+wgsl; ~50 s on software Vulkan)
ICH_TEST_BACKENDS=cpu,webgpu,webgpu+wgsl timeout "$(capped 240)" node node_modules/mocha/bin/mocha.js --no-config --timeout 600000 --reporter dot \
  dist/test/ops/ops.test.js dist/test/ops/webgpu/*.test.js dist/test/models/models.test.js dist/test/train/optim.test.js \
  dist/test/explain/saliency.test.js 2>&1 | tail -15 | tee "$OUT/gpu-tests.txt" >&2
tests=${PIPESTATUS[0]}
log "webgpu tests: exit $tests$([ "$tests" = 124 ] && echo " (ran past the cap)")"

# 4. Speed: webgpu beside PyTorch fp32 and TF32 on the same GPU, largest batch that fits first
export ICH_TORCH_PYTHON="${ICH_TORCH_PYTHON:-python3}"
bench_s=0
bench() { # shape batch precisions [env...]: one `ich bench train` run, JSON lines tagged with the GPU; fails when it
  # fails, 125 when the budget has no room for it; bench_s: how long it took
  local shape="$1" batch="$2" precisions="$3"; shift 3
  local rc=0 cap start=$SECONDS
  cap="$(capped "${ICH_GPU_TRAIN_CAP:-300}")"
  if [ "$cap" = 0 ]; then log "$shape batch $batch ($*) skipped: the budget is spent"; return 125; fi
  timeout "$cap" env "$@" ICH_BACKEND=webgpu node bin/ich.js bench train --shape "$shape" --batch "$batch" --steps "${ICH_GPU_STEPS:-2}" \
      --torch-device "${ICH_GPU_TORCH_DEVICE:-cuda}" --torch-precisions "$precisions" --json > "$OUT/gpu-bench.part" 2> "$OUT/gpu-bench.err" || rc=$?
  bench_s=$((SECONDS - start))
  if [ "$rc" = 0 ]; then
    sed "s/}\$/,\"gpu\":\"${gpu//\//_}\",\"webgpuTests\":$tests}/" "$OUT/gpu-bench.part" | tee -a "$OUT/gpu-bench.jsonl"
    return 0
  fi
  [ "$rc" = 124 ] && log "$shape batch $batch ($*) ran past $cap s" \
    || log "$shape batch $batch ($*) failed: $(grep -v '^Warning' "$OUT/gpu-bench.err" | tail -1)"
  return "$rc"
}
status=1
fitted=""
# GPU memory in use every half second while the benchmarks run (PyTorch's peak at b8 is 12.5 GiB: performance.md)
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=timestamp,memory.used --format=csv,noheader -lms 500 > "$OUT/gpu-memory.csv" 2>/dev/null &
  smi=$!
  trap 'kill $smi 2>/dev/null' EXIT
fi
# A run past its cap is not retried smaller (a smaller batch is no faster per volume; the other steps need the time).
for batch in ${ICH_GPU_BATCHES:-8 4 2 1}; do
  rc=0
  bench "${ICH_GPU_SHAPE:-40,301,301}" "$batch" fp32,tf32 ICH_NATIVE=1 || rc=$?
  if [ "$rc" = 0 ]; then status=$tests; fitted=$batch; paper_s=$bench_s; break; fi
  { [ "$rc" = 124 ] || [ "$rc" = 125 ]; } && break
done
[ -s "$OUT/gpu-memory.csv" ] && log "GPU memory in use, most seen so far: $(cut -d, -f2 "$OUT/gpu-memory.csv" | sort -n | tail -1)"

# 5. The conv tiling tuned on this GPU (ich bench tune: every tiling of every convolution pass of one training step
# at the fitted batch, the fastest kept per pass; $OUT/conv-tuning.json, written after each pass so a stopped run
# leaves a usable part), then the paper-input training timed again with it beside PyTorch fp32: the tuned ratio.
tuning=""
if [ -n "$fitted" ]; then
  # The tuning stops in time for the tuned training run after it (as long as the first one took, at least the 30 s
  # a step needs, and 10 s for the tuning to stop).
  tune_cap="$(capped "${ICH_GPU_TUNE_CAP:-180}" $(( (paper_s > 30 ? paper_s : 30) + 10 )))"
fi
if [ -n "$fitted" ] && [ "$tune_cap" = 0 ]; then log "tuning skipped: the budget is spent"; fi
if [ -n "$fitted" ] && [ "$tune_cap" != 0 ]; then
  rc=0
  timeout "$tune_cap" env ICH_BACKEND=webgpu node bin/ich.js bench tune --shape "${ICH_GPU_SHAPE:-40,301,301}" --batch "$fitted" --trials 2 \
    --out "$OUT/conv-tuning.json" --json > "$OUT/gpu-tune.jsonl" 2> "$OUT/gpu-tune.err" || rc=$?
  # Passes are tuned largest first, so a tuning cut by the cap has covered most of the step's work.
  if [ "$rc" = 0 ]; then log "tune: $(tail -1 "$OUT/gpu-tune.jsonl" | head -c 400)"
  elif [ "$rc" = 124 ]; then log "tune ran past $tune_cap s: $(($(wc -l < "$OUT/gpu-tune.jsonl"))) passes tuned, largest first"
  else log "tune failed: $(grep -v '^Warning' "$OUT/gpu-tune.err" | tail -1); $(($(wc -l < "$OUT/gpu-tune.jsonl"))) passes tuned"
  fi
  if [ -s "$OUT/conv-tuning.json" ]; then
    tuning="$OUT/conv-tuning.json"
    bench "${ICH_GPU_SHAPE:-40,301,301}" "$fitted" fp32 ICH_NATIVE=1 ICH_WGSL_CONV_TUNING="$tuning" || true
  fi
fi

# 6. The gain of the WGSL kernels over the tfjs formulation at a smaller input (performance.md: 7,621 ms per step)
small="${ICH_GPU_SMALL_SHAPE:-40,128,128}"
bench "$small" 2 fp32 ICH_NATIVE=1 || true
ICH_GPU_STEPS=1 bench "$small" 2 fp32 ICH_NATIVE=0 || true

# 7. Where the time goes: kernel times (timestamp queries) of one step at the smaller input
cap="$(capped 180)"
if [ "$cap" = 0 ]; then
  log "profile skipped: the budget is spent"
elif timeout "$cap" env ICH_BACKEND=webgpu node bin/ich.js bench profile --shape "$small" --batch 2 --timed --json > "$OUT/gpu-profile.json" 2> "$OUT/gpu-profile.err"; then
  log "profile: $(head -c 300 "$OUT/gpu-profile.json")"
else
  log "profile failed: $(grep -v '^Warning' "$OUT/gpu-profile.err" | tail -1)"
fi

# 8. Each convolution shape of the network at that input and batch against PyTorch fp32 (which layers lag), with the
# tuned tiling when there is one ($OUT/gpu-conv.jsonl). ICH_GPU_VARIANTS=1 adds each fixed tiling for every layer
# (gpu-conv-rows4, -rows8, -scalar, -nosplit, -cols32, -prefetch.jsonl): the tuning's per-pass candidate times say the
# same in finer grain.
if [ -n "$fitted" ]; then
  variants="default:ICH_WGSL_CONV_TUNING=$tuning"
  [ "${ICH_GPU_VARIANTS:-0}" = 1 ] && variants="$variants rows4:ICH_WGSL_CONV_ROWS=4 rows8:ICH_WGSL_CONV_ROWS=8 scalar:ICH_WGSL_CONV_VEC4=0 nosplit:ICH_WGSL_CONV_SPLIT=0 cols32:ICH_WGSL_CONV_COLUMNS=32 prefetch:ICH_WGSL_CONV_PREFETCH=1"
  for variant in $variants; do
    name="${variant%%:*}"; file="$OUT/gpu-conv$([ "$name" = default ] || echo "-$name").jsonl"
    cap="$(capped 150)"
    if [ "$cap" = 0 ]; then log "conv bench ($name) skipped: the budget is spent"; continue; fi
    timeout "$cap" env ICH_BACKEND=webgpu "${variant#*:}" node bin/ich.js bench conv --shape "${ICH_GPU_SHAPE:-40,301,301}" --batch "$fitted" \
      --repeats "$([ "$name" = default ] && echo 2 || echo 1)" --torch-device "${ICH_GPU_TORCH_DEVICE:-cuda}" --torch-precisions fp32 --json > "$file" 2> "$OUT/gpu-conv.err" \
      && log "conv ($name): $(tail -1 "$file")" || log "conv bench ($name) failed: $(grep -v '^Warning' "$OUT/gpu-conv.err" | tail -1)"
  done
fi

# Last, a short table (the device tool returns the end of the output): each training line's speed and ratio.
if [ -s "$OUT/gpu-bench.jsonl" ]; then
  log "summary (volumes/s; ratio = WebGPU / PyTorch on the same GPU):"
  node -e '
    for (const line of require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean)) {
      const r = JSON.parse(line);
      console.error(`  ${r.shape.join("x")} b${r.batch} ${r.native ? (/tuned/.test(r.native) ? "wgsl tuned" : "wgsl") : "tfjs"}: ${r.tsVolumesPerSecond.toFixed(3)} vs torch ${r.torchPrecision} ${r.torchVolumesPerSecond.toFixed(2)} -> ratio ${r.ratio.toFixed(4)}`);
    }' "$OUT/gpu-bench.jsonl"
fi
exit "$status"
