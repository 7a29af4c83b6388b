#!/usr/bin/env bash
# One-time, idempotent setup used by both README commands:
#   scripts/setup.sh main    npm install, build, Jupyter Notebook + nbconvert (Debian) and the tslab kernel under
#                            .jupyter-local/ (never system-wide); fails when Jupyter cannot be installed
#   scripts/setup.sh tests   the same, but without Jupyter it only warns (the notebook tests are then skipped)
# Debian packages are installed with apt when running as root; otherwise the exact command is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-main}"
ROOT="$(pwd)"
PY=/usr/bin/python3   # Debian's own interpreter: its modules (nbconvert, torch, sklearn) load only there.

apt_install() {
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: $*"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  else
    echo "setup: these Debian packages are missing; install them with:"
    echo "  sudo apt-get update && sudo apt-get install -y $*"
    return 1
  fi
}

# 1. Node dependencies, only when package-lock.json changed since the last install.
stamp=node_modules/.ich-lock-stamp
lockhash="$(sha256sum package-lock.json | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lockhash" ]; then
  echo "setup: npm ci"
  # tfjs-node(-gpu) are optional: their install scripts download libtensorflow, which fails offline; npm skips them.
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lockhash" > "$stamp"
fi

# 2. Build dist/ (TypeScript 5.x from node_modules/typescript; .bin/tsc belongs to tslab's fork).
echo "setup: building dist/"
node node_modules/typescript/bin/tsc -p tsconfig.json

# 2b. Native kernels (oneDNN convolutions, pooling) for the CPU backends; optional: the TypeScript ops are the fallback.
scripts/build-native.sh || echo "setup: WARNING: native kernels not built; CPU training uses the slower TypeScript ops"

# 3. Notebooks: Jupyter + nbconvert from Debian, and the tslab kernel registered under a project-local prefix.
setup_notebooks() {
  missing=()
  [ -x /usr/bin/jupyter-notebook ] || missing+=(jupyter-notebook)
  [ -x /usr/bin/jupyter-nbconvert ] || missing+=(jupyter-nbconvert)
  "$PY" -c 'import nbconvert' 2>/dev/null || missing+=(python3-nbconvert)
  "$PY" -c 'import ipykernel' 2>/dev/null || missing+=(python3-ipykernel)
  [ -x /usr/bin/chromium ] || missing+=(chromium)   # PNG export of the figures (headless)
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}" || return 1; fi
  kernel_dir="$ROOT/.jupyter-local/share/jupyter/kernels/tslab"
  if [ ! -f "$kernel_dir/kernel.json" ] || ! grep -q "$ROOT/node_modules/.bin/tslab" "$kernel_dir/kernel.json"; then
    echo "setup: registering the tslab kernel under .jupyter-local/"
    node node_modules/tslab/bin/tslab install --python "$PY" --binary "$ROOT/node_modules/.bin/tslab" --prefix "$ROOT/.jupyter-local" >/dev/null
  fi
}
if [ "$mode" = main ]; then
  setup_notebooks
else
  setup_notebooks || echo "setup: WARNING: Jupyter is not available; notebook tests will be skipped"
  # 4. Tests only: a WebGPU adapter (software Vulkan without a GPU) so the webgpu backend is tested too.
  scripts/setup-webgpu.sh || echo "setup: WARNING: no WebGPU adapter; webgpu tests will be skipped"
fi
echo "setup: ready ($mode)"
