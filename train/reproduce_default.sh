#!/usr/bin/env bash
# Rebuild the built-in default bundle (slap_edge/assets/default) from nothing, with the recorded seeds.
# On the 2-core reference machine: corpus ~40 min, teacher ~75 min, student ~10 min, export + eval ~5 min.
# Usage: bash train/reproduce_default.sh [WORK_DIR]   (env: CLIPS, SEED, TEACHER_RECIPE, STUDENT_RECIPE, OUT)
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
SE=${SLAP_EDGE:-.venv/bin/slap-edge}
WORK=${1:-work-data/default}
CLIPS=${CLIPS:-20000}
SEED=${SEED:-11}
TEACHER_RECIPE=${TEACHER_RECIPE:-train/recipes/default-teacher.json}
STUDENT_RECIPE=${STUDENT_RECIPE:-train/recipes/default-student.json}
OUT=${OUT:-slap_edge/assets/default}
# Voices never heard in training: the suite built from them alone measures transfer to unheard voices.
HOLDOUT=${HOLDOUT:-voice=mb-us1,voice=mb-us3,voice=mb-fr4,voice=mb-fr1,voice=mb-de5,voice=mb-nl2}
mkdir -p "$WORK"
# The default corpus mixes espeak-ng and MBROLA voices; without MBROLA the corpus (and so the model) differs.
command -v mbrola >/dev/null || { echo "MBROLA is not installed: run 'sudo make mbrola-voices' first" >&2; exit 1; }

"$SE" data synth --out "$WORK/corpus" --clips "$CLIPS" --seed "$SEED" --jobs "$(nproc)"
"$SE" data stats "$WORK/corpus" > "$WORK/corpus-stats.txt"
"$SE" data suite --from "$WORK/corpus" --out "$WORK/suite-test" --seed "$SEED" --overwrite
"$SE" data suite --from "$WORK/corpus" --out "$WORK/suite-holdout" --holdout-voices "$HOLDOUT" --seed "$SEED" \
  --overwrite
"$SE" train --recipe "$TEACHER_RECIPE" --data "$WORK/corpus" --out "$WORK/teacher" \
  --exclude-holdout "$WORK/suite-holdout/holdout.json" $([ -f "$WORK/teacher/state.json" ] && echo --resume)
"$SE" distill --teacher "$WORK/teacher" --recipe "$STUDENT_RECIPE" --data "$WORK/corpus" --out "$WORK/student" \
  --exclude-holdout "$WORK/suite-holdout/holdout.json" $([ -f "$WORK/student/state.json" ] && echo --resume)
rm -rf "$OUT.new"
"$SE" export --model "$WORK/student" --out "$OUT.new" --int8 --with-text --calibration "$WORK/corpus" \
  --suite "$WORK/suite-test"
rm -rf "$OUT" && mv "$OUT.new" "$OUT"
"$SE" eval --suite "$WORK/suite-test" --model "$WORK/teacher" --json "$WORK/eval-teacher-test.json"
"$SE" eval --suite "$WORK/suite-test" --model "$OUT" --json "$WORK/eval-default-test.json"
"$SE" eval --suite "$WORK/suite-holdout" --model "$OUT" --json "$WORK/eval-default-holdout.json"
PY=$(dirname "$SE")/python
"$PY" -m slap_edge.export.card --teacher "$WORK/teacher" --student "$WORK/student" --corpus "$WORK/corpus" \
  --holdout "$WORK/suite-holdout/holdout.json" \
  --eval "Held-out speakers (suite from the corpus' test split)" "$WORK/eval-default-test.json" \
  --eval "Held-out voices (never heard in training)" "$WORK/eval-default-holdout.json" \
  --out "$WORK/card-sections.md"
"$SE" bundle card "$OUT" --append "$WORK/card-sections.md"
echo "default bundle rebuilt in $OUT; evaluations in $WORK/eval-*.json"
