#!/usr/bin/env python3
"""Times one training step (forward + backward + optimizer) of the three models of
benchmarks/SltSharp.Benchmarks/TrainingStepBenchmarks.cs in PyTorch, float32, on CPU.

Usage: /usr/bin/python3 benchmarks/compare/torch_training_step.py [threads] [steps]
Prints one line per model: "<name> <ms/step> ms/step (threads=N)". Exits 0 with a
"skipped" message when torch is not installed.
"""
import math
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("skipped: torch is not installed for this interpreter (try /usr/bin/python3)")
    sys.exit(0)


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        b, t, d = x.shape
        h, dh = self.heads, d // self.heads
        q, k, v = self.qkv(x).split(d, dim=2)
        q = q.view(b, t, h, dh).transpose(1, 2)
        k = k.view(b, t, h, dh).transpose(1, 2)
        v = v.view(b, t, h, dh).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(dh)
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        att = F.softmax(att.masked_fill(mask, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, d)
        return self.proj(y)


class Block(nn.Module):
    def __init__(self, d, heads, hidden):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = Attention(d, heads)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, d))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class Transformer(nn.Module):
    def __init__(self, vocab=64, context=16, d=64, heads=4, layers=2):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, d)
        self.position_embedding = nn.Embedding(context, d)
        self.blocks = nn.ModuleList([Block(d, heads, 4 * d) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        self.unembed = nn.Linear(d, vocab, bias=False)

    def forward(self, tokens):
        t = tokens.shape[1]
        x = self.token_embedding(tokens) + self.position_embedding(torch.arange(t))
        for block in self.blocks:
            x = block(x)
        return self.unembed(self.ln_f(x))


def time_steps(step, steps):
    for _ in range(20):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) * 1000.0 / steps


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    dln = nn.Sequential(*[nn.Linear(50, 50, bias=False) for _ in range(5)])
    dln_opt = torch.optim.SGD(dln.parameters(), lr=1e-3)
    x_dln, y_dln = torch.randn(100, 50), torch.randn(100, 50)

    def dln_step():
        dln_opt.zero_grad()
        F.mse_loss(dln(x_dln), y_dln).backward()
        dln_opt.step()

    mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    mlp_opt = torch.optim.SGD(mlp.parameters(), lr=1e-2, momentum=0.9)
    x_mlp, y_mlp = torch.randn(128, 784), torch.randint(0, 10, (128,))

    def mlp_step():
        mlp_opt.zero_grad()
        F.cross_entropy(mlp(x_mlp), y_mlp).backward()
        mlp_opt.step()

    tr = Transformer()
    tr_opt = torch.optim.AdamW(tr.parameters(), lr=1e-3)
    tokens, targets = torch.randint(0, 64, (32, 16)), torch.randint(0, 64, (32, 16))

    def tr_step():
        tr_opt.zero_grad()
        F.cross_entropy(tr(tokens).view(-1, 64), targets.view(-1)).backward()
        tr_opt.step()

    for name, step in (("DeepLinearNetwork", dln_step), ("Mlp", mlp_step), ("Transformer", tr_step)):
        print(f"{name} {time_steps(step, steps):.3f} ms/step (threads={threads}, torch {torch.__version__})")


if __name__ == "__main__":
    main()
