#!/usr/bin/env python3
"""Turns the raw outputs collected by benchmarks/run-side-by-side.sh into markdown ratio tables (medians over repeats).

Usage: /usr/bin/python3 benchmarks/compare/side_by_side_table.py OUTDIR
OUTDIR holds train-ours.txt (training-table lines), train-torch2.txt / train-torch1.txt (torch_training_step.py lines),
sgld-ours.txt (sgld-table lines) and sgld-torch.txt (torch_sgld_llc.py lines), each appended once per repeat.
"""
import os
import re
import statistics
import sys

TRAIN_TARGETS = {"DeepLinearNetwork": 5.0, "Mlp": 3.0, "Transformer": 5.0}
TRAIN_NAMES = {"DeepLinearNetwork": "DLN 5×50, batch 100", "Mlp": "MLP 784-256-256-10, batch 128",
               "Transformer": "Transformer 2 layers, d 64, 4 heads, ctx 16, vocab 64, batch 32"}
SGLD_TARGETS = {"tms-2x6": 30.0, "dln-5x50": 10.0, "dln-10x100": 5.0, "mlp-784-256-256-10": 3.0}


def lines(outdir, name):
    path = os.path.join(outdir, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def collect(rows, pattern):
    values = {}
    for line in rows:
        m = re.match(pattern, line)
        if m:
            values.setdefault(m.group(1), []).append(m.groups()[1:])
    return values


def med(xs):
    return statistics.median(float(x) for x in xs)


def training(outdir):
    ours = collect(lines(outdir, "train-ours.txt"), r"(\w+)\s+wall median\s+([\d.]+) µs/step.*thread CPU median ([\d.]+)")
    t2 = collect(lines(outdir, "train-torch2.txt"), r"(\w+) ([\d.]+) ms/step")
    t1 = collect(lines(outdir, "train-torch1.txt"), r"(\w+) ([\d.]+) ms/step")
    if not ours:
        return
    print("| model | SltSharp ms/step (wall; main thread CPU) | PyTorch 2 threads ms/step | PyTorch 1 thread | ratio vs torch 2T | ratio vs 1T | target |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, vals in ours.items():
        wall = med(v[0] for v in vals) / 1000
        cpu = med(v[1] for v in vals) / 1000
        a = med(v[0] for v in t2[name]) if name in t2 else float("nan")
        b = med(v[0] for v in t1[name]) if name in t1 else float("nan")
        target = TRAIN_TARGETS.get(name, float("nan"))
        ratio = a / wall
        verdict = "met" if ratio >= target else "not met"
        print(f"| {TRAIN_NAMES.get(name, name)} | {wall:.3f} ({cpu:.3f}) | {a:.3f} | {b:.3f} | {ratio:.1f}× | {b / wall:.1f}× | {target:g}× ({verdict}) |")
    print(f"\n(medians over {len(next(iter(ours.values())))} interleaved repeats)\n")


def sgld(outdir):
    pattern = r"(\S+) (\d+) steps/s, llc ([-\d.naninf]+) \+- ([-\d.naninf]+) \((\d+) chains"
    ours = collect(lines(outdir, "sgld-ours.txt"), pattern)
    torch = collect(lines(outdir, "sgld-torch.txt"), pattern)
    if not ours:
        return
    print("| workload | SltSharp steps/s (chains) | PyTorch steps/s (chains) | ratio | target | LLC SltSharp | LLC PyTorch | difference / combined SE |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, vals in ours.items():
        s_ours = med(v[0] for v in vals)
        llc_o, se_o, ch_o = float(vals[0][1]), float(vals[0][2]), vals[0][3]
        if name in torch:
            tv = torch[name]
            s_t = med(v[0] for v in tv)
            llc_t, se_t, ch_t = float(tv[0][1]), float(tv[0][2]), tv[0][3]
            z = (llc_o - llc_t) / ((se_o ** 2 + se_t ** 2) ** 0.5)
            ratio = s_ours / s_t
            target = SGLD_TARGETS.get(name, float("nan"))
            verdict = "met" if ratio >= target else "not met"
            print(f"| {name} | {s_ours:.0f} ({ch_o}) | {s_t:.0f} ({ch_t}) | {ratio:.1f}× | {target:g}× ({verdict}) | "
                  f"{llc_o:.2f} ± {se_o:.2f} | {llc_t:.2f} ± {se_t:.2f} | {z:+.2f} |")
        else:
            print(f"| {name} | {s_ours:.0f} ({ch_o}) | n/a | | | {llc_o:.2f} ± {se_o:.2f} | | |")
    print(f"\n(steps/s: SGLD steps summed over chains per wall-clock second, medians over {len(next(iter(ours.values())))} repeats; "
          "LLC from the first repeat — both sides are seeded, so repeats reproduce it)\n")


def main():
    outdir = sys.argv[1]
    training(outdir)
    sgld(outdir)


if __name__ == "__main__":
    main()
