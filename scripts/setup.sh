#!/usr/bin/env bash
# Installs the Debian packages Tessera needs. Idempotent; runs as root (or with sudo) without
# standard input.
#   scripts/setup.sh         what building, testing (PyTorch is a test reference), fuzzing and
#                            benchmarking need
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libhwy-dev libopenblas-dev libdnnl-dev
  nlohmann-json3-dev zlib1g-dev libpcre2-dev libutf8proc-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-dev python3-numpy python3-pytest python3-torch pybind11-dev libdlpack-dev
  clang libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
