#!/usr/bin/env bash
# Builds the optional native kernels (native/ich_dnnl.cc -> build/ich_dnnl.node): oneDNN 3D convolutions and pooling
# for the cpu and wasm backends. Needs g++, Node's headers (shipped with Node) and Debian's libdnnl-dev, which is
# installed with apt when running as root. Without them training still works on the TypeScript ops, only slower.
#   scripts/build-native.sh          build when the source changed; exit 1 when it cannot be built
set -euo pipefail
cd "$(dirname "$0")/.."
src=native/ich_dnnl.cc
out=build/ich_dnnl.node
if [ -f "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt "$0" ]; then exit 0; fi

node_include="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")/include/node"
missing=()
command -v g++ >/dev/null || missing+=(g++)
[ -f /usr/include/oneapi/dnnl/dnnl.hpp ] || missing+=(libdnnl-dev)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "build-native: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "build-native: missing ${missing[*]}; install with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
if [ ! -f "$node_include/node_api.h" ]; then
  echo "build-native: Node's headers expected at $node_include/node_api.h, got none (install Node with its headers)" >&2
  exit 1
fi
mkdir -p build
echo "build-native: compiling $out"
g++ -O3 -ffp-contract=off -std=c++17 -shared -fPIC -fopenmp -Wall -Wno-unused-parameter -I"$node_include" "$src" -ldnnl -o "$out.tmp"
mv "$out.tmp" "$out"
