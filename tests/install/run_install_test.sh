#!/usr/bin/env bash
# Installs the built library into a temporary prefix and builds a consumer program against it
# twice: with CMake's find_package(Tessera) and with pkg-config --static.
set -euo pipefail
BUILD_DIR=$1
SRC_DIR=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cmake --install "$BUILD_DIR" --prefix "$WORK/prefix" > "$WORK/install.log"

cmake -S "$SRC_DIR" -B "$WORK/cmake-build" -G Ninja -DCMAKE_PREFIX_PATH="$WORK/prefix" > "$WORK/configure.log"
cmake --build "$WORK/cmake-build" > "$WORK/build.log"
"$WORK/cmake-build/consumer"

PC_FILE=$(find "$WORK/prefix" -name tessera.pc | head -n 1)
export PKG_CONFIG_PATH=$(dirname "$PC_FILE")
# shellcheck disable=SC2046
c++ -O1 "$SRC_DIR/consumer.cpp" -o "$WORK/consumer-pc" $(pkg-config --cflags tessera) $(pkg-config --libs --static tessera)
"$WORK/consumer-pc"
echo "1 passed, 0 failed"
