#!/usr/bin/env bash
# teacher-base trained from shards on a lent GPU machine, then from the same clips as a folder, for comparison.
# From the repository root, with gpu-shards/ (benchmarks/device/shards_pack.sh) and .whl/ carried:
#   bash benchmarks/device/shards_gpu.sh
# Installs the carried wheels, rebuilds MiniLM (unpack_minilm.py), unpacks the carried shards into a corpus folder
# (COPIES copies of each clip) and shards that again with slap-edge data shard, then trains RECIPE (default
# teacher-base, bf16 autocast on CUDA) from the shards for SHARD_MIN minutes and from the folder for FOLDER_MIN
# minutes, nvidia-smi sampling every second. Writes to OUT: log.txt, metrics-{shards,folder}.csv,
# smi-{shards,folder}.csv and summary.json (clips/s and GPU utilisation of each run, its state). Under 8 minutes.
# Dry run on a CPU: PY=.venv/bin/python SKIP_WHEELS=1 DEVICE=cpu RECIPE=train/recipes/teacher-tiny.json
#   SHARD_MIN=0.3 FOLDER_MIN=0.3 OUT=/tmp/out bash benchmarks/device/shards_gpu.sh
set -euo pipefail
SHARD_MIN=${SHARD_MIN:-2.5}
FOLDER_MIN=${FOLDER_MIN:-2}
RECIPE=${RECIPE:-train/recipes/teacher-base.json}
OUT=${OUT:-/tmp/out}
PACK=${PACK:-gpu-shards}
SITE=${SITE:-/tmp/site}
PY=${PY:-python3}
DEVICE=${DEVICE:-auto}
WORK=${WORK:-/tmp/shards-gpu}
mkdir -p "$OUT"
rm -rf "$WORK"
mkdir -p "$WORK"
exec > >(tee -a "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
t0=$(date +%s)
if [ -z "${SKIP_WHEELS:-}" ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl
fi
$PY benchmarks/device/unpack_minilm.py "$PACK/minilm" "$SITE"
export PYTHONPATH=$SITE:$PWD
se() { $PY -c 'from slap_edge.cli import main; main()' "$@"; }
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || true; }
$PY -c "import sys,torch,timm,webdataset;print(sys.version.split()[0],'torch',torch.__version__,'timm',timm.__version__,\
'webdataset',webdataset.__version__,'cuda',torch.cuda.is_available(),torch.cuda.get_device_name() if torch.cuda.is_available() else '')"
nproc | sed 's/^/cpus /'
# The recipe as it is, but with room for any number of steps (--max-minutes ends each run) and a log every 10 steps.
$PY - "$RECIPE" "$WORK/recipe.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
r.update(steps=100000, checkpoint_every=100000, log_every=10)
json.dump(r, open(sys.argv[2], "w"), indent=1)
PYEOF
echo "setup: $(( $(date +%s) - t0 )) s"

run() {  # run NAME DATA MINUTES
  local smi=""
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader -l 1 > "$OUT/smi-$1.csv" &
    smi=$!
  fi
  date +%s.%N > "$WORK/$1.t0"
  se train --recipe "$WORK/recipe.json" --data "$2" --out "$WORK/run-$1" --device "$DEVICE" --no-progress \
    --max-minutes "$3" --cache-dir "$WORK/cache"
  date +%s.%N > "$WORK/$1.t1"
  if [ -n "$smi" ]; then kill "$smi" 2>/dev/null || true; fi
  cp "$WORK/run-$1/metrics.csv" "$OUT/metrics-$1.csv"
  echo "$1 done: $(( $(date +%s) - t0 )) s since start"
}

# The carried clips as a corpus folder, COPIES times each (new ids, so new captions and windows; 150 clips are less
# than one batch of 256), then that folder sharded here by slap-edge data shard. Both runs read the same clips.
$PY - "$PACK/shards" "$WORK/folder" "${COPIES:-8}" <<'PYEOF'
import dataclasses, sys
from pathlib import Path
from slap_edge.data.manifest import write_manifest
from slap_edge.data.shards import read_index, read_shard_records
shards, out, copies = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
(out / "audio").mkdir(parents=True)
records = []
for entry in read_index(shards).shards:
    for key, record, ext, audio in read_shard_records(shards / entry.name):
        path = f"audio/{record.id}.{ext}"
        (out / path).write_bytes(audio)
        records += [dataclasses.replace(record, id=f"{record.id}-x{k}", path=path) for k in range(copies)]
write_manifest(records, out / "manifest.jsonl")
print(f"{len(records)} clips ({copies} x {len(records) // copies} carried) in {out}")
PYEOF
se data shard "$WORK/folder" --out "$WORK/shards" --shard-size 8MB
run shards "$WORK/shards" "$SHARD_MIN"
run folder "$WORK/folder" "$FOLDER_MIN"

$PY - "$WORK" "$OUT" <<'PYEOF'
import csv, json, statistics, sys
from datetime import datetime
from pathlib import Path
work, out = Path(sys.argv[1]), Path(sys.argv[2])
summary = {}
for name in ("shards", "folder"):
    rows = list(csv.DictReader(open(work / f"run-{name}" / "metrics.csv")))
    state = json.loads((work / f"run-{name}" / "state.json").read_text())
    steady = rows[len(rows) // 5 :] or rows  # the first fifth (start-up, workers filling) left out
    cps = [float(r["clips_per_s"]) for r in steady]
    s = {"steps": state["step"], "train_s": round(state["train_s"], 1), "bad_clips": state["bad_clips"],
         "loss_last": round(float(rows[-1]["loss"]), 4), "clips_per_s_median": round(statistics.median(cps), 1),
         "clips_per_s_mean": round(statistics.mean(cps), 1), "log_intervals": len(cps)}
    if "shard_position" in state:
        s["shard_position"] = state["shard_position"]
    smi = out / f"smi-{name}.csv"
    if smi.is_file():
        t0, t1 = (float((work / f"{name}.{k}").read_text()) for k in ("t0", "t1"))
        util = []
        for line in smi.read_text().splitlines():
            parts = [p.strip() for p in line.split(",")]
            try:
                ts = datetime.strptime(parts[0], "%Y/%m/%d %H:%M:%S.%f").timestamp()
                util.append((ts, float(parts[1].rstrip(" %")), float(parts[2].split()[0])))
            except (ValueError, IndexError):
                continue
        # The samples of the training steps: from the first logged step to the end (start-up excluded).
        start = t1 - state["train_s"]
        busy = [u for ts, u, _ in util if ts >= start]
        if busy:
            s["gpu_util_mean"] = round(statistics.mean(busy), 1)
            s["gpu_util_median"] = round(statistics.median(busy), 1)
            s["gpu_mem_mib_max"] = max(m for _, _, m in util)
            s["smi_samples"] = len(busy)
    summary[name] = s
(out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
print(json.dumps(summary, indent=1))
PYEOF
echo "total: $(( $(date +%s) - t0 )) s"
