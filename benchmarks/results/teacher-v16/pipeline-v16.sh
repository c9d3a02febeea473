#!/bin/bash
# teacher-v16: v14 (the teacher-small recipe: no MAE pass, heads, seed 0) with the log-mel computed once before the
# first step (precompute_log_mel) and CPU attention as matmul + softmax, which make a step about 1.5x cheaper; the
# time is spent on 14,000 steps instead of 10,000. Then the five extra draws of the 40-a-class suite.
SEEDS="21 22 23 24 25" "$(dirname "$0")/../../pipeline/train-eval.sh" v16 benchmarks/results/teacher-v16/teacher-v16-recipe.json 73 benchmarks/results/teacher-v16
