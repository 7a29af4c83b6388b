#!/usr/bin/env bash
# Software WebGPU for the tests on machines without a GPU: Mesa's lavapipe Vulkan driver. Debian bookworm's own
# Mesa 22.3 lacks features Dawn (the `webgpu` package) requires, so Mesa 25 comes from bookworm-backports.
# Installs as root; otherwise prints the commands. Exit 0 when a WebGPU adapter is available afterwards, 1 if not
# (the webgpu tests are then skipped with the reason).
set -uo pipefail
cd "$(dirname "$0")/.."

probe() {
  node -e "const {create}=require('webgpu');create([]).requestAdapter().then(a=>{if(!a)process.exit(1);console.log('setup-webgpu: adapter: '+((a.info&&a.info.description)||'ok'));process.exit(0)},()=>process.exit(1))" 2>/dev/null
}

if [ ! -d node_modules/webgpu ]; then
  echo "setup-webgpu: the optional npm package 'webgpu' is not installed (npm ci installs it on linux-x64)"
  exit 1
fi
if probe; then exit 0; fi

codename="$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")"
if [ "$codename" != bookworm ]; then
  echo "setup-webgpu: no WebGPU adapter; install a Vulkan driver (Mesa >= 24 lavapipe for software) for this system ($codename)"
  exit 1
fi
list=/etc/apt/sources.list.d/ich-bookworm-backports.list
if [ "$(id -u)" != 0 ]; then
  echo "setup-webgpu: no WebGPU adapter; as root run:"
  echo "  echo 'deb http://deb.debian.org/debian bookworm-backports main' > $list"
  echo "  apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1"
  exit 1
fi
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deb http://deb.debian.org/debian bookworm-backports main" > "$list"
fi
echo "setup-webgpu: installing Mesa's Vulkan drivers from bookworm-backports"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
probe
