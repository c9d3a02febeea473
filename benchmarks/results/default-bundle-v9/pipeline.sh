#!/bin/bash
# The ninth build (candidate), README.md: the eighth build's second-stage teacher trained again and packed, then the
# plain second-stage student (train/recipes/student-distil-on.json) for each seed of SEEDS (default "1 2"), each
# scored on the four suites beside the teacher. It does not ship. Resumable: every step skips what it finds done.
# The work folder's corpora and suites were made by experiments/student-third-stage/run.sh with the chain's commands.
source "$(dirname "$0")/../../pipeline/run-env.sh"
set -eo pipefail
R=benchmarks/results/default-bundle-v9
D=work-data/third-stage
RV=work-data/real-voice-dev/suite
IR=work-data/intonation-real/suite
T2=train/recipes/teacher-tune-intonation-long.json
S2R=train/recipes/student-distil-on.json
PACKED=train/checkpoints/default-teacher-intonation-long
SEEDS=${SEEDS:-1 2}
mkdir -p $R/evals
[ -f $R/pip-freeze.txt ] || pip freeze --exclude-editable > $R/pip-freeze.txt
[ -f $R/debian-packages.txt ] || dpkg-query -W -f '${Package} ${Version}\n' espeak-ng espeak-ng-data 'mbrola*' \
  > $R/debian-packages.txt
declare -A SUITES=([test]=$D/suite-test [holdout]=$D/suite-holdout [real]=$RV [into-real]=$IR)
# Step 1: the second-stage teacher, the chain's command (train/reproduce_default.sh, TEACHER2=train), from the
# committed first-stage teacher (TEACHER=packed). Skipped once the packed teacher exists.
if [ ! -f $PACKED/pack.json ]; then
  [ -f $D/teacher/config.json ] || cp -r train/checkpoints/default-teacher-merged $D/teacher
  while pgrep -f "slap-edge train --recipe $T2" > /dev/null; do sleep 30; done
  slap-edge train --recipe $T2 --data $D/corpus-train2 --out $D/teacher2 --init-from $D/teacher --no-progress \
    --exclude-holdout $D/suite-holdout/holdout.json $([ -f $D/teacher2/state.json ] && echo --resume) \
    2>&1 | tee -a $D/teacher2.log
  TEACHER_RUN=$D/teacher2
else
  TEACHER_RUN=$PACKED
fi
for s in test holdout; do
  f=$R/evals/teacher-$s
  [ -f $f.json ] || slap-edge eval --suite ${SUITES[$s]} --model $TEACHER_RUN --json $f.json --markdown $f.md
done
# Step 2: the gate (README.md): students only if the teacher's mean over the two synthetic suites is >= 0.895.
python - $R/evals <<'PY' | tee $R/teacher-gate.txt
import json, sys
from pathlib import Path
z = [json.loads((Path(sys.argv[1]) / f"teacher-{s}.json").read_text())["zero_shot"]["mean_macro_f1"] for s in ("test", "holdout")]
m = sum(z) / 2
print(f"teacher zero-shot: held-out speakers {z[0]:.4f}, held-out voices {z[1]:.4f}, mean {m:.4f} (gate 0.895):",
      "passed" if m >= 0.895 else "not passed")
PY
grep -q ' passed$' $R/teacher-gate.txt || { echo "gate not passed: no students trained"; exit 0; }
# Step 3: pack the teacher (committed, so that the chain's TEACHER2=packed finds it).
if [ ! -f $PACKED/pack.json ]; then
  python -m slap_edge.train.pack $D/teacher2 $PACKED
  cp $D/teacher2/metrics.csv $R/teacher-metrics.csv
fi
# Step 4: the students, the chain's commands (STUDENT=packed: the first-stage student rebuilt from its float32 graph).
[ -f $D/teacher/config.json ] || cp -r train/checkpoints/default-teacher-merged $D/teacher
[ -f $D/student/from_bundle.json ] || python -m slap_edge.train.from_bundle train/checkpoints/default-student-v3 \
  --teacher $D/teacher --recipe train/recipes/default-student-v3.json --out $D/student
for seed in $SEEDS; do
  S=$D/v9-student-s$seed
  python -c 'import json, sys; r = json.load(open(sys.argv[1])); r["seed"] = int(sys.argv[2]); print(json.dumps(r, indent=2))' \
    $S2R $seed > $D/v9-student-s$seed.json
  slap-edge distill --teacher $PACKED --recipe $D/v9-student-s$seed.json --data $D/corpus-train2 --out $S \
    --init-from $D/student --no-progress --exclude-holdout $D/suite-holdout/holdout.json \
    $([ -f $S/state.json ] && echo --resume) 2>&1 | tee -a $S.log
  [ -f $S-bundle/manifest.json ] || slap-edge export --model $S --out $S-bundle \
    --profile export/profiles/default-bundle.json --int8 --with-text --calibration $D/corpus --suite $D/suite-test \
    2>&1 | tee $R/export-s$seed.log
  cp $S/metrics.csv $R/student-s$seed-metrics.csv
  for s in test holdout real into-real; do
    f=$R/evals/bundle-s$seed-$s
    [ -f $f.json ] || slap-edge eval --suite ${SUITES[$s]} --model $S-bundle --json $f.json --markdown $f.md
  done
done
for s in real into-real; do
  f=$R/evals/teacher-$s
  [ -f $f.json ] || slap-edge eval --suite ${SUITES[$s]} --model $PACKED --json $f.json --markdown $f.md
done
python benchmarks/pipeline/eval_summary.py --tasks hoarse_vs_clear,tremor_vs_steady,elderly_vs_adult $R/evals
echo "all done $(date)"
