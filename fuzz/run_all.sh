#!/usr/bin/env bash
# Runs every libFuzzer target for FUZZ_TIME seconds (default 20) on seed corpora generated now.
# Usage: fuzz/run_all.sh BUILD_DIR   (BUILD_DIR configured with -DTESSERA_BUILD_FUZZERS=ON)
# Crashing inputs are kept in BUILD_DIR/fuzz-artifacts/<target>/; the script fails if any target did.
set -uo pipefail

BUILD=${1:?usage: fuzz/run_all.sh BUILD_DIR}
TIME=${FUZZ_TIME:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN="$BUILD/fuzz"
CORPUS="$BUILD/fuzz-corpus"
ARTIFACTS="$BUILD/fuzz-artifacts"

SEEDS=$(mktemp -d)
trap 'rm -rf "$SEEDS"' EXIT
"$BIN/fuzz_seeds" "$SEEDS" || { echo "fuzz: seed generation failed"; exit 1; }
# Chat templates: the hand-written seeds, plus the tokenizer configs of the shared data when it
# is there (a JSON object input is also read as a tokenizer_config.json).
mkdir -p "$SEEDS/chat_template"
cp "$HERE"/chat_template_seeds/* "$SEEDS/chat_template/"
for config in "$HERE"/../../shared/data/tokenizers/*/tokenizer_config.json; do
  [ -f "$config" ] && cp "$config" "$SEEDS/chat_template/$(basename "$(dirname "$config")").json"
done

# Conversions start from GGUF files.
mkdir -p "$SEEDS/convert"
cp "$SEEDS"/gguf/* "$SEEDS/convert/"

status=0
for target in npy npz safetensors tokenizer_json gguf model_dir chat_template convert prompt_cache; do
  mkdir -p "$CORPUS/$target" "$ARTIFACTS/$target"
  cp -f "$SEEDS/$target"/* "$CORPUS/$target/"
  echo "== ${target}_fuzz for ${TIME}s"
  if ! "$BIN/${target}_fuzz" "$CORPUS/$target" -max_total_time="$TIME" -timeout=10 -rss_limit_mb=2048 \
      -dict="$HERE/$target.dict" -artifact_prefix="$ARTIFACTS/$target/" -print_final_stats=1 \
      2>"$ARTIFACTS/$target.log"; then
    echo "fuzz: ${target}_fuzz FAILED; see $ARTIFACTS/$target.log and the inputs in $ARTIFACTS/$target/"
    tail -n 40 "$ARTIFACTS/$target.log"
    status=1
  else
    grep -E "^stat::(number_of_executed_units|new_units_added)|Done [0-9]+ runs" "$ARTIFACTS/$target.log" || true
  fi
done
exit $status
