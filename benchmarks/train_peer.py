#!/usr/bin/env python3
"""PyTorch peer of benchmarks/train_bench.cpp: one training step (forward, backward, AdamW) of the
same 6-layer, 256-wide decoder-only transformer (4 heads, RoPE, causal attention, RMSNorm, SwiGLU
MLP of hidden 1024, untied 4096-token head) on batch 8 x sequence 256, printed as JSON.

--dtype float32 trains in float32; --dtype bfloat16 keeps float32 parameters and AdamW state and
runs forward/backward under torch.autocast("cpu", torch.bfloat16), the counterpart of Tessera's
bfloat16 compute with float32 masters; --dtype bfloat16_pure casts the whole model (parameters
and optimizer state) to bfloat16. Meant for Debian's /usr/bin/python3 with python3-torch (1.13 has
no fused sdpa, so attention is written out as PyTorch users of that version write it).

peak_rss_bytes is the process's peak resident set size (run one dtype per process to compare);
torch has no CPU allocator statistics.
"""

import argparse
import json
import math
import resource
import statistics
import sys
import time

LAYERS, DIMS, HEADS, HIDDEN, VOCAB, BATCH, SEQ = 6, 256, 4, 1024, 4096, 8, 256
TIED = False
# --shape demo: the configuration `tessera train` used for the bundled Shakespeare model
# (models/shakespeare): 4 layers, 256 wide, 4 heads, SwiGLU hidden 688, a tied 1024-token
# embedding, batch 16 x sequence 256 (BM_LMTrainStep in train_bench.cpp).
SHAPES = {
    "issue4": dict(LAYERS=6, DIMS=256, HEADS=4, HIDDEN=1024, VOCAB=4096, BATCH=8, SEQ=256, TIED=False),
    "demo": dict(LAYERS=4, DIMS=256, HEADS=4, HIDDEN=688, VOCAB=1024, BATCH=16, SEQ=256, TIED=True),
}


def build(torch):
    nn = torch.nn
    F = torch.nn.functional

    class RMSNorm(nn.Module):
        def __init__(self, d, eps=1e-5):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(d))
            self.eps = eps

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight

    def rope_tables(hd, length):
        inv = 10000.0 ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)
        ang = torch.arange(length, dtype=torch.float32)[:, None] * inv[None, :]
        return torch.cos(ang), torch.sin(ang)

    def rope(x, cos, sin):
        # Non-traditional layout: the two halves of the head rotate against each other.
        h = x.shape[-1] // 2
        x1, x2 = x[..., :h], x[..., h:]
        c, s = cos.to(x.dtype), sin.to(x.dtype)
        return torch.cat([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1)

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.q_proj = nn.Linear(DIMS, DIMS, bias=False)
            self.k_proj = nn.Linear(DIMS, DIMS, bias=False)
            self.v_proj = nn.Linear(DIMS, DIMS, bias=False)
            self.o_proj = nn.Linear(DIMS, DIMS, bias=False)

        def forward(self, x, cos, sin, mask):
            b, l, _ = x.shape
            hd = DIMS // HEADS

            def heads(z):
                return z.view(b, l, HEADS, hd).transpose(1, 2)

            q = rope(heads(self.q_proj(x)), cos, sin)
            k = rope(heads(self.k_proj(x)), cos, sin)
            v = heads(self.v_proj(x))
            scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
            scores = scores.masked_fill(mask, float("-inf"))
            o = torch.softmax(scores, dim=-1) @ v
            return self.o_proj(o.transpose(1, 2).reshape(b, l, DIMS))

    class SwiGLU(nn.Module):
        def __init__(self):
            super().__init__()
            self.gate = nn.Linear(DIMS, HIDDEN, bias=False)
            self.up = nn.Linear(DIMS, HIDDEN, bias=False)
            self.down = nn.Linear(HIDDEN, DIMS, bias=False)

        def forward(self, x):
            return self.down(F.silu(self.gate(x)) * self.up(x))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1 = RMSNorm(DIMS)
            self.attn = Attention()
            self.norm2 = RMSNorm(DIMS)
            self.mlp = SwiGLU()

        def forward(self, x, cos, sin, mask):
            x = x + self.attn(self.norm1(x), cos, sin, mask)
            return x + self.mlp(self.norm2(x))

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, DIMS)
            self.layers = nn.ModuleList([Block() for _ in range(LAYERS)])
            self.norm = RMSNorm(DIMS)
            self.lm_head = nn.Linear(DIMS, VOCAB, bias=False)
            if TIED:
                # A tied table starts small, as in `tessera train`, or the first logits are huge.
                torch.nn.init.normal_(self.embed.weight, std=0.02)
                self.lm_head.weight = self.embed.weight
            cos, sin = rope_tables(DIMS // HEADS, SEQ)
            self.register_buffer("cos", cos, persistent=False)
            self.register_buffer("sin", sin, persistent=False)
            self.register_buffer("mask", torch.ones(SEQ, SEQ, dtype=torch.bool).triu(1), persistent=False)

        def forward(self, tokens):
            x = self.embed(tokens)
            for layer in self.layers:
                x = layer(x, self.cos, self.sin, self.mask)
            return self.lm_head(self.norm(x))

    return Decoder()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", choices=["float32", "bfloat16", "bfloat16_pure"], default="float32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="issue4")
    args = ap.parse_args()
    globals().update(SHAPES[args.shape])
    try:
        import torch
    except ImportError as e:
        print(json.dumps({"framework": "torch", "missing": str(e)}))
        return 0
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build(torch)
    if args.dtype == "bfloat16_pure":
        model = model.to(torch.bfloat16)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    g = torch.Generator().manual_seed(1)
    seq = torch.randint(0, VOCAB, (BATCH, SEQ + 1), generator=g)
    inputs, targets = seq[:, :-1].contiguous(), seq[:, 1:].contiguous()
    F = torch.nn.functional

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.dtype == "bfloat16"):
            logits = model(inputs)
        loss = F.cross_entropy(logits.float().view(-1, VOCAB), targets.view(-1))
        loss.backward()
        opt.step()
        return loss.item()

    first = step()
    step()
    times = []
    loss = first
    for _ in range(args.steps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(json.dumps({
        "framework": "torch",
        "version": torch.__version__,
        "dtype": args.dtype,
        "shape": args.shape,
        "threads": torch.get_num_threads(),
        "step_ms": med * 1e3,
        "step_ms_all": [t * 1e3 for t in times],
        "tokens_per_s": BATCH * SEQ / med,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "loss_first": first,
        "loss_last": loss,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
