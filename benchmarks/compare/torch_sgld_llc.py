#!/usr/bin/env python3
"""SGLD-LLC throughput in PyTorch, the way the reference Python library runs it: chains one after another, each
step w <- w - (eps/2)(nbeta*grad L_B(w) + gamma(w - w*)) + N(0, eps), minibatches drawn with replacement, the first
`burnin` steps discarded, llc = nbeta * (mean of the remaining minibatch losses - L_n(w*)) per chain.

The workloads (data, w*, hyperparameters) are the .npz files written by our runner
(`dotnet run -c Release --project benchmarks/SltSharp.Benchmarks -- sgld-table --dir DIR`), so both sides sample
exactly the same task: tms-2x6, dln-5x50, dln-10x100, mlp-784-256-256-10 (DIR/workloads.txt lists them in order).

Usage: /usr/bin/python3 benchmarks/compare/torch_sgld_llc.py [DIR] [threads] [names...]
Prints one line per workload: "<name> <steps/s summed over chains> steps/s, llc <mean> +- <se> (...)".
Exits 0 with "skipped" when torch is absent.
"""
import math
import os
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError:
    print("skipped: torch/numpy are not installed for this interpreter (try /usr/bin/python3)")
    sys.exit(0)


def tms_loss(data):
    x = torch.from_numpy(data["x"])

    def loss(params, idx):
        w, b = params
        xb = x[idx]
        out = torch.relu(xb @ w.T @ w + b)
        return ((xb - out) ** 2).sum(dim=1).mean()

    def split(flat):
        return [flat[:12].reshape(2, 6), flat[12:18]]

    return loss, split, x.shape[0]


def dln_loss(data):
    x, y = torch.from_numpy(data["x"]), torch.from_numpy(data["y"])
    widths = [int(v) for v in data["widths"]]

    def loss(params, idx):
        out = x[idx]
        for w in params:
            out = out @ w.T
        return ((out - y[idx]) ** 2).sum(dim=1).mean()

    def split(flat):
        parts, offset = [], 0
        for hin, hout in zip(widths[:-1], widths[1:]):
            parts.append(flat[offset:offset + hin * hout].reshape(hout, hin))
            offset += hin * hout
        return parts

    return loss, split, x.shape[0]


def mlp_loss(data):
    x, labels = torch.from_numpy(data["x"]), torch.from_numpy(data["labels"].astype(np.int64))
    widths = [int(v) for v in data["widths"]]

    def loss(params, idx):
        out = x[idx]
        for layer in range(len(widths) - 1):
            out = F.linear(out, params[2 * layer], params[2 * layer + 1])
            if layer < len(widths) - 2:
                out = torch.relu(out)
        return F.cross_entropy(out, labels[idx])

    def split(flat):
        parts, offset = [], 0
        for hin, hout in zip(widths[:-1], widths[1:]):
            parts.append(flat[offset:offset + hin * hout].reshape(hout, hin))
            offset += hin * hout
            parts.append(flat[offset:offset + hout])
            offset += hout
        return parts

    return loss, split, x.shape[0]


KINDS = {"tms": tms_loss, "dln": dln_loss, "mlp": mlp_loss}


def run(name, path):
    data = np.load(path)
    kind = "".join(chr(c) for c in data["kind"])
    eps, gamma, nbeta, batch, steps, burnin, chains = data["hyper"].tolist()
    batch, steps, burnin, chains = int(batch), int(steps), int(burnin), int(chains)
    loss, split, n = KINDS[kind](data)
    wstar = [p.clone() for p in split(torch.from_numpy(data["wstar"]))]
    with torch.no_grad():
        full = sum(loss(wstar, torch.arange(s, min(n, s + 4096))).item() * (min(n, s + 4096) - s)
                   for s in range(0, n, 4096)) / n
    llcs = []
    start = time.perf_counter()
    for c in range(chains):
        g = torch.Generator().manual_seed(1000 + c)
        w = [p.clone().requires_grad_(True) for p in wstar]
        total, count = 0.0, 0
        for s in range(steps):
            idx = torch.randint(0, n, (batch,), generator=g)
            l = loss(w, idx)
            grads = torch.autograd.grad(l, w)
            with torch.no_grad():
                for p, p0, gr in zip(w, wstar, grads):
                    p.add_(-(eps / 2) * (nbeta * gr + gamma * (p - p0)) + math.sqrt(eps) * torch.randn(p.shape, generator=g))
            if s >= burnin:
                total += l.item()
                count += 1
        llcs.append(nbeta * (total / count - full))
    elapsed = time.perf_counter() - start
    mean = sum(llcs) / len(llcs)
    se = (sum((v - mean) ** 2 for v in llcs) / (len(llcs) - 1) / len(llcs)) ** 0.5 if len(llcs) > 1 else float("nan")
    params = sum(p.numel() for p in wstar)
    print(f"{name} {steps * chains / elapsed:.0f} steps/s, llc {mean:.3f} +- {se:.3f} "
          f"({chains} chains x {steps} steps, threads={torch.get_num_threads()}, params={params}, torch {torch.__version__})",
          flush=True)


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else os.path.join("benchmarks", "compare", "sgld-data")
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    only = set(sys.argv[3:])
    torch.set_num_threads(threads)
    manifest = os.path.join(directory, "workloads.txt")
    if not os.path.exists(manifest):
        print(f"error: {manifest} not found; write the workloads first with "
              f"`dotnet run -c Release --project benchmarks/SltSharp.Benchmarks -- sgld-table --dir {directory}`")
        sys.exit(2)
    with open(manifest) as f:
        names = [line.strip() for line in f if line.strip()]
    print(f"# torch: {torch.__version__}, float32, {threads} threads, chains one after another")
    for name in names:
        if only and name not in only:
            continue
        run(name, os.path.join(directory, name + ".npz"))


if __name__ == "__main__":
    main()
