"""A small decoder-only LM written against the MLX API (RMSNorm, RoPE, SwiGLU, causal mask): greedy
decoding with a key/value cache gives the same logits as recomputing the whole prefix."""

import math

import numpy as np
import pytest

mx = pytest.importorskip("tessera.core")
nn = pytest.importorskip("tessera.nn")


class Attention(nn.Module):
    def __init__(self, dims, heads):
        super().__init__()
        self.heads = heads
        self.rope = nn.RoPE(dims // heads, traditional=True)
        self.wq = nn.Linear(dims, dims, bias=False)
        self.wk = nn.Linear(dims, dims, bias=False)
        self.wv = nn.Linear(dims, dims, bias=False)
        self.wo = nn.Linear(dims, dims, bias=False)

    def __call__(self, x, mask=None, cache=None):
        B, L, _ = x.shape
        q, k, v = (p(x).reshape(B, L, self.heads, -1).transpose(0, 2, 1, 3) for p in (self.wq, self.wk, self.wv))
        offset = 0 if cache is None else cache[0].shape[2]
        q, k = self.rope(q, offset=offset), self.rope(k, offset=offset)
        if cache is not None:
            k = mx.concatenate([cache[0], k], axis=2)
            v = mx.concatenate([cache[1], v], axis=2)
        scores = (q * math.sqrt(1 / q.shape[-1])) @ k.transpose(0, 1, 3, 2)
        if mask is not None:
            scores = scores + mask
        out = (mx.softmax(scores, axis=-1) @ v).transpose(0, 2, 1, 3).reshape(B, L, -1)
        return self.wo(out), (k, v)


class Block(nn.Module):
    def __init__(self, dims, hidden, heads):
        super().__init__()
        self.attn = Attention(dims, heads)
        self.n1, self.n2 = nn.RMSNorm(dims), nn.RMSNorm(dims)
        self.gate = nn.Linear(dims, hidden, bias=False)
        self.up = nn.Linear(dims, hidden, bias=False)
        self.down = nn.Linear(hidden, dims, bias=False)

    def __call__(self, x, mask=None, cache=None):
        y, cache = self.attn(self.n1(x), mask, cache)
        x = x + y
        y = self.n2(x)
        return x + self.down(nn.silu(self.gate(y)) * self.up(y)), cache


class LM(nn.Module):
    def __init__(self, vocab=64, dims=32, hidden=64, heads=4, layers=2):
        super().__init__()
        self.embedding = nn.Embedding(vocab, dims)
        self.layers = [Block(dims, hidden, heads) for _ in range(layers)]
        self.norm = nn.RMSNorm(dims)

    def __call__(self, tokens, cache=None):
        x = self.embedding(tokens)
        mask = None
        if x.shape[1] > 1:
            mask = nn.MultiHeadAttention.create_additive_causal_mask(x.shape[1]).astype(x.dtype)
        cache = cache or [None] * len(self.layers)
        for i, layer in enumerate(self.layers):
            x, cache[i] = layer(x, mask, cache[i])
        return self.embedding.as_linear(self.norm(x)), cache


def test_cached_decoding_matches_full_recompute():
    mx.random.seed(0)
    model = LM()
    mx.eval(model.parameters())
    prompt = mx.array([[3, 14, 15, 9, 2]])
    logits, cache = model(prompt)
    tokens = prompt
    for _ in range(6):
        nxt = mx.argmax(logits[:, -1], axis=-1)
        tokens = mx.concatenate([tokens, nxt[:, None]], axis=1)
        logits, cache = model(nxt[:, None], cache)
        full, _ = model(tokens)
        np.testing.assert_allclose(np.array(logits[:, -1]), np.array(full[:, -1]), rtol=1e-4, atol=1e-4)
    assert tokens.shape == (1, 11)
    assert cache[0][0].shape == (1, 4, 11, 8)


def test_half_precision_forward():
    model = LM()
    model.set_dtype(mx.bfloat16)
    logits, _ = model(mx.array([[1, 2, 3]]))
    assert logits.dtype == mx.bfloat16 and logits.shape == (1, 3, 64)
    assert np.isfinite(np.array(logits.astype(mx.float32))).all()
