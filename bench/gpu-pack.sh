#!/usr/bin/env bash
# Prepares what bench/gpu.sh needs on a GPU machine that has PyTorch but no Node (the device tool's machines): in
# .gpu-carry/ a compressed node binary, the node_modules files the GPU run loads (recorded from a local webgpu run
# on software Vulkan, so it needs scripts/setup-webgpu.sh first) and the Vulkan and GL loader debs. Carry `.gpu-carry` and
# `dist` (both ignored by git) with the run; together they stay under the 64 MiB a device call may carry.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.gpu-carry
GPU_LOADER_DEBS="libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2"
rm -rf "$out" && mkdir -p "$out"
grep -qs '^/.gpu-carry/$' .git/info/exclude 2>/dev/null || { mkdir -p .git/info && echo '/.gpu-carry/' >> .git/info/exclude; }
list="$out/modules.txt"
: > "$list"
export ICH_RECORD_MODULES="$PWD/$list"
# NODE_OPTIONS so that child processes (mocha re-spawns itself) record too
rec=(env NODE_OPTIONS="--require $PWD/bench/record-modules.cjs" node)
echo "gpu-pack: recording the modules of the webgpu checks and the benchmark (software Vulkan, small sizes)"
ICH_TEST_BACKENDS=cpu,webgpu,webgpu+wgsl "${rec[@]}" node_modules/mocha/bin/mocha.js --no-config --timeout 600000 --reporter dot \
  dist/test/ops/ops.test.js dist/test/ops/webgpu/*.test.js dist/test/models/models.test.js dist/test/train/optim.test.js \
  dist/test/explain/saliency.test.js >/dev/null
ICH_BACKEND=webgpu "${rec[@]}" bin/ich.js bench train --shape 32,64,64 --batch 2 --steps 1 --torch-device cpu --json >/dev/null 2>&1 || true
ICH_BACKEND=webgpu "${rec[@]}" bin/ich.js bench profile --shape 32,32,32 --json >/dev/null 2>&1 || true
ICH_BACKEND=webgpu "${rec[@]}" bin/ich.js bench conv --shape 32,32,32 --batch 1 --repeats 1 --layers stem --json >/dev/null 2>&1 || true
{
  sort -u "$list" | sed "s#^$PWD/##"
  # every package touched: small ones whole (lazy requires), large ones (tfjs, webgpu) by the files loaded plus
  # their package.json (module resolution reads it); Dawn for linux-x64 (loaded as ESM, not recorded)
  sort -u "$list" | sed "s#^$PWD/##" | sed -E 's#^(.*node_modules/(@[^/]+/)?[^/]+)/.*#\1#' | sort -u | while read -r pkg; do
    if [ "$(du -sk "$pkg" | cut -f1)" -lt 2048 ]; then find "$pkg" -type f; else echo "$pkg/package.json"; fi
  done
  echo node_modules/webgpu/index.js
  echo node_modules/webgpu/dist/linux-x64/dawn.node
} | sort -u | while read -r f; do [ -f "$f" ] && echo "$f"; done > "$list.final"
tar -cJf "$out/modules.tar.xz" -T "$list.final"
xz -T0 -c "$(readlink -f "$(command -v node)")" > "$out/node.xz"
# The Vulkan loader and the GL vendor-neutral dispatch libraries the NVIDIA driver's ICD links against (the device
# machines have the driver but, per the device tool's README, may lack these loaders).
(cd "$out" && apt-get download -oAPT::Architecture=amd64 $GPU_LOADER_DEBS >/dev/null 2>&1) \
  || echo "gpu-pack: could not download $GPU_LOADER_DEBS (the GPU machine must have them)"
rm -f "$list"
mv "$list.final" "$out/modules.txt"
echo "gpu-pack: $(wc -l < "$out/modules.txt") files; carry sizes:"
du -sh "$out"/* dist | sed 's/^/  /'
