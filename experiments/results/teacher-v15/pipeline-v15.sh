#!/bin/bash
# teacher-v15: v14's recipe (no masked-autoencoder pass) at v12's 7,000 steps, to tell the steps from the loss
SEEDS="21 22 23 24 25" "$(dirname "$0")/../../../benchmarks/pipeline/train-eval.sh" v15 experiments/results/teacher-v15/teacher-v15-recipe.json 60 experiments/results/teacher-v15
