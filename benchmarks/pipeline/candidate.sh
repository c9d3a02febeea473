# Sourced by experiment scripts that judge a student run as a bundle candidate (after run-env.sh): export RUN as the
# chain does (int8, text encoder, the default profile, calibrated on D's corpus) and score it with `slap-edge eval` on
# the four suites of the ship rules. Both steps skip what they find done.
#   D: the work folder (corpora, suites); X: the experiment folder (export logs, evals/NAME-SUITE.{json,md}).
score_candidate() {  # score_candidate NAME  (the run is $D/NAME, the bundle $D/NAME-bundle)
  local c=$1 s f
  local -A suites=([test]=$D/suite-test [holdout]=$D/suite-holdout [real]=work-data/real-voice-dev/suite
    [into-real]=work-data/intonation-real/suite)
  [ -f "$D/$c-bundle/manifest.json" ] || slap-edge export --model "$D/$c" --out "$D/$c-bundle" \
    --profile export/profiles/default-bundle.json --int8 --with-text --calibration "$D/corpus" \
    --suite "$D/suite-test" 2>&1 | tee "$X/export-$c.log"
  mkdir -p "$X/evals"
  for s in test holdout real into-real; do
    f=$X/evals/$c-$s
    [ -f "$f.json" ] || slap-edge eval --suite "${suites[$s]}" --model "$D/$c-bundle" --json "$f.json" \
      --markdown "$f.md"
  done
  ls -l "$D/$c-bundle/audio.onnx"
}
