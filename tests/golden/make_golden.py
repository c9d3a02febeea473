"""Regenerate the golden embeddings: the built-in bundle's embeddings of the demo recording.

    python tests/golden/make_golden.py        # after replacing slap_edge/assets/default; commit the .npy it writes

One embedding per full window of the bundle's length, ending at every hop (the windows a stream scores once it has
a whole window). tests/test_golden.py compares the bundle's current output with this file to 1e-5.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).resolve().parent / "default-bundle-demo-embeddings.npy"
GOLDEN_META = GOLDEN.with_suffix(".json")


def demo_embeddings() -> tuple[np.ndarray, dict]:
    from slap_edge.bundle_reader import load_bundle
    from slap_edge.demo import DEMO_RECORDING
    from slap_edge.runtime.engine import create_session
    from slap_edge.runtime.sources import read_audio

    bundle = load_bundle("default")
    session = create_session(str(bundle.audio_path), threads=1)
    x = read_audio(DEMO_RECORDING, bundle.sample_rate)
    window, hop = bundle.window_samples, bundle.hop_samples
    ends = range(window, x.shape[0] + 1, hop)
    embs = [session.run(None, {"waveform": x[None, end - window : end]})[0][0] for end in ends]
    meta = {"model_id": bundle.model_id, "window_samples": window, "hop_samples": hop, "windows": len(embs)}
    return np.stack(embs).astype(np.float32), meta


def main() -> None:
    embs, meta = demo_embeddings()
    np.save(GOLDEN, embs, allow_pickle=False)
    GOLDEN_META.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {GOLDEN} {embs.shape} for {meta['model_id']}")


if __name__ == "__main__":
    main()
