# Sourced by the training-and-evaluation scripts (train-eval.sh here, the pipeline-vN.sh scripts of the teacher runs
# under benchmarks/results/ and experiments/results/): enter the checkout's root, activate its .venv, keep Hugging
# Face offline, and name the work folder (B) that holds the corpora, suites and runs.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source .venv/bin/activate
export HF_HUB_OFFLINE=1
B=work-data/big
