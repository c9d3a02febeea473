"""Run under torchrun by test_shards_distributed: folder-loader training that replays a recorded clip order.

Usage: replay_folder_train.py RECIPE CORPUS OUT CACHE RECORDED_RUN MAX_STEPS
"""

from __future__ import annotations

import sys

from slap_edge.config import load_config
from slap_edge.train.config import TrainRecipe
from slap_edge.train.trainer import train

if __name__ == "__main__":
    recipe, corpus, out, cache, recorded, max_steps = sys.argv[1:7]
    train(
        load_config(TrainRecipe, recipe),
        corpus,
        out,
        cache_dir=cache,
        device="cpu",
        progress=False,
        replay_order=recorded,
        max_steps=int(max_steps),
    )
