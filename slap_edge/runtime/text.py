"""Prompt embeddings on the device: the bundle's text.onnx and tokenizer.json, cached on disk.

Each prompt is embedded alone (no padding), so its embedding does not depend on which other prompts were in the
file, and the cache can be keyed by the prompt text and the model id alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from slap_edge.bundle_reader import Bundle
from slap_edge.bundle_reader import cache_dir as default_cache_dir
from slap_edge.prompts import PromptBank, PromptsError, PromptSet, load_bank
from slap_edge.scoring import l2_normalize

DEFAULT_MAX_TOKENS = 128


class TextEncoder:
    """text.onnx + tokenizer.json: prompt texts -> L2-normalised embeddings."""

    def __init__(self, bundle: Bundle, threads: int = 1) -> None:
        if bundle.text_path is None or bundle.tokenizer_path is None:
            raise PromptsError(
                f"{bundle.root}: the bundle has no text.onnx, so prompts cannot be embedded on this device; "
                "run `slap-edge prompts embed PROMPTS --bundle FULL_BUNDLE -o bank.npz` where the full bundle is "
                "and pass `--bank bank.npz`"
            )
        from tokenizers import Tokenizer

        from slap_edge.runtime.engine import create_session

        self.bundle = bundle
        self.session = create_session(str(bundle.text_path), threads)
        self.tokenizer = Tokenizer.from_file(str(bundle.tokenizer_path))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self._max_tokens())
        self._inputs = [i.name for i in self.session.get_inputs()]

    def _max_tokens(self) -> int:
        meta = self.session.get_modelmeta().custom_metadata_map
        try:
            bounds = json.loads(meta.get("input_bounds", "{}"))
            return int(bounds.get("max_tokens", DEFAULT_MAX_TOKENS))
        except (ValueError, TypeError, AttributeError):
            return DEFAULT_MAX_TOKENS

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embeddings [N, D] of ``texts``."""
        out = []
        for text in texts:
            enc = self.tokenizer.encode(text)
            feeds = {
                "input_ids": np.asarray([enc.ids], dtype=np.int64),
                "attention_mask": np.asarray([enc.attention_mask], dtype=np.int64),
                "token_type_ids": np.asarray([enc.type_ids], dtype=np.int64),
            }
            (emb,) = self.session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[:1]
            out.append(np.asarray(emb, dtype=np.float32).reshape(-1))
        return l2_normalize(np.stack(out))


def _cache_key(model_id: str, text: str) -> str:
    return hashlib.sha256(f"{model_id}\n{text}".encode()).hexdigest()


def embed_prompts(
    bundle: Bundle, prompts: PromptSet, cache_dir: str | Path | None = None, threads: int = 1
) -> PromptBank:
    """A prompt bank for ``prompts``: cached embeddings where present, text.onnx for the rest."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "prompt-embeddings"
    texts = prompts.texts
    found: dict[str, np.ndarray] = {}
    for text in set(texts):
        path = cache / f"{_cache_key(bundle.model_id, text)}.npy"
        try:
            vec = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            continue
        if vec.shape == (bundle.embed_dim,) and np.all(np.isfinite(vec)):
            found[text] = vec.astype(np.float32)
    missing = sorted(set(texts) - set(found))
    if missing:
        encoder = TextEncoder(bundle, threads)
        for text, vec in zip(missing, encoder.encode(missing), strict=True):
            found[text] = vec
            _write_cache(cache / f"{_cache_key(bundle.model_id, text)}.npy", vec)
    return PromptBank(prompts, l2_normalize(np.stack([found[t] for t in texts])), bundle.model_id)


def _write_cache(path: Path, vec: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.stem, suffix=".partial.npy", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            np.save(f, vec.astype(np.float32), allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs recomputation next time


def resolve_bank(
    bundle: Bundle,
    prompts: PromptSet | None = None,
    bank: str | Path | None = None,
    cache_dir: str | Path | None = None,
    threads: int = 1,
) -> PromptBank:
    """The prompt bank to score against: ``bank`` (a file, or the name of one of the bundle's banks), else
    ``prompts`` embedded with text.onnx, else a bundled bank holding exactly those prompts."""
    if bank is not None:
        bundled = bundle.prompt_banks
        path = bundled[str(bank)] if str(bank) in bundled and not Path(bank).exists() else Path(bank)
        loaded = load_bank(path)
        if loaded.model_id != bundle.model_id:
            raise PromptsError(
                f"{path}: embedded by model {loaded.model_id!r}, but the bundle is {bundle.model_id!r}; "
                "run `slap-edge prompts embed` again with this bundle"
            )
        if prompts is not None and not loaded.matches(prompts):
            raise PromptsError(
                f"{path}: the bank does not hold the prompts of {prompts.source} (sections, labels and texts must "
                "be identical); run `slap-edge prompts embed` again"
            )
        return loaded
    if prompts is None:
        names = ", ".join(sorted(bundle.prompt_banks)) or "none"
        raise PromptsError(f"give a prompts file (--prompts) or a prompt bank (--bank; bundled banks: {names})")
    if bundle.text_path is None:
        for path in bundle.prompt_banks.values():
            candidate = load_bank(path)
            if candidate.model_id == bundle.model_id and candidate.matches(prompts):
                return candidate
    return embed_prompts(bundle, prompts, cache_dir, threads)
