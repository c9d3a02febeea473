#!/usr/bin/env bash
# teacher-base on a lent GPU machine, from the repo root, with pack.py's folder carried as .devpack (see README.md).
# 1. installs the carried wheels and rebuilds MiniLM; 2. a 60-step calibration run measures clips/s; 3. a run sized
# to RUN_MIN minutes from that rate (--max-minutes as a backstop); 4. a small suite from the packed test clips and
# slap-edge eval on it. $OUT gets log.txt, the two metrics CSVs, the run's recipe and state, nvidia-smi samples, eval.
set -euo pipefail
RUN_MIN=${RUN_MIN:-6}
RECIPE=${RECIPE:-train/recipes/teacher-base.json}
CALIB_STEPS=${CALIB_STEPS:-60}
OUT=${OUT:-/tmp/out}
PACK=${PACK:-.devpack}
SITE=${SITE:-/tmp/site}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1  # one log: at most 8 files come back from the machine
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
PY=${PY:-python3}
t0=$(date +%s)
if [ -d "$PACK/whl" ] && ls "$PACK"/whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$PACK"/whl/*.whl
fi
$PY benchmarks/device/unpack_minilm.py "$PACK/minilm" "$SITE"
export PYTHONPATH=$SITE:$PWD
se() { $PY -c 'from slap_edge.cli import main; main()' "$@"; }
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || true; }
$PY -c "import sys,torch,timm,transformers;print(sys.version.split()[0],'torch',torch.__version__,'timm',timm.__version__,\
'transformers',transformers.__version__,'cuda',torch.cuda.is_available(),torch.cuda.get_device_name() if torch.cuda.is_available() else '')"
nproc | sed 's/^/cpus /'

# -- calibration ------------------------------------------------------------------------------------------------------
$PY - "$RECIPE" /tmp/calib.json "$CALIB_STEPS" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1])); n = int(sys.argv[3])
r.update(steps=n, warmup_steps=n, checkpoint_every=n, log_every=n // 3)
json.dump(r, open(sys.argv[2], "w"), indent=1)
PYEOF
rm -rf /tmp/calib-run
se train --recipe /tmp/calib.json --data "$PACK/data" --out /tmp/calib-run --no-progress
cp /tmp/calib-run/metrics.csv "$OUT/calib-metrics.csv"
echo "setup + calibration: $(( $(date +%s) - t0 )) s"

# -- the run, sized from the calibration's last interval ------------------------------------------------------------
$PY - "$RECIPE" /tmp/calib-run/metrics.csv /tmp/run-recipe.json "$RUN_MIN" <<'PYEOF'
import csv, json, sys
r = json.load(open(sys.argv[1])); rows = list(csv.DictReader(open(sys.argv[2])))
cps = float(rows[-1]["clips_per_s"]); minutes = float(sys.argv[4])
steps = max(100, int(0.92 * cps * 60 * minutes / r["batch_size"]))
r.update(steps=steps, warmup_steps=max(20, steps // 20), checkpoint_every=steps, log_every=max(10, steps // 60))
json.dump(r, open(sys.argv[3], "w"), indent=1)
print(f"calibration: {cps:.0f} clips/s at batch {r['batch_size']} -> {steps} steps for {minutes} min")
PYEOF
cp /tmp/run-recipe.json "$OUT/run-recipe.json"
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 10 > "$OUT/smi.csv" 2>/dev/null &
SMI=$!
rm -rf /tmp/run
se train --recipe /tmp/run-recipe.json --data "$PACK/data" --out /tmp/run --no-progress \
  --max-minutes "$($PY -c "print($RUN_MIN + 0.5)")"
kill $SMI 2>/dev/null || true
cp /tmp/run/metrics.csv /tmp/run/state.json "$OUT/"
# Caption tokens outside the embedding rows pack.py kept (those rows were rebuilt as zeros): a sample of 50,000
# (clip, epoch) captions over the epochs this run went through.
$PY - "$PACK/data" /tmp/run/state.json "$SITE/minilm_kept_ids.pt" <<'PYEOF'
import json, random, sys, torch
from pathlib import Path
from slap_edge.data.captions import clip_seed, make_captions
from slap_edge.models.text import tokenize
rows = [json.loads(l) for l in (Path(sys.argv[1]) / "manifest.jsonl").read_text().splitlines() if l.strip()]
rows = [r for r in rows if r["split"] == "train"]
seed = json.loads((Path(sys.argv[1]) / "synth.json").read_text())["seed"]
epochs = max(1, int(json.loads(Path(sys.argv[2]).read_text())["epoch"]) + 1)
kept = set(torch.load(sys.argv[3]).tolist()); rng = random.Random(0); texts = []
for _ in range(50000):
    r = rng.choice(rows); texts += make_captions(r["attributes"], clip_seed(seed, r["id"]), rng.randrange(epochs), 1)
ids, mask = tokenize(texts, 64); used = ids[mask.bool()].tolist()
missing = sum(1 for t in used if t not in kept)
print(f"caption tokens outside the kept MiniLM rows: {missing} of {len(used)} ({epochs} epochs sampled)")
PYEOF

# -- a small suite from the packed test clips, and the evaluation ------------------------------------------------------
se data suite --from "$PACK/data" --out /tmp/suite --clips-per-class 20 --overwrite 2>&1 | tail -n 30
dev=cpu; $PY -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' && dev=cuda
se eval --suite /tmp/suite --model /tmp/run --device $dev --json "$OUT/eval.json" --markdown "$OUT/eval.md" 2>&1 | tail -n 40
echo "total: $(( $(date +%s) - t0 )) s"
