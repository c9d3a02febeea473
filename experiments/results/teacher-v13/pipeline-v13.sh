#!/bin/bash
# teacher-v13: v12 (same corpus, recipe, seed) with the attribute heads' weight 1.0 instead of 0.5
"$(dirname "$0")/../../../benchmarks/pipeline/train-eval.sh" v13 experiments/results/teacher-v13/teacher-v13-recipe.json 72 experiments/results/teacher-v13
