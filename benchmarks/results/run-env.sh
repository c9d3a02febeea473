# Sourced by the run scripts under benchmarks/results/: enter the checkout's root, activate its .venv, keep Hugging
# Face offline, and name the work folder (B) that holds the corpora, suites and runs.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source .venv/bin/activate
export HF_HUB_OFFLINE=1
B=work-data/big
