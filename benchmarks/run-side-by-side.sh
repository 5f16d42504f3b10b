#!/usr/bin/env bash
# Side-by-side benchmark tables: GEMM (managed kernel vs OpenBLAS), one training step (SltSharp vs PyTorch 1.13) and
# SGLD-LLC throughput with the LLC estimates of both sides. Ours and torch's runs alternate, REPEATS times; the tables
# report medians. Needs the .NET SDK, and Debian's python3-torch for the PyTorch columns (they are skipped without it).
#
# Usage: benchmarks/run-side-by-side.sh [REPEATS=3] [SGLD_STEPS=2000]
# Raw outputs stay in $OUT (printed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${1:-3}
STEPS=${2:-2000}
PY=/usr/bin/python3
OUT=$(mktemp -d /tmp/sltsharp-side-by-side.XXXXXX)

dotnet build -c Release benchmarks/SltSharp.Benchmarks -v q -nologo
BENCH=(dotnet benchmarks/SltSharp.Benchmarks/bin/Release/net10.0/SltSharp.Benchmarks.dll)

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "## GEMM (float, single-threaded managed kernel vs OpenBLAS)"
"${BENCH[@]}" gemm-table | tee "$OUT/gemm.txt"
echo
for r in $(seq "$REPEATS"); do
  echo "repeat $r/$REPEATS: training steps" >&2
  "${BENCH[@]}" training-table 1 1 >> "$OUT/train-ours.txt"
  $PY benchmarks/compare/torch_training_step.py 2 >> "$OUT/train-torch2.txt"
  $PY benchmarks/compare/torch_training_step.py 1 >> "$OUT/train-torch1.txt"
done
for r in $(seq "$REPEATS"); do
  echo "repeat $r/$REPEATS: SGLD" >&2
  "${BENCH[@]}" sgld-table --steps "$STEPS" --dir "$OUT/sgld-data" >> "$OUT/sgld-ours.txt"
  $PY benchmarks/compare/torch_sgld_llc.py "$OUT/sgld-data" 2 >> "$OUT/sgld-torch.txt"
done
echo "## One training step"
$PY benchmarks/compare/side_by_side_table.py "$OUT" | sed -n '/^| model/,/^(medians/p'
echo
echo "## SGLD-LLC"
$PY benchmarks/compare/side_by_side_table.py "$OUT" | sed -n '/^| workload/,/^(steps/p'
echo
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg); raw outputs in $OUT"
