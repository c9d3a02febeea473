"""The built-in bundle's embeddings of the demo recording equal the committed golden file (to 1e-5).

Refactors of the runtime must not change what the model outputs. When the built-in bundle is replaced on purpose,
regenerate the file with `python tests/golden/make_golden.py` and commit it with the bundle.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
from make_golden import GOLDEN, GOLDEN_META, demo_embeddings  # noqa: E402


def test_builtin_bundle_embeddings_equal_the_golden_file() -> None:
    expected = np.load(GOLDEN, allow_pickle=False)
    meta = json.loads(GOLDEN_META.read_text())
    got, got_meta = demo_embeddings()
    assert got_meta["model_id"] == meta["model_id"], (
        f"the built-in bundle is {got_meta['model_id']}, the golden file was made with {meta['model_id']}: "
        "run `python tests/golden/make_golden.py` and commit the result with the new bundle"
    )
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
