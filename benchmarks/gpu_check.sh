#!/usr/bin/env bash
# The GPU check: the default study on the embedded model with device = "cuda", the ICL scoring benchmark and the
# fine-tuning benchmark, one summary line each (under 8 minutes on one GPU).
#
#   benchmarks/gpu_check.sh                      # on a machine with a GPU
#   benchmarks/gpu_check.sh --device cpu --reduced --model DIR   # CI: a tiny model, a tiny study, a few steps
#
# --reduced swaps the default study for gpu_check_reduced.toml (one small world: pretrained, ICL, FT; two
# fine-tuning steps) and runs the benchmarks on a small world for a few steps: it checks that every piece runs on
# the device, not its speed.
# lm-eval is skipped (the `bench` extra is not needed). PYTHON picks the interpreter (default: python).
set -euo pipefail

device=cuda
model=smollm2-135m
reduced=0
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --reduced) reduced=1; shift ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu_check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$device" in
  cpu|cuda|cuda:[0-9]*) ;;
  *) echo "gpu_check: --device must be cpu, cuda or cuda:N, got $device" >&2; exit 2 ;;
esac
python="${PYTHON:-python}"
here="$(cd "$(dirname "$0")" && pwd)"
out="${out:-$(mktemp -d)}"
mkdir -p "$out"

# 1. the study
if [ "$reduced" = 1 ]; then
  config="$out/reduced.toml"  # gpu_check_reduced.toml on the chosen model (top-level keys go before its tables)
  { printf 'models = ["%s"]\n' "$model"; cat "$here/gpu_check_reduced.toml"; } > "$config"
else
  config="$here/../configs/default.toml"
fi
start=$(date +%s)
"$python" -m icft.cli study "$config" --out "$out/study" --device "$device" --no-report > "$out/study.log" 2>&1 \
  || { tail -n 20 "$out/study.log" >&2; exit 1; }
"$python" - "$out/study" "$(( $(date +%s) - start ))" "$device" <<'EOF'
import sqlite3, sys, json
from pathlib import Path

db = Path(sys.argv[1]) / "results.db"
runs = sqlite3.connect(db).execute("SELECT status, config FROM runs").fetchall()
precisions = sorted({json.loads(config).get("precision", "float32") for _, config in runs})
finished = sum(status == "finished" for status, _ in runs)
print(f"gpu_check study: cells={finished}/{len(runs)} seconds={sys.argv[2]} device={sys.argv[3]} "
      f"precision={','.join(precisions)}")
EOF

# 2. the ICL scoring benchmark, 3. the fine-tuning benchmark
if [ "$reduced" = 1 ]; then
  scoring=(--world reversals --naive-items 1 --documents 16)
  training=(--steps 2 --warmup 1)
else
  scoring=()
  training=()
fi
"$python" "$here/icl_scoring.py" --model "$model" --device "$device" --lm-eval-items 0 "${scoring[@]}" \
  > "$out/icl_scoring.log" 2>&1 || { tail -n 20 "$out/icl_scoring.log" >&2; exit 1; }
grep '^icl_scoring:' "$out/icl_scoring.log"
"$python" "$here/finetune_throughput.py" --model "$model" --device "$device" "${training[@]}" \
  > "$out/finetune_throughput.log" 2>&1 || { tail -n 20 "$out/finetune_throughput.log" >&2; exit 1; }
grep '^finetune_throughput:' "$out/finetune_throughput.log"
