#!/usr/bin/env python3
"""Writes PyTorch references for the architecture tests in tests/lm_architectures_test.cpp.

Usage: torch_lm.py OUT_DIR (exit status 77 when PyTorch or NumPy is missing). For each case
writes OUT_DIR/<case>.json, a config.json as transformers saves it, and OUT_DIR/<case>.npz: the
model's random weights under their Hugging Face names (float32), "__tokens" (int32 [2, L]) and
"__logits" (float32 [2, L, vocab]), the logits of a full forward pass.

The models are written here from each architecture's math with plain torch ops (transformers is
not needed): embedding, RMSNorm (Gemma's with 1 + w), rope on the two halves of the leading
features of each head, grouped-query attention under a causal and optionally sliding-window mask,
soft-capping, SwiGLU / GeGLU. Everything runs in float64, so the reference is exact to the
precision the float32 test cares about.
"""
import json
import math
import sys

try:
    import numpy as np
    import torch
except ImportError:
    sys.exit(77)  # the test skips: PyTorch is an optional test dependency

torch.manual_seed(0)
B, L = 2, 10
DT = torch.float64


def rms_norm(x, w, eps, offset):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * (offset + w)


def base_inv_freq(base, dims):
    return 1.0 / (base ** (torch.arange(0, dims, 2, dtype=DT) / dims))


def rope_tables(inv_freq, positions, mscale):
    """cos and sin [L, dims / 2] for the given positions."""
    theta = positions.to(DT)[:, None] * inv_freq[None, :]
    return torch.cos(theta) * mscale, torch.sin(theta) * mscale


def apply_rope(x, cos, sin, dims):
    """x [B, L, H, D]: rotates the halves of the first `dims` features of each head."""
    h = dims // 2
    x1, x2, rest = x[..., :h], x[..., h:dims], x[..., dims:]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s, rest], dim=-1)


def layer_rope(cfg, sliding, seq_len):
    """(rotated features, inverse frequencies, cos/sin scale) of one layer, as transformers' rope types."""
    hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    dims = int(hd * cfg.get("partial_rotary_factor", 1.0))
    if sliding and "rope_local_base_freq" in cfg:
        return dims, base_inv_freq(cfg["rope_local_base_freq"], dims), 1.0
    base = cfg.get("rope_theta") or cfg.get("rope_parameters", {}).get("rope_theta", 10000.0)
    rs = cfg.get("rope_scaling") or cfg.get("rope_parameters") or {}
    kind = rs.get("rope_type", rs.get("type", "default"))
    inv = base_inv_freq(base, dims)
    if kind == "linear":
        return dims, inv / rs["factor"], 1.0
    if kind == "llama3":
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        ctx = rs["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > ctx / lo, inv / factor, inv)
        smooth = (ctx / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < ctx / hi) & ~(wavelen > ctx / lo)
        return dims, torch.where(medium, smoothed, scaled), 1.0
    if kind == "longrope":
        orig = cfg["original_max_position_embeddings"]
        factor = cfg["max_position_embeddings"] / orig
        mscale = math.sqrt(1 + math.log(factor) / math.log(orig)) if factor > 1 else 1.0
        ext = torch.tensor(rs["long_factor"] if seq_len > orig else rs["short_factor"], dtype=DT)
        return dims, 1.0 / (ext * base ** (torch.arange(0, dims, 2, dtype=DT) / dims)), mscale
    assert kind == "default", kind
    return dims, inv, 1.0


def sliding_layers(arch, cfg):
    n = cfg["num_hidden_layers"]
    if "layer_types" in cfg:
        return [t == "sliding_attention" for t in cfg["layer_types"]]
    if not cfg.get("sliding_window"):
        return [False] * n
    if arch == "gemma2":
        return [i % 2 == 0 for i in range(n)]
    if arch == "gemma3_text":
        p = cfg.get("sliding_window_pattern", 6)
        return [(i + 1) % p != 0 for i in range(n)]
    if arch in ("qwen2", "qwen3"):
        return [cfg.get("use_sliding_window", False) and i >= cfg["max_window_layers"] for i in range(n)]
    return [True] * n


def forward(arch, cfg, W, tokens):
    """Logits [B, L, vocab] of the full sequences `tokens` [B, L]."""
    W = {k: torch.from_numpy(v).to(DT) for k, v in W.items()}
    gemma = arch.startswith("gemma")
    Bn, Ln = tokens.shape
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads", nh)
    hd = cfg.get("head_dim") or H // nh
    eps = cfg["rms_norm_eps"]
    off = 1.0 if gemma else 0.0
    scale = cfg["query_pre_attn_scalar"] ** -0.5 if gemma else hd ** -0.5
    attn_cap = cfg.get("attn_logit_softcapping") if gemma else None
    window = cfg.get("sliding_window") or 0
    slides = sliding_layers(arch, cfg)
    act = {"silu": torch.nn.functional.silu,
           "gelu_pytorch_tanh": lambda g: torch.nn.functional.gelu(g, approximate="tanh")}[
        cfg.get("hidden_activation", cfg.get("hidden_act", "silu"))]
    pos = torch.arange(Ln)
    qi, kj = pos[:, None], pos[None, :]

    x = W["model.embed_tokens.weight"][tokens.long()]
    if gemma:
        x = x * (H ** 0.5)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."

        def lin(name, v, bias=False):
            y = v @ W[p + name + ".weight"].T
            return y + W[p + name + ".bias"] if bias else y

        h = rms_norm(x, W[p + "input_layernorm.weight"], eps, off)
        if arch == "phi3":
            qkv = lin("self_attn.qkv_proj", h)
            q, k, v = qkv.split([nh * hd, nkv * hd, nkv * hd], dim=-1)
        else:
            qkv_bias = arch == "qwen2" or cfg.get("attention_bias", False)
            q, k, v = (lin("self_attn." + n, h, qkv_bias) for n in ("q_proj", "k_proj", "v_proj"))
        q, k, v = q.view(Bn, Ln, nh, hd), k.view(Bn, Ln, nkv, hd), v.view(Bn, Ln, nkv, hd)
        if arch in ("qwen3", "gemma3_text"):
            q = rms_norm(q, W[p + "self_attn.q_norm.weight"], eps, off)
            k = rms_norm(k, W[p + "self_attn.k_norm.weight"], eps, off)
        dims, inv, mscale = layer_rope(cfg, slides[i], Ln)
        cos, sin = rope_tables(inv, pos, mscale)
        q, k = apply_rope(q, cos, sin, dims), apply_rope(k, cos, sin, dims)
        rep = nh // nkv
        q = q.transpose(1, 2)
        k = k.transpose(1, 2).repeat_interleave(rep, dim=1)
        v = v.transpose(1, 2).repeat_interleave(rep, dim=1)
        s = (q @ k.transpose(-1, -2)) * scale
        if attn_cap:
            s = torch.tanh(s / attn_cap) * attn_cap
        allowed = kj <= qi
        if slides[i]:
            allowed = allowed & (qi - kj < window)
        s = s.masked_fill(~allowed, float("-inf"))
        a = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(Bn, Ln, nh * hd)
        out_bias = arch != "qwen2" and cfg.get("attention_bias", False)
        a = lin("self_attn.o_proj", a, out_bias)
        if gemma:
            a = rms_norm(a, W[p + "post_attention_layernorm.weight"], eps, off)
            x = x + a
            h = rms_norm(x, W[p + "pre_feedforward_layernorm.weight"], eps, off)
        else:
            x = x + a
            h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps, off)
        if arch == "phi3":
            gate, up = lin("mlp.gate_up_proj", h).chunk(2, dim=-1)
        else:
            gate, up = lin("mlp.gate_proj", h), lin("mlp.up_proj", h)
        m = lin("mlp.down_proj", act(gate) * up)
        if gemma:
            m = rms_norm(m, W[p + "post_feedforward_layernorm.weight"], eps, off)
        x = x + m
    x = rms_norm(x, W["model.norm.weight"], eps, off)
    head = W.get("lm_head.weight", W["model.embed_tokens.weight"])
    logits = x @ head.T
    cap = cfg.get("final_logit_softcapping") if gemma else None
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits


def random_weights(arch, cfg):
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads", nh)
    hd = cfg.get("head_dim") or H // nh
    F, V = cfg["intermediate_size"], cfg["vocab_size"]
    gemma = arch.startswith("gemma")
    W = {}

    def mat(name, out, inp):
        W[name] = torch.randn(out, inp) / math.sqrt(inp)

    def norm(name, n):
        # Gemma checkpoints store w - 1.
        W[name] = 0.2 * torch.randn(n) + (0.0 if gemma else 1.0)

    W["model.embed_tokens.weight"] = torch.randn(V, H)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        norm(p + "input_layernorm.weight", H)
        norm(p + "post_attention_layernorm.weight", H)
        if gemma:
            norm(p + "pre_feedforward_layernorm.weight", H)
            norm(p + "post_feedforward_layernorm.weight", H)
        if arch == "phi3":
            mat(p + "self_attn.qkv_proj.weight", (nh + 2 * nkv) * hd, H)
            mat(p + "mlp.gate_up_proj.weight", 2 * F, H)
        else:
            mat(p + "self_attn.q_proj.weight", nh * hd, H)
            mat(p + "self_attn.k_proj.weight", nkv * hd, H)
            mat(p + "self_attn.v_proj.weight", nkv * hd, H)
            mat(p + "mlp.gate_proj.weight", F, H)
            mat(p + "mlp.up_proj.weight", F, H)
        mat(p + "self_attn.o_proj.weight", H, nh * hd)
        mat(p + "mlp.down_proj.weight", H, F)
        if arch == "qwen2" or cfg.get("attention_bias", False):
            for n, size in (("q_proj", nh * hd), ("k_proj", nkv * hd), ("v_proj", nkv * hd)):
                W[p + f"self_attn.{n}.bias"] = 0.1 * torch.randn(size)
        if arch != "qwen2" and cfg.get("attention_bias", False):
            W[p + "self_attn.o_proj.bias"] = 0.1 * torch.randn(H)
        if arch in ("qwen3", "gemma3_text"):
            norm(p + "self_attn.q_norm.weight", hd)
            norm(p + "self_attn.k_norm.weight", hd)
    norm("model.norm.weight", H)
    if not cfg.get("tie_word_embeddings", False):
        mat("lm_head.weight", V, H)
    return {k: v.float().numpy() for k, v in W.items()}


BASE = {"vocab_size": 100, "hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 4,
        "num_key_value_heads": 2, "intermediate_size": 96, "rms_norm_eps": 1e-5, "max_position_embeddings": 128}

CASES = {
    # Llama 3.1-style rope scaling, with wavelengths on both sides of the interpolated band.
    "llama": dict(BASE, model_type="llama", rope_theta=10000.0, tie_word_embeddings=False, hidden_act="silu",
                  rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                "high_freq_factor": 4.0, "original_max_position_embeddings": 64}),
    # Every layer slides (a window shorter than the sequence), head tied to the embedding.
    "mistral": dict(BASE, model_type="mistral", rope_theta=1000000.0, sliding_window=4, tie_word_embeddings=True),
    # q/k/v biases; layers from max_window_layers on slide.
    "qwen2": dict(BASE, model_type="qwen2", rope_theta=1000000.0, tie_word_embeddings=True, use_sliding_window=True,
                  sliding_window=3, max_window_layers=1, rms_norm_eps=1e-6),
    # q/k norms, a head size apart from hidden / heads, transformers 5's rope_parameters.
    "qwen3": dict(BASE, model_type="qwen3", head_dim=32, attention_bias=False, tie_word_embeddings=False,
                  rms_norm_eps=1e-6, rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}),
    # Soft caps on scores and logits, a query scale apart from the head size, alternating windows.
    "gemma2": dict(BASE, model_type="gemma2", head_dim=16, query_pre_attn_scalar=24, sliding_window=4,
                   attn_logit_softcapping=2.0, final_logit_softcapping=20.0, hidden_activation="gelu_pytorch_tanh",
                   hidden_act="gelu_pytorch_tanh", rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=True),
    # Five local layers (their own rope base) then a global one with linearly scaled rope.
    "gemma3_text": dict(BASE, model_type="gemma3_text", hidden_size=32, num_hidden_layers=6, num_attention_heads=2,
                        num_key_value_heads=1, head_dim=16, intermediate_size=64, query_pre_attn_scalar=16,
                        sliding_window=4, sliding_window_pattern=6, rope_theta=1000000.0,
                        rope_local_base_freq=10000.0, rope_scaling={"rope_type": "linear", "factor": 2.0},
                        final_logit_softcapping=None, attn_logit_softcapping=None, rms_norm_eps=1e-6,
                        hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True),
    # Fused projections, half the head rotating, a window over every layer.
    "phi3": dict(BASE, model_type="phi3", partial_rotary_factor=0.5, sliding_window=5, rope_theta=10000.0,
                 hidden_act="silu", tie_word_embeddings=False, original_max_position_embeddings=128),
    # LongRoPE past a 4-token pretraining length (long factors and the attention factor in play).
    "phi3_longrope": dict(BASE, model_type="phi3", partial_rotary_factor=0.75, rope_theta=10000.0,
                          hidden_act="silu", tie_word_embeddings=False, max_position_embeddings=32,
                          original_max_position_embeddings=4,
                          rope_scaling={"type": "longrope",
                                        "short_factor": [1.0, 1.1, 1.3, 1.7, 2.2, 3.0],
                                        "long_factor": [1.0, 1.5, 2.5, 4.0, 6.0, 9.0]}),
}


def main(out_dir):
    for name, cfg in CASES.items():
        arch = cfg["model_type"]
        W = random_weights(arch, cfg)
        tokens = torch.randint(0, cfg["vocab_size"], (B, L), dtype=torch.int32)
        arrays = dict(W)
        arrays["__tokens"] = tokens.numpy()
        arrays["__logits"] = forward(arch, cfg, W, tokens).float().numpy()
        rs = cfg.get("rope_scaling") or {}
        if rs.get("rope_type") == "llama3":
            # GGUF keeps Llama 3.1's rule as per-frequency period multipliers (tensor rope_freqs),
            # as llama.cpp's converter writes them.
            dims, inv, _ = layer_rope(dict(cfg, rope_scaling=None), False, L)
            wavelen = 2 * math.pi / inv
            ctx, lo, hi = rs["original_max_position_embeddings"], rs["low_freq_factor"], rs["high_freq_factor"]
            smooth = (ctx / wavelen - lo) / (hi - lo)
            factors = torch.where(wavelen < ctx / hi, torch.ones_like(inv),
                                  torch.where(wavelen > ctx / lo, torch.full_like(inv, rs["factor"]),
                                              1 / ((1 - smooth) / rs["factor"] + smooth)))
            arrays["__gguf_rope_freqs"] = factors.float().numpy()
        if arch == "phi3" and "rope_scaling" in cfg:
            # Sequences within the pretraining length use the short factors.
            short = cfg["original_max_position_embeddings"]
            arrays["__logits_short"] = forward(arch, cfg, W, tokens[:, :short]).float().numpy()
        np.savez(f"{out_dir}/{name}.npz", **arrays)
        with open(f"{out_dir}/{name}.json", "w") as f:
            json.dump(cfg, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
