#!/bin/bash
# The built-in bundle, fifth build: the fourth build's chain (train/reproduce_default.sh, VOICES=all, two stages, the
# first stage from the committed weights) with the second stage's recipes set to draw age independently of the voice
# (README.md). The chain writes the bundle to work-data/v5/bundle; this script scores it and the built-in (fourth)
# bundle for the ship rule of README.md, checks the demo's man per voice (experiments/demo-us2-age/check.py), measures
# the listen latency, runs the TensorRT check and the demo, and copies the records here. It does not ship.
source "$(dirname "$0")/../../pipeline/run-env.sh"
set -eo pipefail
R=benchmarks/results/default-bundle-v5
D=work-data/v5
RV=work-data/real-voice-dev/suite
IR=work-data/intonation-real/suite
NEW=$D/bundle
mkdir -p $R/evals
pip freeze --exclude-editable > $R/pip-freeze.txt
dpkg-query -W -f '${Package} ${Version}\n' espeak-ng espeak-ng-data 'mbrola*' > $R/debian-packages.txt
[ -f $RV/suite.json ] || WORK=work-data/real-voice-dev bash benchmarks/real_voice_dev.sh none
[ -f $IR/suite.json ] || python benchmarks/intonation_real_suite.py \
  --corpus work-data/real-voice-dev/corpus/all/manifest.jsonl --out $IR
[ -f $NEW/manifest.json ] || TEACHER=packed TEACHER2=train STUDENT=packed OUT=$NEW \
  TEACHER2_RECIPE=train/recipes/teacher-tune-voice-age.json STUDENT2_RECIPE=train/recipes/student-distil-on-voice-age.json \
  bash train/reproduce_default.sh $D 2>&1 | tee $D/chain.log
# The chain scored its teacher and bundle on suite-test and suite-holdout; the rest here, with the built-in bundle
# (the fourth build, still in slap_edge/assets/default) on the same suites for the rule.
declare -A SUITES=([test]=$D/suite-test [holdout]=$D/suite-holdout [real]=$RV [into-real]=$IR)
for s in test holdout real into-real; do
  for m in builtin bundle teacher; do
    case $m in builtin) model=default ;; bundle) model=$NEW ;; teacher) model=$D/teacher2 ;; esac
    f=$R/evals/$m-$s
    if [ $m != builtin ] && [ -f $D/eval-$m-$s.json ]; then cp $D/eval-$m-$s.json $f.json; cp $D/eval-$m-$s.md $f.md; fi
    [ -f $f.json ] || slap-edge eval --suite ${SUITES[$s]} --model $model --json $f.json --markdown $f.md
  done
done
for m in slap_edge/assets/default $NEW; do python experiments/demo-us2-age/check.py $m work-data/default/corpus; done > $R/demo-us2-age.txt
slap-edge listen --bundle default --prompts demographics --input slap_edge/assets/demo/two_speakers.wav --fast \
  | grep '"event"' > $R/demo-events-builtin.jsonl
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
