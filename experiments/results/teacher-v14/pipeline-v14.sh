#!/bin/bash
# teacher-v14: v12 (same corpus, heads, seed) without the masked-autoencoder pass (mae_weight 0), 10,000 steps in the
# time 7,000 took; then the five extra draws of the 40-a-class suite (made by ../teacher-v13/suite-seeds.sh)
SEEDS="21 22 23 24 25" "$(dirname "$0")/../../../benchmarks/pipeline/train-eval.sh" v14 experiments/results/teacher-v14/teacher-v14-recipe.json 73 experiments/results/teacher-v14
