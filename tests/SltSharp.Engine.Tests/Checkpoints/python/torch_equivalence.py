"""Reference outputs from real PyTorch for SltSharp's built-in architectures (run with Debian's /usr/bin/python3).

  torch_equivalence.py DIR

For each case, builds the torch.nn module whose state_dict keys are exactly SltSharp's parameter names, trains it
briefly (Adam, float32), and writes into DIR:
  CASE.safetensors   the trained state_dict as F32, with the SltSharp model spec in __metadata__ (hand-written: the
                     format is an 8-byte header length, a JSON header, and the raw little-endian bytes)
  CASE.npz           the data, and at the trained weights: outputs, loss and every parameter's gradient, computed in
                     float32 ("*.f32") and again in float64 after model.double() ("*.f64", same weights widened)
plus mlp_relu.f16.safetensors / mlp_relu.bf16.safetensors / mlp_relu.f64.safetensors (same weights, other dtypes).
Prints one "CASE ok" line per case.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

torch.set_num_threads(1)


class Attention(nn.Module):
    """Causal self-attention with a fused qkv projection; rows of qkv are [q; k; v], heads are consecutive slices."""

    def __init__(self, d, heads):
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.heads = heads

    def forward(self, x):
        b, t, d = x.shape
        h, dh = self.heads, d // self.heads
        q, k, v = self.qkv(x).split(d, dim=2)
        q, k, v = (z.view(b, t, h, dh).transpose(1, 2) for z in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(dh)
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        weights = torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(b, t, d))


class Mlp(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.fc = nn.Linear(d, hidden)
        self.act = nn.GELU()
        self.proj = nn.Linear(hidden, d)

    def forward(self, x):
        return self.proj(self.act(self.fc(x)))


class Block(nn.Module):
    def __init__(self, d, heads, hidden, placement, eps):
        super().__init__()
        self.ln1 = nn.LayerNorm(d, eps=eps)
        self.attn = Attention(d, heads)
        self.ln2 = nn.LayerNorm(d, eps=eps)
        self.mlp = Mlp(d, hidden)
        self.placement = placement

    def forward(self, x):
        if self.placement == "post":
            x = self.ln1(x + self.attn(x))
            return self.ln2(x + self.mlp(x))
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class DecoderTransformer(nn.Module):
    def __init__(self, spec):
        super().__init__()
        d = spec["d_model"]
        self.token_embedding = nn.Embedding(spec["vocab"], d)
        self.position_embedding = nn.Embedding(spec["context"], d)
        self.blocks = nn.ModuleList(
            Block(d, spec["heads"], spec["mlp_width"], spec["layer_norm"], spec["layer_norm_eps"]) for _ in range(spec["layers"]))
        self.ln_f = nn.LayerNorm(d, eps=spec["layer_norm_eps"])
        self.unembed = nn.Linear(d, spec["vocab"], bias=spec["unembed_bias"])

    def forward(self, tokens):
        t = tokens.shape[1]
        x = self.token_embedding(tokens) + self.position_embedding(torch.arange(t, device=tokens.device))
        for block in self.blocks:
            x = block(x)
        return self.unembed(self.ln_f(x))


ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "gelu_tanh": lambda: nn.GELU(approximate="tanh")}


def sequential(widths, activation, bias):
    layers = []
    for i in range(len(widths) - 1):
        if i > 0 and activation is not None:
            layers.append(ACTIVATIONS[activation]())
        layers.append(nn.Linear(widths[i], widths[i + 1], bias=bias))
    return nn.Sequential(*layers)


def check_attention_against_torch_mha(model):
    """Our hand-written attention must equal nn.MultiheadAttention with the same weights (float64, causal mask)."""
    d = model.token_embedding.embedding_dim
    for block in model.blocks:
        attn = block.attn
        mha = nn.MultiheadAttention(d, attn.heads, batch_first=True).double()
        with torch.no_grad():
            mha.in_proj_weight.copy_(attn.qkv.weight)
            mha.in_proj_bias.copy_(attn.qkv.bias)
            mha.out_proj.weight.copy_(attn.proj.weight)
            mha.out_proj.bias.copy_(attn.proj.bias)
        x = torch.randn(3, 5, d, dtype=torch.float64)
        mask = torch.ones(5, 5, dtype=torch.bool).triu(1)
        ours = attn.double()(x)
        theirs = mha(x, x, x, attn_mask=mask, need_weights=False)[0]
        attn.float()
        err = (ours - theirs).abs().max().item()
        assert err < 1e-12, f"hand-written attention differs from nn.MultiheadAttention by {err}"


def write_safetensors(path, state, metadata, dtype="F32"):
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name in sorted(state):
        tensor = state[name].detach().cpu()
        if dtype == "BF16":
            raw = tensor.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            np_type = {"F16": "<f2", "F32": "<f4", "F64": "<f8"}[dtype]
            raw = tensor.double().numpy().astype(np_type).tobytes()
        header[name] = {"dtype": dtype, "shape": list(tensor.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def reference(model, loss_fn, inputs, targets, suffix, dtype):
    model = model.to(dtype)
    x = inputs.to(dtype) if inputs.is_floating_point() else inputs
    y = targets.to(dtype) if targets.is_floating_point() else targets
    model.zero_grad()
    out = model(x)
    loss = loss_fn(out, y)
    loss.backward()
    result = {f"output.{suffix}": out.detach().numpy(), f"loss.{suffix}": np.array(loss.item(), dtype=np.float64)}
    for name, p in model.named_parameters():
        result[f"grad.{name}.{suffix}"] = p.grad.detach().numpy().copy()
    return result


def run_case(folder, name, spec, model, data, loss_fn, steps=40, lr=1e-2):
    inputs, targets = data
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    first = None
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        first = loss.item() if first is None else first
        loss.backward()
        optimizer.step()
    state = model.state_dict()
    assert list(state) == [n for n, _ in model.named_parameters()], "state_dict must hold exactly the parameters"
    write_safetensors(os.path.join(folder, name + ".safetensors"), state,
                      {"format": "pt", "sltsharp.model_spec": json.dumps(spec)})
    arrays = {"inputs": inputs.numpy(), "targets": targets.numpy()}
    arrays.update(reference(model, loss_fn, inputs, targets, "f32", torch.float32))
    arrays.update(reference(model, loss_fn, inputs, targets, "f64", torch.float64))
    model.float()
    np.savez(os.path.join(folder, name + ".npz"), **arrays)
    print(f"{name} ok (loss {first:.4f} -> {arrays['loss.f32']:.4f})")
    return model


def main(folder):
    os.makedirs(folder, exist_ok=True)
    mse = nn.MSELoss()

    def regression(widths, seed):
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(64, widths[0], generator=g)
        mix = torch.randn(widths[0], widths[-1], generator=g)
        return x, torch.tanh(x @ mix) + 0.1 * torch.randn(64, widths[-1], generator=g)

    for seed, activation, widths in [(1, "relu", [3, 16, 16, 2]), (2, "gelu", [3, 12, 8, 2]), (3, "gelu_tanh", [4, 10, 3])]:
        torch.manual_seed(seed)
        spec = {"kind": "mlp", "widths": widths, "activation": activation, "bias": True}
        model = run_case(folder, f"mlp_{activation}", spec, sequential(widths, activation, True), regression(widths, seed), mse)
        if activation == "relu":
            for dtype in ("F16", "BF16", "F64"):
                write_safetensors(os.path.join(folder, f"mlp_relu.{dtype.lower()}.safetensors"), model.state_dict(),
                                  {"format": "pt", "sltsharp.model_spec": json.dumps(spec)}, dtype)

    torch.manual_seed(4)
    widths = [4, 6, 5, 3]
    run_case(folder, "dln", {"kind": "dln", "widths": widths}, sequential(widths, None, False), regression(widths, 4), mse)

    ce = lambda logits, targets: nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    for seed, placement, eps, unembed_bias in [(5, "pre", 1e-5, False), (6, "post", 1e-3, True)]:
        torch.manual_seed(seed)
        spec = {"kind": "transformer", "vocab": 13, "context": 8, "d_model": 16, "heads": 4, "layers": 2,
                "mlp_width": 24, "layer_norm": placement, "layer_norm_eps": eps, "unembed_bias": unembed_bias}
        model = DecoderTransformer(spec)
        check_attention_against_torch_mha(model)
        g = torch.Generator().manual_seed(seed)
        tokens = torch.randint(0, 13, (4, 6), generator=g)  # length 6 < context 8: positions are a prefix
        targets = (3 * tokens + torch.roll(tokens, 1, dims=1) + 1) % 13
        run_case(folder, f"transformer_{placement}", spec, model, (tokens, targets), ce, steps=30, lr=3e-3)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
