#!/bin/bash
# (f), (f2), (f3) of README.md: the 40 ms partners distilled from the fourth build's teacher, alone and averaged.
# Resumable. Needs run-c.sh's w40-partner and run-seeds.sh's w40-partner-s4.
source "$(dirname "$0")/../../benchmarks/pipeline/run-env.sh"
source benchmarks/pipeline/candidate.sh
set -eo pipefail
X=experiments/student-window
D=work-data/third-stage
[ -f $D/w40-partners/soup.json ] || python -m slap_edge.train.soup $D/w40-partner $D/w40-partner-s4 \
  --weight 0.5 --weight 0.5 --out $D/w40-partners
for c in w40-partner w40-partner-s4 w40-partners; do score_candidate $c; done
python benchmarks/pipeline/eval_summary.py --tasks hoarse_vs_clear,tremor_vs_steady,language_de_vs_nl $X/evals
echo "all done $(date)"
