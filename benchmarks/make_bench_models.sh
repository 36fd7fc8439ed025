#!/usr/bin/env bash
# Writes the random-weight benchmark models of issue #5's performance table with `tessera convert`:
#   llama-1b     Llama-3.2-1B's shape: hidden 2048, 16 layers, 32 heads, 8 KV heads, FFN 8192,
#                vocab 128256 (Llama 3's tokenizer from shared/data), tied embeddings, llama3 rope
#   smollm-135m  SmolLM2-135M's shape: hidden 576, 30 layers, 9 heads, 3 KV heads, FFN 1536,
#                vocab 49152 (GPT-2's first 49151 tokens and merges plus <|endoftext|>), tied
# Each model is drawn once as a bfloat16 Hugging Face directory (<name>-bf16, what Tessera runs
# in bf16) and converted from it to GGUF F16 / Q8_0 / Q4_0 (what llama.cpp runs) and to MLX 4-bit
# and 8-bit group 64 directories, so every format holds the same weights. Existing outputs are
# kept: the script fills in what is missing.
#
# Usage: benchmarks/make_bench_models.sh [MODEL...]   (default: smollm-135m llama-1b)
#   TESSERA   the tessera binary        (default: build/tools/tessera/tessera)
#   OUT       the cache directory       (default: build/bench-models)
# Disk: about 9.5 GB for llama-1b, 1 GB for smollm-135m.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
TESSERA=${TESSERA:-$ROOT/build/tools/tessera/tessera}
OUT=${OUT:-$ROOT/build/bench-models}
TOKENIZERS=${TOKENIZERS:-$ROOT/../shared/data/tokenizers}
MODELS=("$@")
[ ${#MODELS[@]} -eq 0 ] && MODELS=(smollm-135m llama-1b)

[ -x "$TESSERA" ] || { echo "make_bench_models: $TESSERA not found (build the tessera_cli target)" >&2; exit 1; }
mkdir -p "$OUT"

# config.json of each shape (the published models' values for the fields the graph uses).
write_config() {
  local name=$1 dir=$2
  case $name in
    llama-1b) cat >"$dir/config.json" <<'EOF'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 128256, "hidden_size": 2048,
 "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
 "head_dim": 64, "hidden_act": "silu", "max_position_embeddings": 131072, "rms_norm_eps": 1e-05,
 "rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
 "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}, "tie_word_embeddings": true,
 "torch_dtype": "bfloat16", "bos_token_id": 128000, "eos_token_id": 128001}
EOF
    ;;
    smollm-135m) cat >"$dir/config.json" <<'EOF'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 49152, "hidden_size": 576,
 "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
 "head_dim": 64, "hidden_act": "silu", "max_position_embeddings": 8192, "rms_norm_eps": 1e-05,
 "rope_theta": 100000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
 "bos_token_id": 49151, "eos_token_id": 49151}
EOF
    ;;
    *) echo "make_bench_models: unknown model '$name' (llama-1b, smollm-135m)" >&2; exit 2 ;;
  esac
}

# The tokenizer files, so the GGUF files carry a vocabulary other engines accept.
write_tokenizer() {
  local name=$1 dir=$2
  case $name in
    llama-1b)
      if [ -f "$TOKENIZERS/llama3/tokenizer.json" ]; then
        cp "$TOKENIZERS/llama3/tokenizer.json" "$TOKENIZERS/llama3/tokenizer_config.json" "$dir/"
      else
        echo "make_bench_models: no Llama 3 tokenizer at $TOKENIZERS/llama3; the files carry no vocabulary" >&2
      fi
      ;;
    smollm-135m)
      if [ -f "$TOKENIZERS/gpt2/tokenizer.json" ]; then
        /usr/bin/python3 - "$TOKENIZERS/gpt2/tokenizer.json" "$dir" <<'EOF'
import json, sys
# GPT-2's vocabulary is its 256 bytes followed by one token per merge, so its first 49151 ids
# and the merges that make them are a consistent byte-level BPE; <|endoftext|> takes id 49151.
src, out = sys.argv[1], sys.argv[2]
j = json.load(open(src, encoding="utf-8"))
keep = 49151
model = j["model"]
model["vocab"] = {t: i for t, i in model["vocab"].items() if i < keep}
model["merges"] = model["merges"][: keep - 256]
j["added_tokens"] = [{"id": keep, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True}]
json.dump(j, open(out + "/tokenizer.json", "w", encoding="utf-8"), ensure_ascii=False)
json.dump({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "add_bos_token": False,
           "tokenizer_class": "GPT2Tokenizer"}, open(out + "/tokenizer_config.json", "w"))
EOF
      else
        echo "make_bench_models: no GPT-2 tokenizer at $TOKENIZERS/gpt2; the files carry no vocabulary" >&2
      fi
      ;;
  esac
}

for name in "${MODELS[@]}"; do
  base="$OUT/$name-bf16"
  if [ ! -f "$base/config.json" ]; then
    cfg=$(mktemp -d)
    trap 'rm -rf "$cfg"' EXIT
    write_config "$name" "$cfg"
    write_tokenizer "$name" "$cfg"
    echo "== $name: drawing random bfloat16 weights into $base"
    "$TESSERA" convert --random-weights --seed 1 --hf-path "$cfg" --mlx-path "$base"
    rm -rf "$cfg"
    trap - EXIT
  fi
  for t in f16 q8_0 q4_0; do
    f="$OUT/$name-$(echo $t | tr a-z A-Z).gguf"
    [ -f "$f" ] || { echo "== $name: GGUF $t"; "$TESSERA" convert --hf-path "$base" --gguf-path "$f" --outtype $t; }
  done
  for bits in 4 8; do
    d="$OUT/$name-mlx-${bits}bit"
    [ -f "$d/config.json" ] || { echo "== $name: MLX ${bits}-bit group 64"; "$TESSERA" convert --hf-path "$base" --mlx-path "$d" -q --q-bits $bits --q-group-size 64; }
  done
done
ls -la "$OUT"
