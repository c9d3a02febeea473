"""The heads file: adapted sections as linear heads in the prompts' own embedding space (plain-array ``.npz``).

A section's head is one weight vector and one bias per label: ``logits = W @ embedding + b`` and a softmax over the
section, the same path a prompt section takes with ``W = logit_scale * prompt embeddings`` and ``b = 0``. So the
runtime scores heads and prompts with one matrix product.

Arrays (never pickles; `load_heads` refuses them):

- ``format``         unicode []   ``"slap-edge-heads"``
- ``format_version`` int []       1
- ``model_id``       unicode []   the bundle's ``model.id``; any other bundle refuses the file
- ``sections``       unicode [N]  section of each row (rows of one section are contiguous)
- ``labels``         unicode [N]  label of each row
- ``weights``        float32 [N, D]
- ``bias``           float32 [N]
- ``thresholds``     float32 [N]  calibrated entry level of each label's probability (NaN: none)
- ``info``           unicode []   JSON: per-section facts of the fit (variant, regularisation, clips, CV scores)
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

HEADS_FORMAT = "slap-edge-heads"
HEADS_FORMAT_VERSION = 1
_KEYS = ("format", "format_version", "model_id", "sections", "labels", "weights", "bias", "thresholds", "info")


class HeadsError(ValueError):
    """A heads file that cannot be used (unreadable, malformed, or made for another model); names the file."""


@dataclasses.dataclass(frozen=True)
class SectionHead:
    """One adapted section: a softmax over ``labels`` of ``embedding @ weights.T + bias``."""

    name: str
    labels: tuple[str, ...]
    weights: np.ndarray  # float32 [C, D]
    bias: np.ndarray  # float32 [C]
    thresholds: np.ndarray  # float32 [C]; NaN where no threshold was calibrated
    info: dict[str, Any] = dataclasses.field(default_factory=dict)

    def probs(self, embeddings: np.ndarray) -> np.ndarray:
        """Probabilities [..., C] of L2-normalised embeddings [..., D] (float32, as the runtime computes them)."""
        from slap_edge.scoring import softmax

        logits = np.asarray(embeddings, dtype=np.float32) @ self.weights.T + self.bias
        return softmax(logits)

    def predict(self, embeddings: np.ndarray) -> list[str]:
        return [self.labels[i] for i in np.argmax(self.probs(embeddings), axis=-1)]


@dataclasses.dataclass(frozen=True)
class Heads:
    """Adapted sections for one model (``model_id``)."""

    model_id: str
    sections: tuple[SectionHead, ...]
    source: str = "<heads>"

    def __post_init__(self) -> None:
        dims = {s.weights.shape[1] for s in self.sections}
        if len(dims) > 1:
            raise HeadsError(f"{self.source}: sections have different embedding sizes {sorted(dims)}")

    @property
    def embed_dim(self) -> int:
        return int(self.sections[0].weights.shape[1]) if self.sections else 0

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.sections]

    def section(self, name: str) -> SectionHead:
        for s in self.sections:
            if s.name == name:
                return s
        raise KeyError(f"{self.source} has no section {name!r}; it has {', '.join(self.names)}")

    def check_model(self, model_id: str, embed_dim: int, what: str = "the bundle") -> None:
        """Refuse heads fitted on another model's embeddings: their weights mean nothing in this space."""
        if self.model_id != model_id:
            raise HeadsError(
                f"{self.source} was fitted on embeddings of model {self.model_id!r}, but {what} is {model_id!r}; "
                f"run `slap-edge adapt` again with this bundle"
            )
        if self.embed_dim != embed_dim:
            raise HeadsError(f"{self.source} has dimension {self.embed_dim}, {what} {embed_dim}")

    def save(self, path: str | Path) -> None:
        """Write the heads as a plain-array ``.npz`` (atomically)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [(s.name, label) for s in self.sections for label in s.labels]
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".partial.npz", dir=path.parent)
        os.close(fd)
        try:
            np.savez(
                tmp,
                format=np.asarray(HEADS_FORMAT),
                format_version=np.asarray(HEADS_FORMAT_VERSION),
                model_id=np.asarray(self.model_id, dtype=str),
                sections=np.asarray([r[0] for r in rows], dtype=str),
                labels=np.asarray([r[1] for r in rows], dtype=str),
                weights=np.concatenate([s.weights for s in self.sections]).astype(np.float32),
                bias=np.concatenate([s.bias for s in self.sections]).astype(np.float32),
                thresholds=np.concatenate([s.thresholds for s in self.sections]).astype(np.float32),
                info=np.asarray(json.dumps({s.name: s.info for s in self.sections}, sort_keys=True)),
            )
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def load_heads(path: str | Path) -> Heads:
    """Read a heads file written by `Heads.save`; anything else is a `HeadsError` naming the file and the problem."""
    path = Path(path)
    try:
        loaded = np.load(path, allow_pickle=False)
        if not hasattr(loaded, "files"):
            raise HeadsError(f"{path}: not a heads file (a single array; expected an .npz from `slap-edge adapt`)")
        with loaded as z:
            missing = [k for k in _KEYS if k not in z.files]
            if "format" in z.files and str(z["format"]) != HEADS_FORMAT:
                raise HeadsError(f"{path}: format {str(z['format'])!r} is not {HEADS_FORMAT!r}")
            if missing:
                raise HeadsError(
                    f"{path}: not a heads file; missing arrays {missing} (has {sorted(z.files)}); "
                    "write one with `slap-edge adapt`"
                )
            version = int(z["format_version"])
            if version != HEADS_FORMAT_VERSION:
                raise HeadsError(f"{path}: format_version {version} is not supported (this version reads 1)")
            model_id = str(z["model_id"])
            secs = z["sections"].astype(str).tolist()
            labels = z["labels"].astype(str).tolist()
            weights = np.asarray(z["weights"], dtype=np.float32)
            bias = np.asarray(z["bias"], dtype=np.float32)
            thresholds = np.asarray(z["thresholds"], dtype=np.float32)
            info = json.loads(str(z["info"]))
    except HeadsError:
        raise
    except FileNotFoundError as exc:
        raise HeadsError(f"{path}: no such heads file") from exc
    except (OSError, ValueError, EOFError, KeyError, json.JSONDecodeError) as exc:
        raise HeadsError(f"{path}: cannot read heads file ({exc})") from exc
    n = len(secs)
    if len(labels) != n or weights.ndim != 2 or weights.shape[0] != n or bias.shape != (n,) or thresholds.shape != (n,):
        raise HeadsError(
            f"{path}: inconsistent heads: {n} sections, {len(labels)} labels, weights {weights.shape}, "
            f"bias {bias.shape}, thresholds {thresholds.shape}"
        )
    if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(bias))):
        raise HeadsError(f"{path}: weights or biases contain NaN or inf")
    order: list[str] = []
    for i, s in enumerate(secs):
        if s not in order:
            order.append(s)
        elif order[-1] != s:
            raise HeadsError(f"{path}: rows of section {s!r} are not contiguous (row {i})")
    sections = []
    for name in order:
        idx = [i for i, s in enumerate(secs) if s == name]
        if len(idx) < 2:
            raise HeadsError(f"{path}: section {name!r} has {len(idx)} label(s); a section needs at least two")
        sec_labels = tuple(labels[i] for i in idx)
        if len(set(sec_labels)) != len(sec_labels):
            raise HeadsError(f"{path}: section {name!r} repeats a label: {sec_labels}")
        sections.append(
            SectionHead(
                name=name,
                labels=sec_labels,
                weights=weights[idx],
                bias=bias[idx],
                thresholds=thresholds[idx],
                info=info.get(name, {}) if isinstance(info, dict) else {},
            )
        )
    return Heads(model_id=model_id, sections=tuple(sections), source=str(path))


def resolve_heads(heads: Heads | str | Path | None) -> Heads | None:
    """A `Heads` as given, or read from a path."""
    if heads is None or isinstance(heads, Heads):
        return heads
    return load_heads(heads)


def threshold_or_none(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
