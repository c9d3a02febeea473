"""prompts.txt (spec/prompts.md) and prompt banks (prompts with their embeddings).

A `PromptSet` is what a kiosk maker wrote: sections, each an independent decision between labelled prompts.
A `PromptBank` is a `PromptSet` plus one embedding per prompt and the id of the model that made them; it is stored as
an ``.npz`` of plain arrays (never pickles):

- ``texts``      unicode [N]  prompt texts
- ``labels``     unicode [N]  label of each prompt
- ``sections``   unicode [N]  section of each prompt (prompts of one section are contiguous)
- ``embeddings`` float32 [N, D], L2-normalised
- ``model_id``   unicode []   the bundle's ``model.id``
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

MAX_LINE_CHARS = 500
DEFAULT_SECTION = "prompts"
_SECTION_RE = re.compile(r"^\[(.*)\]$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\- ]*$")


class PromptsError(ValueError):
    """A prompts file or prompt bank that cannot be used; the message names the file (and line)."""


@dataclasses.dataclass(frozen=True)
class Section:
    """One independent decision: a softmax over its prompts. ``labels[i]`` names ``texts[i]``."""

    name: str
    labels: tuple[str, ...]
    texts: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class PromptSet:
    """The parsed prompts file: sections in file order."""

    sections: tuple[Section, ...]
    source: str = "<prompts>"

    @property
    def texts(self) -> list[str]:
        return [t for s in self.sections for t in s.texts]

    @property
    def labels(self) -> list[str]:
        return [lab for s in self.sections for lab in s.labels]

    @property
    def section_of_prompt(self) -> list[str]:
        return [s.name for s in self.sections for _ in s.texts]

    def __len__(self) -> int:
        return sum(len(s.texts) for s in self.sections)


def _numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    yield from enumerate(text.splitlines(), start=1)


def parse_prompts(text: str, source: str = "<prompts>") -> PromptSet:
    """Parse prompts.txt text. Errors are `PromptsError` naming ``source:line``."""
    if text.startswith("\ufeff"):  # a BOM left by some editors is not part of the first prompt
        text = text[1:]
    # [name, first line, labels, texts, label -> line]
    sections: list[tuple[str, int, list[str], list[str], dict[str, int]]] = []
    loose: list[tuple[int, str, str]] = []  # (line, label, prompt) before any [section]
    for lineno, raw in _numbered_lines(text):
        where = f"{source}:{lineno}"
        if len(raw) > MAX_LINE_CHARS:
            raise PromptsError(f"{where}: line of {len(raw)} characters; at most {MAX_LINE_CHARS} are accepted")
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _SECTION_RE.match(line)
        if m is None and (line.startswith("[") or line.endswith("]")) and "=" not in line:
            raise PromptsError(
                f"{where}: malformed section header {line!r}; a section header is a whole line `[name]`, with one "
                "'[' at the start and one ']' at the end"
            )
        if m:
            name = m.group(1).strip()
            if not name or not _NAME_RE.match(name):
                raise PromptsError(
                    f"{where}: bad section name {m.group(1)!r}; use letters, digits, '_', '-', '.' or spaces"
                )
            if any(s[0] == name for s in sections):
                raise PromptsError(f"{where}: section [{name}] appears twice")
            if loose:
                raise PromptsError(
                    f"{source}:{loose[0][0]}: prompt {loose[0][2]!r} is outside any section; once a file has "
                    "[sections], every prompt must be inside one"
                )
            sections.append((name, lineno, [], [], {}))
            continue
        if "=" in line:
            label, _, prompt = line.partition("=")
            label, prompt = label.strip(), prompt.strip()
            if not label:
                raise PromptsError(f"{where}: empty label before '='; write `label = prompt text`")
        else:
            label = prompt = line
        if not prompt:
            raise PromptsError(f"{where}: label {label!r} has no prompt text after '='")
        if not sections:
            loose.append((lineno, label, prompt))
            continue
        name, _, labels, texts, seen = sections[-1]
        if label in seen:
            raise PromptsError(f"{where}: duplicate label {label!r} in section [{name}] (first on line {seen[label]})")
        seen[label] = lineno
        labels.append(label)
        texts.append(prompt)
    if not sections and not loose:
        raise PromptsError(f"{source}: no prompts (the file is empty or only has comments); see spec/prompts.md")
    if not sections:
        labels, texts, seen = [], [], {}
        for lineno, label, prompt in loose:
            if label in seen:
                raise PromptsError(f"{source}:{lineno}: duplicate label {label!r} (first on line {seen[label]})")
            seen[label] = lineno
            labels.append(label)
            texts.append(prompt)
        if len(texts) < 2:
            raise PromptsError(f"{source}:{loose[0][0]}: only one prompt; a decision needs at least two")
        return PromptSet((Section(DEFAULT_SECTION, tuple(labels), tuple(texts)),), source)
    for name, lineno, _labels, texts, _ in sections:
        if len(texts) < 2:
            raise PromptsError(
                f"{source}:{lineno}: section [{name}] has {len(texts)} prompt(s); a section needs at least two"
            )
    return PromptSet(tuple(Section(n, tuple(lab), tuple(t)) for n, _, lab, t, _ in sections), source)


def load_prompts(path: str | Path) -> PromptSet:
    """Read and parse a prompts file (UTF-8)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PromptsError(f"{path}: cannot read prompts file ({exc.strerror or exc})") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PromptsError(f"{path}:{line}: not UTF-8 text (byte {data[exc.start]:#04x}); save it as UTF-8") from exc
    return parse_prompts(text, str(path))


@dataclasses.dataclass(frozen=True)
class PromptBank:
    """Prompts with their embeddings, ready to score: one matrix product per hop."""

    prompts: PromptSet
    embeddings: np.ndarray  # float32 [N, D], L2-normalised
    model_id: str

    def __post_init__(self) -> None:
        if self.embeddings.ndim != 2 or self.embeddings.shape[0] != len(self.prompts):
            raise PromptsError(
                f"{self.prompts.source}: {len(self.prompts)} prompts but embeddings of shape {self.embeddings.shape}"
            )

    @property
    def embed_dim(self) -> int:
        return int(self.embeddings.shape[1])

    def section_indices(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        start = 0
        for s in self.prompts.sections:
            out[s.name] = np.arange(start, start + len(s.texts))
            start += len(s.texts)
        return out

    def section_labels(self) -> dict[str, tuple[str, ...]]:
        return {s.name: s.labels for s in self.prompts.sections}

    def matches(self, prompts: PromptSet) -> bool:
        """True when this bank holds exactly these sections, labels and texts."""
        return [(s.name, s.labels, s.texts) for s in self.prompts.sections] == [
            (s.name, s.labels, s.texts) for s in prompts.sections
        ]

    def save(self, path: str | Path) -> None:
        """Write the bank as a plain-array ``.npz`` (atomically)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".partial.npz", dir=path.parent)
        os.close(fd)
        try:
            np.savez(
                tmp,
                texts=np.asarray(self.prompts.texts, dtype=str),
                labels=np.asarray(self.prompts.labels, dtype=str),
                sections=np.asarray(self.prompts.section_of_prompt, dtype=str),
                embeddings=self.embeddings.astype(np.float32),
                model_id=np.asarray(self.model_id, dtype=str),
            )
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


_BANK_KEYS = ("texts", "labels", "sections", "embeddings", "model_id")


def load_bank(path: str | Path) -> PromptBank:
    """Read a bank written by `PromptBank.save` (or by the bundle writer); pickled objects are refused."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _BANK_KEYS if k not in z.files]
            if missing:
                raise PromptsError(f"{path}: not a prompt bank; missing arrays {missing} (has {sorted(z.files)})")
            texts, labels, secs = (z[k].astype(str).tolist() for k in ("texts", "labels", "sections"))
            emb = np.asarray(z["embeddings"], dtype=np.float32)
            model_id = str(z["model_id"])
    except PromptsError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        # A truncated or corrupt .npz fails inside zipfile or zlib, not with an OSError.
        raise PromptsError(
            f"{path}: cannot read prompt bank ({type(exc).__name__}: {exc}); write it again with `slap-edge prompts "
            "embed`"
        ) from exc
    if not (len(texts) == len(labels) == len(secs)) or emb.ndim != 2 or emb.shape[0] != len(texts):
        raise PromptsError(
            f"{path}: inconsistent bank: {len(texts)} texts, {len(labels)} labels, {len(secs)} sections, "
            f"embeddings {emb.shape}"
        )
    if not np.all(np.isfinite(emb)):
        raise PromptsError(f"{path}: embeddings contain NaN or inf")
    sections: list[Section] = []
    order: list[str] = []
    for i, s in enumerate(secs):
        if s not in order:
            order.append(s)
        elif order[-1] != s:
            raise PromptsError(f"{path}: prompts of section {s!r} are not contiguous (row {i})")
    start = 0
    for name in order:
        n = secs.count(name)
        sections.append(Section(name, tuple(labels[start : start + n]), tuple(texts[start : start + n])))
        start += n
    from slap_edge.scoring import l2_normalize

    return PromptBank(PromptSet(tuple(sections), str(path)), l2_normalize(emb), model_id)
