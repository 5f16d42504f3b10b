#!/usr/bin/env python3
"""SGLD-LLC throughput in PyTorch, the way the reference Python library runs it: chains one after another, each
step w <- w - (eps/2)(nbeta*grad L_B(w) + gamma(w - w*)) + N(0, eps), on the same workloads as `slt llc`.

Usage: /usr/bin/python3 benchmarks/compare/torch_sgld_llc.py [threads] [steps-per-chain] [chains]
Prints one line per workload: "<name> <steps/s summed over chains> steps/s, llc <mean> +- <se>".
Exits 0 with "skipped" when torch is absent.
"""
import math
import sys
import time

try:
    import torch
except ImportError:
    print("skipped: torch is not installed for this interpreter (try /usr/bin/python3)")
    sys.exit(0)


def dln_workload(widths, rank, n, seed):
    """Teacher of the given rank at every layer, data x ~ U[-10, 10]^d as in Lau et al."""
    g = torch.Generator().manual_seed(seed)
    teacher = []
    for i in range(len(widths) - 1):
        a = torch.randn(widths[i + 1], rank, generator=g) @ torch.randn(rank, widths[i], generator=g)
        teacher.append(a / math.sqrt(widths[i] * rank))
    x = (torch.rand(n, widths[0], generator=g) * 20 - 10)
    y = x
    for w in teacher:
        y = y @ w.T
    def loss(params, idx):
        out = x[idx]
        for w in params:
            out = out @ w.T
        return ((out - y[idx]) ** 2).mean()
    return teacher, loss


def run(name, wstar, loss, n, batch, eps, steps, chains, burnin_fraction=0.1):
    nbeta = n / math.log(n)
    gamma = 1.0
    with torch.no_grad():
        full = loss(wstar, torch.arange(n)).item()
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
            if s >= burnin_fraction * steps:
                total += l.item()
                count += 1
        llcs.append(nbeta * (total / count - full))
    elapsed = time.perf_counter() - start
    mean = sum(llcs) / len(llcs)
    se = (sum((v - mean) ** 2 for v in llcs) / (len(llcs) - 1) / len(llcs)) ** 0.5 if len(llcs) > 1 else float("nan")
    print(f"{name} {steps * chains / elapsed:.0f} steps/s, llc {mean:.3f} +- {se:.3f} ({chains} chains x {steps} steps, threads={torch.get_num_threads()})")


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    chains = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    torch.set_num_threads(threads)
    n = 10_000
    for name, widths, rank, eps in [("dln-5x50", [50] * 6, 10, 5e-7), ("dln-10x100", [100] * 11, 20, 2e-7)]:
        wstar, loss = dln_workload(widths, rank, n, 0)
        run(name, wstar, loss, n, 100, eps, steps, chains)


if __name__ == "__main__":
    main()
