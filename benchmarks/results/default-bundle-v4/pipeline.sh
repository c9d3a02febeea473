#!/bin/bash
# The built-in bundle of record, fourth build: the chain of record (train/reproduce_default.sh, VOICES=all, two stages)
# with its first stage taken from the committed weights of the third build (TEACHER=packed: the packed merged-data
# teacher; STUDENT=packed: the third build's student rebuilt from its float32 graph) and its second stage trained here
# (TEACHER2=train: the intonation-stage teacher; the second-stage student is always distilled). The chain writes the
# bundle to work-data/default/bundle-v4; this script scores it and the built-in bundle for the ship rule of README.md,
# measures the listen latency, runs the TensorRT check and the demo, and copies the records here. It does not ship:
# after the rule was read off its output, the bundle replaced the built-in one by hand (README.md, Commands).
source "$(dirname "$0")/../../pipeline/run-env.sh"
set -eo pipefail
R=benchmarks/results/default-bundle-v4
D=work-data/default
RV=work-data/real-voice-dev/suite
IR=work-data/intonation-real/suite
NEW=$D/bundle-v4
mkdir -p $R/evals
pip freeze --exclude-editable > $R/pip-freeze.txt
dpkg-query -W -f '${Package} ${Version}\n' espeak-ng espeak-ng-data 'mbrola*' > $R/debian-packages.txt
[ -f $RV/suite.json ] || WORK=work-data/real-voice-dev bash benchmarks/real_voice_dev.sh none
[ -f $IR/suite.json ] || python benchmarks/intonation_real_suite.py \
  --corpus work-data/real-voice-dev/corpus/all/manifest.jsonl --out $IR
[ -f $NEW/manifest.json ] || TEACHER=packed TEACHER2=train STUDENT=packed OUT=$NEW \
  bash train/reproduce_default.sh $D 2>&1 | tee $D/chain.log
# The chain scored its teacher and bundle on suite-test and suite-holdout; the rest here, with the built-in bundle
# (the third build, still in slap_edge/assets/default) on the same suites for the rule.
declare -A SUITES=([test]=$D/suite-test [holdout]=$D/suite-holdout [real]=$RV [into-real]=$IR)
for s in test holdout real into-real; do
  for m in builtin bundle teacher; do
    case $m in builtin) model=default ;; bundle) model=$NEW ;; teacher) model=$D/teacher2 ;; esac
    f=$R/evals/$m-$s
    if [ $m != builtin ] && [ -f $D/eval-$m-$s.json ]; then cp $D/eval-$m-$s.json $f.json; cp $D/eval-$m-$s.md $f.md; fi
    [ -f $f.json ] || slap-edge eval --suite ${SUITES[$s]} --model $model --json $f.json --markdown $f.md
  done
done
slap-edge bench --bundle $NEW --backend ort-cpu --threads 1 --seconds 60 --rounds 3 --no-peers \
  --json $R/bench-listen.json --markdown $R/bench-listen.md
slap-edge trt check $NEW > $R/trt-check.txt 2>&1 || true
slap-edge listen --bundle $NEW --prompts demographics --input slap_edge/assets/demo/two_speakers.wav --fast \
  | grep '"event"' > $R/demo-events.jsonl
cp $D/export.log $D/record.json $R/
cp $D/teacher2/metrics.csv $R/teacher-metrics.csv
cp $D/student2-intonation/metrics.csv $R/student-metrics.csv
cp $NEW/MODEL_CARD.md $R/MODEL_CARD.md
python - $R <<'PY'
import json, sys
from pathlib import Path
r = Path(sys.argv[1]) / "evals"
for p in sorted(r.glob("*.json")):
    d = json.loads(p.read_text())
    lp = d["linear_probe"].get("mean_macro_f1") if isinstance(d.get("linear_probe"), dict) else None
    print(f"{p.stem:20s} {d['provenance']['suite_hash'][:8]} zero-shot {d['zero_shot']['mean_macro_f1']:.3f} probe {lp}")
PY
echo "all done $(date)"
