#!/usr/bin/env bash
# Rebuild the built-in default bundle (slap_edge/assets/default) from nothing, with the recorded seeds and steps.
#
#   bash train/reproduce_default.sh [WORK_DIR]          (make reproduce-default; make reproduce-default VOICES=espeak)
#
# env: VOICES=all|espeak (espeak: no MBROLA voice, so no non-commercial data), CLIPS, SPEAKERS, SEED, JOBS,
#      TEACHER_RECIPE, STUDENT_RECIPE, STUDENT2_RECIPE, STUDENT2_DATA, PROFILE, HOLDOUT, OUT, SLAP_EDGE,
#      TEACHER=train|packed (packed: skip the teacher's training and distil from the committed packed teacher,
#      train/checkpoints/default-teacher-merged for VOICES=all (the exact weights of the built-in bundle's teacher)
#      or train/checkpoints/default-espeak-teacher for VOICES=espeak; for CPUs where training it would take hours.
#      The corpora are still made here: the student is distilled on them.)
#
# VOICES=all (the built-in bundle) trains on two corpora merged: the default corpus (espeak-ng + 35 MBROLA voices;
# its suites are the suites of record) and an espeak-ng-only corpus of other speakers (what VOICES=espeak makes,
# clip ids prefixed "es"). VOICES=espeak trains on the espeak-ng-only corpus alone.
#
# Every stage is step-based and resumable: run the script again after an interruption and it continues where it
# stopped (the corpus clip by clip, the teacher and the student from their last checkpoint, exactly). No stage is cut
# by a time budget: `distill` and `export` refuse a run that stopped before its recipe's last step.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
SE=${SLAP_EDGE:-.venv/bin/slap-edge}
PY=$(dirname "$SE")/python
VOICES=${VOICES:-all}
case "$VOICES" in
  all) WORK=${1:-work-data/default}
       HOLDOUT=${HOLDOUT:-voice=mb-us1,voice=mb-us3,voice=mb-fr4,voice=mb-fr1,voice=mb-de5,voice=mb-nl2}
       OUT=${OUT:-slap_edge/assets/default}
       STUDENT_RECIPE=${STUDENT_RECIPE:-train/recipes/default-student-v3.json}
       PACKED_TEACHER=train/checkpoints/default-teacher-merged ;;
  espeak) WORK=${1:-work-data/default-espeak}
       # Held-out voice families of an espeak-ng-only corpus: two of its variants, in every language.
       HOLDOUT=${HOLDOUT:-voice=*+m3,voice=*+f2}
       OUT=${OUT:-work-data/default-espeak/bundle}
       STUDENT_RECIPE=${STUDENT_RECIPE:-train/recipes/default-student-v2.json}
       PACKED_TEACHER=train/checkpoints/default-espeak-teacher ;;
  *) echo "VOICES must be 'all' (espeak-ng + MBROLA, the built-in bundle) or 'espeak' (no non-commercial voices)" >&2
     exit 2 ;;
esac
CLIPS=${CLIPS:-20000}
SPEAKERS=${SPEAKERS:-5000}
SEED=${SEED:-11}
JOBS=${JOBS:-$(nproc)}
TEACHER_RECIPE=${TEACHER_RECIPE:-train/recipes/default-teacher.json}
# The student's second stage: distilled on from the first stage's weights (`distill --init-from`) with its own
# schedule. STUDENT2_DATA=real merges the real-voice training speech (Debian packages: benchmarks/real_voice_dev.sh,
# which needs `apt-get update` once) into the corpus for it; corpus uses the synthetic corpus alone. Off by default
# (STUDENT2_RECIPE empty): the built-in bundle has no second stage. STUDENT2_RECIPE=train/recipes/student-distil-on.json
# turns it on (an experiment, not yet the built-in bundle's chain).
STUDENT2_RECIPE=${STUDENT2_RECIPE-}
STUDENT2_DATA=${STUDENT2_DATA:-real}
TEACHER=${TEACHER:-train}
PROFILE=${PROFILE:-export/profiles/default-bundle.json}
mkdir -p "$WORK"

if [ "$VOICES" = all ]; then
  # The default corpus mixes espeak-ng and 35 MBROLA voices; with fewer installed the corpus (and model) differs.
  command -v mbrola >/dev/null || { echo "MBROLA is not installed: run 'sudo make mbrola-voices-extra' first" >&2; exit 1; }
  n_mbrola=$(ls /usr/share/mbrola 2>/dev/null | wc -l)
  [ "$n_mbrola" -ge 43 ] || echo "WARNING: $n_mbrola MBROLA voice folders in /usr/share/mbrola (the default corpus was made with" \
    "the 43 of 'make mbrola-voices-extra', 35 of them usable): this corpus will differ from the built-in bundle's" >&2
fi

# What to expect on this CPU: the teacher recipe's steps of batch 64 at measured rates (2 cores; see
# benchmarks/results/default-bundle/README.md): bf16 autocast 110 clips/s on a 2-vCPU Intel Xeon with AMX (2026-12-04),
# 234 on a 2-core AMD EPYC with AVX512-BF16 (2026-11-28); float32 on an AVX2-only EPYC about 60.
steps=$(grep -o '"steps": *[0-9]*' "$TEACHER_RECIPE" | grep -o '[0-9]*$')
ssteps=$(grep -o '"steps": *[0-9]*' "$STUDENT_RECIPE" | grep -o '[0-9]*$')
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
if [[ "$flags" == *avx512_bf16* || "$flags" == *amx_bf16* ]]; then
  echo "CPU has native bf16 (AVX512-BF16/AMX): the teacher's $steps steps train with bf16 autocast at 110-234 clips/s" \
    "on 2 cores: $((steps * 64 / 234 / 60))-$((steps * 64 / 110 / 60)) min; the corpus 20-40 min (VOICES=all: two" \
    "corpora); student ($ssteps steps at about 90 clips/s: $((ssteps * 64 / 90 / 60)) min), export and evals 10 min"
else
  echo "CPU without native bf16 (e.g. AVX2 only): the teacher's $steps steps train in float32 at about 60 clips/s on" \
    "2 cores: about $((steps * 64 / 60 / 60)) min; the corpus 25-40 min (VOICES=all: two corpora); student ($ssteps" \
    "steps at about 60 clips/s: $((ssteps * 64 / 60 / 60)) min), export and evals 15 min." \
    "Every stage resumes: rerun this script after an interruption. NOTE: a float32 run is not the bf16 model the" \
    "built-in bundle was trained as; its figures will differ slightly."
fi

"$SE" data synth --out "$WORK/corpus" --clips "$CLIPS" --speakers "$SPEAKERS" --seed "$SEED" --jobs "$JOBS" \
  --voices "$VOICES"
"$SE" data stats "$WORK/corpus" > "$WORK/corpus-stats.txt"
TRAIN="$WORK/corpus"
if [ "$VOICES" = all ]; then
  # The second corpus: espeak-ng voices only, other speakers (the plan of VOICES=espeak), merged in for training.
  "$SE" data synth --out "$WORK/corpus-espeak" --clips "$CLIPS" --speakers "$SPEAKERS" --seed "$SEED" --jobs "$JOBS" \
    --voices espeak
  [ -f "$WORK/corpus-train/manifest.jsonl" ] || "$SE" data merge "$WORK/corpus" "$WORK/corpus-espeak" \
    --id-prefix '' --id-prefix es --out "$WORK/corpus-train"
  "$SE" data stats "$WORK/corpus-train" > "$WORK/corpus-train-stats.txt"
  TRAIN="$WORK/corpus-train"
fi
"$SE" data suite --from "$WORK/corpus" --out "$WORK/suite-holdout" --holdout-voices "$HOLDOUT" --seed "$SEED" \
  --overwrite
"$SE" data suite --from "$WORK/corpus" --out "$WORK/suite-test" --seed "$SEED" \
  --exclude-holdout "$WORK/suite-holdout/holdout.json" --overwrite
case "$TEACHER" in
  train)
    "$SE" train --recipe "$TEACHER_RECIPE" --data "$TRAIN" --out "$WORK/teacher" --no-progress \
      --exclude-holdout "$WORK/suite-holdout/holdout.json" $([ -f "$WORK/teacher/state.json" ] && echo --resume) ;;
  packed)
    [ -f "$PACKED_TEACHER/config.json" ] || { echo "TEACHER=packed: $PACKED_TEACHER is missing (VOICES=$VOICES)" >&2; exit 2; }
    # The packed teacher's recipe must be the one this chain names, or it is another model.
    "$PY" - "$PACKED_TEACHER/config.json" "$TEACHER_RECIPE" <<'EOF'
import json, sys
packed, recipe = json.load(open(sys.argv[1]))["recipe"], json.load(open(sys.argv[2]))
diff = sorted(k for k in recipe if recipe[k] != packed.get(k))
if diff:
    sys.exit(f"{sys.argv[1]}: the packed teacher was trained with another recipe than {sys.argv[2]} (differs in {diff})")
EOF
    rm -rf "$WORK/teacher" && cp -r "$PACKED_TEACHER" "$WORK/teacher"
    echo "teacher: the committed packed teacher $PACKED_TEACHER (not trained here)" ;;
  *) echo "TEACHER must be 'train' or 'packed'" >&2; exit 2 ;;
esac
"$SE" distill --teacher "$WORK/teacher" --recipe "$STUDENT_RECIPE" --data "$TRAIN" --out "$WORK/student" \
  --no-progress --exclude-holdout "$WORK/suite-holdout/holdout.json" \
  $([ -f "$WORK/student/state.json" ] && echo --resume)
STUDENT="$WORK/student"
RECIPES=(--recipe "$TEACHER_RECIPE" --recipe "$STUDENT_RECIPE")
if [ -n "$STUDENT2_RECIPE" ]; then
  case "$STUDENT2_DATA" in
    real) RV=${RV:-work-data/real-voice-dev}
       [ -f "$RV/corpus/all/manifest.jsonl" ] || WORK="$RV" PY="$PY" bash benchmarks/real_voice_dev.sh none
       "$SE" data merge "$TRAIN" "$RV/corpus/all" --out "$WORK/corpus-real" --overwrite
       DATA2="$WORK/corpus-real" ;;
    corpus) DATA2="$TRAIN" ;;
    *) echo "STUDENT2_DATA must be 'real' (corpus + real-voice training speech) or 'corpus'" >&2; exit 2 ;;
  esac
  "$SE" distill --teacher "$WORK/teacher" --recipe "$STUDENT2_RECIPE" --data "$DATA2" --out "$WORK/student2-$STUDENT2_DATA" \
    --init-from "$WORK/student" --no-progress --exclude-holdout "$WORK/suite-holdout/holdout.json" \
    $([ -f "$WORK/student2-$STUDENT2_DATA/state.json" ] && echo --resume)
  STUDENT="$WORK/student2-$STUDENT2_DATA"
  RECIPES+=(--recipe "$STUDENT2_RECIPE")
fi
rm -rf "$OUT.new"
"$SE" export --model "$STUDENT" --out "$OUT.new" --profile "$PROFILE" --int8 --with-text \
  --calibration "$WORK/corpus" --suite "$WORK/suite-test" | tee "$WORK/export.log"
for s in test holdout; do
  "$SE" eval --suite "$WORK/suite-$s" --model "$WORK/teacher" --json "$WORK/eval-teacher-$s.json" \
    --markdown "$WORK/eval-teacher-$s.md"
  "$SE" eval --suite "$WORK/suite-$s" --model "$OUT.new" --json "$WORK/eval-bundle-$s.json" \
    --markdown "$WORK/eval-bundle-$s.md"
done
"$PY" -m slap_edge.export.card --teacher "$WORK/teacher" --student "$STUDENT" --corpus "$TRAIN" \
  --holdout "$WORK/suite-holdout/holdout.json" \
  "${RECIPES[@]}" --recipe "$PROFILE" \
  --eval "Held-out speakers (suite from the corpus' test split)" "$WORK/suite-test" "$WORK/eval-bundle-test.json" \
  --eval "Held-out voices (never heard in training)" "$WORK/suite-holdout" "$WORK/eval-bundle-holdout.json" \
  --teacher-eval "$WORK/eval-teacher-test.json" --teacher-eval "$WORK/eval-teacher-holdout.json" \
  --record "$WORK/record.json" --out "$WORK/card-sections.md"
"$SE" bundle card "$OUT.new" --append "$WORK/card-sections.md" --record "$WORK/record.json"
rm -rf "$OUT" && mv "$OUT.new" "$OUT"
"$SE" bundle verify "$OUT"
echo "bundle rebuilt in $OUT; evaluations in $WORK/eval-*.json; record in $WORK/record.json"
