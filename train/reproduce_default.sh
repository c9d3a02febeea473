#!/usr/bin/env bash
# Rebuild the built-in default bundle (slap_edge/assets/default) from nothing, with the recorded seeds and steps.
#
#   bash train/reproduce_default.sh [WORK_DIR]          (make reproduce-default; make reproduce-default VOICES=espeak)
#
# env: VOICES=all|espeak (espeak: no MBROLA voice, so no non-commercial data), CLIPS, SPEAKERS, SEED, JOBS,
#      TEACHER_RECIPE, STUDENT_RECIPE, TEACHER2_RECIPE, STUDENT2_RECIPE, STUDENT2_DATA, PROFILE, HOLDOUT, OUT,
#      SLAP_EDGE,
#      TEACHER=train|packed (packed: skip the first-stage teacher's training and use the committed packed teacher,
#      train/checkpoints/default-teacher-merged for VOICES=all or default-espeak-teacher for VOICES=espeak: the exact
#      weights of the shipped bundles' teachers; for CPUs where training it would take hours),
#      TEACHER2=train|packed (the second-stage teacher; default: as TEACHER; packed uses the committed teacher of
#      TEACHER2_RECIPE, train/checkpoints/default-teacher-NAME for train/recipes/teacher-tune-NAME.json:
#      default-teacher-intonation-long for the default, the tenth build's; a recipe with no committed teacher is refused
#      before any work),
#      STUDENT=train|packed (the first-stage student, VOICES=all; packed: rebuilt exactly, by
#      `python -m slap_edge.train.from_bundle`, from train/checkpoints/default-student-v3, the third build's float32
#      audio graph, instead of distilling it for 6,000 steps). The corpora are always made here: the students are
#      distilled on them.
#      CARRY_RECIPE (VOICES=all; empty by default): before the second stage, carry the first-stage student to a
#      finer mel front end with this recipe (`python -m slap_edge.train.inflate_mels`: the patch embedding composed
#      with the old log-mels' affine fit on the new ones, fitted on the corpus' first clips, every other weight
#      copied); STUDENT2_RECIPE must then have the same front end (e.g.
#      train/recipes/default-student-v3-128mel.json with train/recipes/student-distil-on-128mel.json: 128 mels).
#      DEEPEN_RECIPE (VOICES=all; empty by default): before the second stage, grow the first-stage student by identity
#      blocks to this recipe's model (`python -m slap_edge.train.deepen`: new blocks after the trained ones, their
#      branch output projections at zero, same embeddings); STUDENT2_RECIPE must name the same model (e.g.
#      train/recipes/default-student-v3-d4.json with train/recipes/student-distil-on-d4-s2.json: four blocks), and
#      with a soup SOUP_DEEPEN_RECIPE grows SOUP_WITH's student alike (e.g. train/recipes/student-distil-on-d4.json).
#      SOUP_WITH (VOICES=all; default train/checkpoints/default-student-v4, SOUP_WEIGHT 0.25, the tenth build's;
#      SOUP_WITH= turns it off): a committed student graph folder (audio_fp32.onnx + manifest.json,
#      e.g. train/checkpoints/default-student-v4, the fourth build's student) to average the second-stage student
#      with (`python -m slap_edge.train.soup`, weight SOUP_WEIGHT on the second-stage student, default 0.5); the
#      graph is rebuilt into a run by `from_bundle` with SOUP_TEACHER (the teacher it was distilled from) and
#      SOUP_RECIPE (its recipe, default train/recipes/student-distil-on.json). See experiments/student-soup/.
#      SOUP_PARTNER_RECIPE (VOICES=all; empty by default; instead of SOUP_WITH, which must then be empty): the soup's
#      partner distilled here, from the same first-stage student as the second stage (carried or grown alike) and on
#      the same data, with this recipe from SOUP_TEACHER (a run folder), then averaged as above (e.g. with
#      CARRY_RECIPE=train/recipes/default-student-v3-w40.json: train/recipes/student-distil-on-w40.json from
#      train/checkpoints/default-teacher-intonation, the fourth build's second stage at 40 ms).
#      See experiments/student-window/.
#
# VOICES=all (the built-in bundle) trains in two stages.
# 1. On two corpora merged: the default corpus (espeak-ng + 35 MBROLA voices; its suites are the suites of record)
#    and an espeak-ng-only corpus of other speakers (what VOICES=espeak makes, clip ids prefixed "es"): the teacher
#    (TEACHER_RECIPE), then the student distilled from it (STUDENT_RECIPE).
# 2. The intonation stage: a third corpus whose speakers are monotone, neutral or expressive (`data synth
#    --intonation vocoder`, seed SEED+1, 3/5 the clips and speakers, ids prefixed "in") is merged in; the teacher
#    trains on from its weights (TEACHER2_RECIPE), then the student from its weights, distilled from that teacher
#    (STUDENT2_RECIPE). See experiments/results/intonation-tune/.
# 3. The soup (the tenth build): the second-stage student averaged in weight space with the fourth build's student
#    (SOUP_WITH, SOUP_WEIGHT). See experiments/student-soup/ and benchmarks/results/default-bundle-v10/.
# VOICES=espeak trains on the espeak-ng-only corpus alone, in one stage.
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
       TEACHER2_RECIPE=${TEACHER2_RECIPE-train/recipes/teacher-tune-intonation-long.json}
       STUDENT2_RECIPE=${STUDENT2_RECIPE-train/recipes/student-distil-on-s2.json}
       STUDENT2_DATA=${STUDENT2_DATA:-intonation}
       # The tenth build's soup: the fourth build's student (committed graph), weight 0.75, with this chain's
       # second-stage student, 0.25. SOUP_WITH= (empty) leaves the second-stage student as it is.
       SOUP_WITH=${SOUP_WITH-train/checkpoints/default-student-v4}
       SOUP_TEACHER=${SOUP_TEACHER-train/checkpoints/default-teacher-intonation}
       SOUP_WEIGHT=${SOUP_WEIGHT-0.25}
       PACKED_TEACHER=train/checkpoints/default-teacher-merged
       PACKED_STUDENT=train/checkpoints/default-student-v3
       # The committed second-stage teacher of train/recipes/teacher-tune-NAME.json: default-teacher-NAME.
       name=$(basename "${TEACHER2_RECIPE:-none}" .json)
       PACKED_TEACHER2=train/checkpoints/default-teacher-${name#teacher-tune-} ;;
  espeak) WORK=${1:-work-data/default-espeak}
       # Held-out voice families of an espeak-ng-only corpus: two of its variants, in every language.
       HOLDOUT=${HOLDOUT:-voice=*+m3,voice=*+f2}
       OUT=${OUT:-work-data/default-espeak/bundle}
       STUDENT_RECIPE=${STUDENT_RECIPE:-train/recipes/default-student-v2.json}
       TEACHER2_RECIPE=${TEACHER2_RECIPE-}
       PACKED_TEACHER=train/checkpoints/default-espeak-teacher
       PACKED_STUDENT= ;;
  *) echo "VOICES must be 'all' (espeak-ng + MBROLA, the built-in bundle) or 'espeak' (no non-commercial voices)" >&2
     exit 2 ;;
esac
CLIPS=${CLIPS:-20000}
SPEAKERS=${SPEAKERS:-5000}
SEED=${SEED:-11}
JOBS=${JOBS:-$(nproc)}
TEACHER_RECIPE=${TEACHER_RECIPE:-train/recipes/default-teacher.json}
# The student's second stage: distilled on from the first stage's weights (`distill --init-from`) with its own
# schedule, from the second-stage teacher where there is one. STUDENT2_DATA=intonation (VOICES=all's default) trains
# it on the corpus with the intonation corpus merged in; real merges the real-voice training speech (Debian packages:
# benchmarks/real_voice_dev.sh, which needs `apt-get update` once) into the first stage's corpus; intonation-real
# merges it into the corpus with the intonation corpus; corpus uses the first stage's corpus alone. VOICES=espeak has
# no second stage unless STUDENT2_RECIPE names one. TEACHER2_RECIPE= (empty) and STUDENT2_RECIPE= (empty) with
# SOUP_WITH= give VOICES=all the third build's one-stage chain; TEACHER2_RECIPE=
# train/recipes/teacher-tune-intonation.json STUDENT2_RECIPE=train/recipes/student-distil-on.json SOUP_WITH= the fourth.
STUDENT2_RECIPE=${STUDENT2_RECIPE-}
STUDENT2_DATA=${STUDENT2_DATA:-real}
TEACHER=${TEACHER:-train}
TEACHER2=${TEACHER2:-$TEACHER}
STUDENT_MODE=${STUDENT:-train}
PROFILE=${PROFILE:-export/profiles/default-bundle.json}
# The switches are checked before any work starts.
for pair in "TEACHER=$TEACHER" "TEACHER2=$TEACHER2" "STUDENT=$STUDENT_MODE"; do
  case "${pair#*=}" in
    train|packed) ;;
    *) echo "${pair%%=*} must be 'train' or 'packed' (got '${pair#*=}')" >&2; exit 2 ;;
  esac
done
if [ "$TEACHER" = packed ] && [ ! -f "$PACKED_TEACHER/config.json" ]; then
  echo "TEACHER=packed: the committed teacher $PACKED_TEACHER is missing (VOICES=$VOICES; use TEACHER=train)" >&2; exit 2
fi
if [ "$TEACHER2" = packed ] && [ -n "$TEACHER2_RECIPE" ] && [ ! -f "${PACKED_TEACHER2:-none}/config.json" ]; then
  echo "TEACHER2=packed: there is no committed second-stage teacher for $TEACHER2_RECIPE (looked for" \
    "${PACKED_TEACHER2:-none}; use TEACHER2=train)" >&2; exit 2
fi
if [ "$STUDENT_MODE" = packed ] && [ -z "$PACKED_STUDENT" ]; then
  echo "STUDENT=packed: there is no committed first-stage student for VOICES=$VOICES (use STUDENT=train)" >&2; exit 2
fi
if [ -n "${CARRY_RECIPE:-}" ] && { [ -z "$STUDENT2_RECIPE" ] || [ ! -f "$CARRY_RECIPE" ]; }; then
  echo "CARRY_RECIPE=$CARRY_RECIPE: needs an existing recipe file and a second stage (STUDENT2_RECIPE) to train the" \
    "carried student on" >&2; exit 2
fi
if [ -n "${DEEPEN_RECIPE:-}" ] && { [ -z "$STUDENT2_RECIPE" ] || [ ! -f "$DEEPEN_RECIPE" ] || [ -n "${CARRY_RECIPE:-}" ] \
     || { [ -n "${SOUP_WITH:-}" ] && [ ! -f "${SOUP_DEEPEN_RECIPE:-none}" ]; }; }; then
  echo "DEEPEN_RECIPE=$DEEPEN_RECIPE: needs an existing recipe file, a second stage (STUDENT2_RECIPE) to train the" \
    "grown student on, no CARRY_RECIPE, and with SOUP_WITH a SOUP_DEEPEN_RECIPE file to grow its student alike" >&2
  exit 2
fi
if [ -n "${SOUP_DEEPEN_RECIPE:-}" ] && [ -z "${DEEPEN_RECIPE:-}" ]; then
  echo "SOUP_DEEPEN_RECIPE=$SOUP_DEEPEN_RECIPE: only with DEEPEN_RECIPE (both students grown alike)" >&2; exit 2
fi
if [ -n "${SOUP_PARTNER_RECIPE:-}" ] && { [ -n "${SOUP_WITH:-}" ] || [ ! -f "$SOUP_PARTNER_RECIPE" ] \
     || [ -z "$STUDENT2_RECIPE" ] || [ ! -f "${SOUP_TEACHER:-none}/config.json" ]; }; then
  echo "SOUP_PARTNER_RECIPE=$SOUP_PARTNER_RECIPE: needs an existing recipe file, SOUP_WITH= (empty: the partner is" \
    "distilled here instead), its teacher in SOUP_TEACHER (a run folder; got '${SOUP_TEACHER:-}') and a second stage" \
    "(STUDENT2_RECIPE) to average it with" >&2; exit 2
fi
if [ -n "${SOUP_WITH:-}" ] && { [ ! -f "$SOUP_WITH/audio_fp32.onnx" ] || [ -z "$STUDENT2_RECIPE" ] \
     || [ ! -f "${SOUP_TEACHER:-none}/config.json" ]; }; then
  echo "SOUP_WITH=$SOUP_WITH: needs a student graph folder with audio_fp32.onnx, its teacher in SOUP_TEACHER" \
    "(a run folder; got '${SOUP_TEACHER:-}') and a second stage (STUDENT2_RECIPE) to average it with" >&2; exit 2
fi
case "$STUDENT2_DATA" in
  intonation|real|intonation-real|corpus) ;;
  *) echo "STUDENT2_DATA must be 'intonation' (corpus + intonation corpus), 'real' (corpus + real-voice training" \
       "speech), 'intonation-real' (corpus + intonation corpus + real-voice training speech) or 'corpus' (got" \
       "'$STUDENT2_DATA')" >&2; exit 2 ;;
esac
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
recipe_steps() { [ -n "$1" ] && grep -o '"steps": *[0-9]*' "$1" | grep -o '[0-9]*$' || echo 0; }
# Steps trained here: a packed stage costs none.
steps=0; ssteps=0
[ "$TEACHER" = packed ] || steps=$(recipe_steps "$TEACHER_RECIPE")
[ "$TEACHER2" = packed ] || steps=$((steps + $(recipe_steps "$TEACHER2_RECIPE")))
[ "$STUDENT_MODE" = packed ] || ssteps=$(recipe_steps "$STUDENT_RECIPE")
ssteps=$((ssteps + $(recipe_steps "$STUDENT2_RECIPE")))
[ -z "${SOUP_PARTNER_RECIPE:-}" ] || ssteps=$((ssteps + $(recipe_steps "$SOUP_PARTNER_RECIPE")))
corpora="one corpus"; [ "$VOICES" = all ] && corpora="three corpora (52,000 clips)"
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
if [[ "$flags" == *avx512_bf16* || "$flags" == *amx_bf16* ]]; then
  echo "CPU has native bf16 (AVX512-BF16/AMX): the teachers' $steps steps train with bf16 autocast at 110-234 clips/s" \
    "on 2 cores: $((steps * 64 / 234 / 60))-$((steps * 64 / 110 / 60)) min; $corpora 20-90 min; the students'" \
    "$ssteps steps at about 90 clips/s: $((ssteps * 64 / 90 / 60)) min; export and evals 10 min"
else
  echo "CPU without native bf16 (e.g. AVX2 only): the teachers' $steps steps train in float32 at about 60 clips/s on" \
    "2 cores: about $((steps * 64 / 60 / 60)) min; $corpora 25-110 min; the students' $ssteps steps at about 60" \
    "clips/s: $((ssteps * 64 / 60 / 60)) min; export and evals 15 min." \
    "Every stage resumes: rerun this script after an interruption. NOTE: a float32 run is not the bf16 model the" \
    "built-in bundle was trained as; its figures will differ slightly (TEACHER=packed TEACHER2=packed STUDENT=packed" \
    "distils only the last student, from the committed weights)."
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
if [ -n "$TEACHER2_RECIPE" ] || { [ -n "$STUDENT2_RECIPE" ] && [[ "$STUDENT2_DATA" == intonation* ]]; }; then
  # The intonation corpus: other speakers (seed SEED+1), 3/5 the size of the default corpus, merged into TRAIN2.
  "$SE" data synth --out "$WORK/corpus-intonation" --clips $((CLIPS * 3 / 5)) --speakers $((SPEAKERS * 3 / 5)) \
    --seed $((SEED + 1)) --jobs "$JOBS" --voices "$VOICES" --intonation vocoder
  [ -f "$WORK/corpus-train2/manifest.jsonl" ] || "$SE" data merge "$TRAIN" "$WORK/corpus-intonation" \
    --id-prefix '' --id-prefix in --out "$WORK/corpus-train2"
  "$SE" data stats "$WORK/corpus-train2" > "$WORK/corpus-train2-stats.txt"
fi
"$SE" data suite --from "$WORK/corpus" --out "$WORK/suite-holdout" --holdout-voices "$HOLDOUT" --seed "$SEED" \
  --overwrite
"$SE" data suite --from "$WORK/corpus" --out "$WORK/suite-test" --seed "$SEED" \
  --exclude-holdout "$WORK/suite-holdout/holdout.json" --overwrite
use_packed() {  # use_packed PACKED RECIPE [RUN]: check that RECIPE is the committed packed teacher's recipe, and
  # copy it to RUN where one is named (that PACKED exists was checked before any work)
  # The packed teacher's recipe must be the one this chain names, or it is another model.
  "$PY" - "$1/config.json" "$2" <<'EOF'
import json, sys
packed, recipe = json.load(open(sys.argv[1]))["recipe"], json.load(open(sys.argv[2]))
diff = sorted(k for k in recipe if recipe[k] != packed.get(k))
if diff:
    sys.exit(f"{sys.argv[1]}: the packed teacher was trained with another recipe than {sys.argv[2]} (differs in {diff})")
EOF
  [ -z "${3:-}" ] || { rm -rf "$3" && cp -r "$1" "$3"; }
  echo "teacher: the committed packed teacher $1 (not trained here)"
}
case "$TEACHER" in
  train)
    "$SE" train --recipe "$TEACHER_RECIPE" --data "$TRAIN" --out "$WORK/teacher" --no-progress \
      --exclude-holdout "$WORK/suite-holdout/holdout.json" $([ -f "$WORK/teacher/state.json" ] && echo --resume) ;;
  packed) use_packed "$PACKED_TEACHER" "$TEACHER_RECIPE" "$WORK/teacher" ;;
esac
case "$STUDENT_MODE" in
  train)
    "$SE" distill --teacher "$WORK/teacher" --recipe "$STUDENT_RECIPE" --data "$TRAIN" --out "$WORK/student" \
      --no-progress --exclude-holdout "$WORK/suite-holdout/holdout.json" \
      $([ -f "$WORK/student/state.json" ] && echo --resume) ;;
  packed)
    if [ ! -f "$WORK/student/from_bundle.json" ]; then
      [ ! -e "$WORK/student" ] || { echo "STUDENT=packed: $WORK/student holds a student trained here; move it away" \
        "or run with STUDENT=train" >&2; exit 2; }
      "$PY" -m slap_edge.train.from_bundle "$PACKED_STUDENT" --teacher "$WORK/teacher" --recipe "$STUDENT_RECIPE" \
        --out "$WORK/student"
    fi
    echo "student: rebuilt from the committed float32 graph $PACKED_STUDENT (not distilled here)" ;;
esac
STUDENT_RUN="$WORK/student"
TEACHER_RUN="$WORK/teacher"
RECIPES=(--recipe "$TEACHER_RECIPE" --recipe "$STUDENT_RECIPE")
CARD_CORPUS="$TRAIN"
if [ -n "$TEACHER2_RECIPE" ]; then
  # The teacher's second stage: trained on from its weights on the corpus with the intonation corpus merged in.
  case "$TEACHER2" in
    train)
      "$SE" train --recipe "$TEACHER2_RECIPE" --data "$WORK/corpus-train2" --out "$WORK/teacher2" \
        --init-from "$WORK/teacher" --no-progress --exclude-holdout "$WORK/suite-holdout/holdout.json" \
        $([ -f "$WORK/teacher2/state.json" ] && echo --resume) ;;
    packed) use_packed "$PACKED_TEACHER2" "$TEACHER2_RECIPE" ;;
  esac
  # A packed second-stage teacher is used where it is committed (not copied), so that the student's run records the
  # committed teacher's path and a student distilled from it elsewhere (a build's pipeline) resumes here as finished.
  TEACHER_RUN="$WORK/teacher2"; [ "$TEACHER2" = packed ] && TEACHER_RUN="$PACKED_TEACHER2"
  RECIPES+=(--recipe "$TEACHER2_RECIPE")
  CARD_CORPUS="$WORK/corpus-train2"
fi
STUDENT1_RUN="$WORK/student"
if [ -n "${CARRY_RECIPE:-}" ]; then
  # Named by what the new model's name adds to the first stage's (student-w40 for student-vit-nano-w40), so a second
  # stage distilled from it elsewhere resumes here.
  CARRIED=$WORK/$("$PY" -c 'import sys; from slap_edge.config import load_config; from slap_edge.train.config import TrainRecipe
new, old = (load_config(TrainRecipe, p).model for p in sys.argv[1:])
print("student" + (new[len(old):] if new.startswith(old + "-") else "-" + new))' "$CARRY_RECIPE" "$STUDENT_RECIPE")
  [ -f "$CARRIED/inflate.json" ] || { rm -rf "$CARRIED"
    "$PY" -m slap_edge.train.inflate_mels "$WORK/student" --recipe "$CARRY_RECIPE" \
      --fit-data "$WORK/corpus" --out "$CARRIED"; }
  STUDENT1_RUN="$CARRIED"
  RECIPES+=(--recipe "$CARRY_RECIPE")
fi
if [ -n "${DEEPEN_RECIPE:-}" ]; then
  # Named by its depth (student-d4: four blocks), so a second stage distilled from it elsewhere resumes here.
  DEPTH=$("$PY" -c 'import sys; from slap_edge.config import load_config; from slap_edge.train.config import TrainRecipe
from slap_edge.models.registry import resolve_model_config as m; r = load_config(TrainRecipe, sys.argv[1])
print(m(r.model, **r.model_overrides).audio.depth)' "$DEEPEN_RECIPE")
  [ -f "$WORK/student-d$DEPTH/deepen.json" ] || { rm -rf "$WORK/student-d$DEPTH"
    "$PY" -m slap_edge.train.deepen "$WORK/student" --recipe "$DEEPEN_RECIPE" --check-data "$WORK/corpus" \
      --out "$WORK/student-d$DEPTH"; }
  STUDENT1_RUN="$WORK/student-d$DEPTH"
  RECIPES+=(--recipe "$DEEPEN_RECIPE")
fi
if [ -n "$STUDENT2_RECIPE" ]; then
  case "$STUDENT2_DATA" in
    intonation) DATA2="$WORK/corpus-train2"; CARD_CORPUS="$DATA2" ;;
    real|intonation-real) RV=${RV:-work-data/real-voice-dev}
       [ -f "$RV/corpus/all/manifest.jsonl" ] || WORK="$RV" PY="$PY" bash benchmarks/real_voice_dev.sh none
       # The real speech merged into the first stage's corpus (real) or into it with the intonation corpus, which
       # the card then counts whole, and of the real speech the train split it was trained on (intonation-real).
       BASE=$TRAIN; DATA2="$WORK/corpus-real"
       [ "$STUDENT2_DATA" = real ] || {
         BASE="$WORK/corpus-train2"; DATA2="$WORK/corpus-train2-real"; CARD_CORPUS=$BASE; }
       "$SE" data merge "$BASE" "$RV/corpus/all" --out "$DATA2" --overwrite ;;
    corpus) DATA2="$TRAIN" ;;
  esac
  S2=$WORK/student2-$STUDENT2_DATA; [ -z "${CARRY_RECIPE:-}" ] || S2=$S2-carried
  [ -z "${DEEPEN_RECIPE:-}" ] || S2=$S2-deepened
  "$SE" distill --teacher "$TEACHER_RUN" --recipe "$STUDENT2_RECIPE" --data "$DATA2" --out "$S2" \
    --init-from "$STUDENT1_RUN" --no-progress --exclude-holdout "$WORK/suite-holdout/holdout.json" \
    $([ -f "$S2/state.json" ] && echo --resume)
  STUDENT_RUN="$S2"
  RECIPES+=(--recipe "$STUDENT2_RECIPE")
fi
# The soup: the second-stage student averaged with a partner, the committed student (SOUP_WITH, rebuilt exactly from
# its float32 graph) or one distilled here (SOUP_PARTNER_RECIPE); weight SOUP_WEIGHT on the second-stage student.
SOUP_INPUT=
SOUP_WEIGHT=${SOUP_WEIGHT:-0.5}
if [ -n "${SOUP_WITH:-}" ]; then
  SOUP_RECIPE=${SOUP_RECIPE:-train/recipes/student-distil-on.json}
  [ -f "$WORK/soup-with/from_bundle.json" ] || { rm -rf "$WORK/soup-with"
    "$PY" -m slap_edge.train.from_bundle "$SOUP_WITH" --teacher "$SOUP_TEACHER" --recipe "$SOUP_RECIPE" \
      --out "$WORK/soup-with"; }
  SOUP_INPUT="$WORK/soup-with"
  if [ -n "${SOUP_DEEPEN_RECIPE:-}" ]; then
    [ -f "$WORK/soup-with-deepened/deepen.json" ] || { rm -rf "$WORK/soup-with-deepened"
      "$PY" -m slap_edge.train.deepen "$WORK/soup-with" --recipe "$SOUP_DEEPEN_RECIPE" --check-data "$WORK/corpus" \
        --out "$WORK/soup-with-deepened"; }
    SOUP_INPUT="$WORK/soup-with-deepened"
    RECIPES+=(--recipe "$SOUP_DEEPEN_RECIPE")
  fi
  SOUP="$WORK/soup-$(basename "$SOUP_WITH")-w$SOUP_WEIGHT"; [ -z "${SOUP_DEEPEN_RECIPE:-}" ] || SOUP=$SOUP-deepened
  RECIPES+=(--recipe "$SOUP_RECIPE")
fi
if [ -n "${SOUP_PARTNER_RECIPE:-}" ]; then
  # The partner distilled here from the same first stage as the second-stage student, on the same data.
  SOUP_INPUT=$WORK/soup-partner; [ -z "${CARRY_RECIPE:-}" ] || SOUP_INPUT=$SOUP_INPUT-carried
  [ -z "${DEEPEN_RECIPE:-}" ] || SOUP_INPUT=$SOUP_INPUT-deepened
  "$SE" distill --teacher "$SOUP_TEACHER" --recipe "$SOUP_PARTNER_RECIPE" --data "$DATA2" --out "$SOUP_INPUT" \
    --init-from "$STUDENT1_RUN" --no-progress --exclude-holdout "$WORK/suite-holdout/holdout.json" \
    $([ -f "$SOUP_INPUT/state.json" ] && echo --resume)
  RECIPES+=(--recipe "$SOUP_PARTNER_RECIPE")
  SOUP="$SOUP_INPUT-soup-w$SOUP_WEIGHT"
fi
if [ -n "$SOUP_INPUT" ]; then
  [ -f "$SOUP/soup.json" ] || "$PY" -m slap_edge.train.soup "$SOUP_INPUT" "$STUDENT_RUN" \
    --weight "$("$PY" -c "print(1 - $SOUP_WEIGHT)")" --weight "$SOUP_WEIGHT" --out "$SOUP"
  STUDENT_RUN="$SOUP"
fi
rm -rf "$OUT.new"
"$SE" export --model "$STUDENT_RUN" --out "$OUT.new" --profile "$PROFILE" --int8 --with-text \
  --calibration "$WORK/corpus" --suite "$WORK/suite-test" | tee "$WORK/export.log"
for s in test holdout; do
  "$SE" eval --suite "$WORK/suite-$s" --model "$TEACHER_RUN" --json "$WORK/eval-teacher-$s.json" \
    --markdown "$WORK/eval-teacher-$s.md"
  "$SE" eval --suite "$WORK/suite-$s" --model "$OUT.new" --json "$WORK/eval-bundle-$s.json" \
    --markdown "$WORK/eval-bundle-$s.md"
done
"$PY" -m slap_edge.export.card --teacher "$TEACHER_RUN" --student "$STUDENT_RUN" --corpus "$CARD_CORPUS" \
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
