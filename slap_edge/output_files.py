"""How every command writes a file: never over one of its inputs, and through a temporary file renamed at the end.

A reader of ``--out`` therefore sees either the previous file or the complete new one, never a half-written one, and
a command can never destroy what it reads (``listen -i x.wav --out x.wav`` used to empty x.wav before reading it).

- `check_not_input` refuses an output path that is one of the inputs (the same file, however it is spelt: relative,
  through a symlink or a hard link).
- `AtomicTextFile` is a text file written under a temporary name beside the target and renamed over it by `commit`;
  `discard` drops it and leaves the target as it was. A long-running writer (``listen --out``) flushes each line to
  the temporary file, which another program can follow while the run lasts; its path is `AtomicTextFile.partial`.
- Paths that are not regular files (``/dev/stdout``, a FIFO) are written directly: they cannot be renamed over.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PARTIAL_SUFFIX = ".partial"


class OutputPathError(ValueError):
    """An output path that would overwrite an input, or cannot be written; the message names both."""


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def check_not_input(out: str | Path, inputs: Iterable[str | Path | None], option: str = "--out") -> Path:
    """``out`` as a Path, or `OutputPathError` when it is one of ``inputs`` (``None`` and ``"-"`` are skipped).

    An input that is a folder (a bundle, a suite) protects every file inside it.
    """
    out = Path(out)
    if out.is_dir():
        raise OutputPathError(f"{option} {out}: is a folder; give a file path")
    for item in inputs:
        if item is None or str(item) == "-":
            continue
        src = Path(item)
        if src.is_dir():
            if out.exists() and any(_same_file(out, p) for p in src.rglob("*") if p.is_file()):
                raise OutputPathError(
                    f"{option} {out}: is a file of the input {src}; writing it would destroy the input"
                )
            continue
        if (out.exists() and src.exists() and _same_file(out, src)) or out.resolve() == src.resolve():
            raise OutputPathError(
                f"{option} {out}: is the input {src}; writing it would destroy the input. Choose another path"
            )
    return out


def _writes_in_place(path: Path) -> bool:
    """True for a path that exists and is not a regular file (a device, a FIFO): it is written directly."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode)


class AtomicTextFile:
    """A text file written to ``partial`` and renamed over ``path`` by `commit` (``close`` commits too)."""

    def __init__(self, path: str | Path, encoding: str = "utf-8") -> None:
        self.path = Path(path)
        self._direct = _writes_in_place(self.path)
        if self._direct:
            self.partial = self.path
            self._file: Any = open(self.path, "w", encoding=encoding)  # noqa: SIM115 - closed by commit/discard
            return
        parent = self.path.parent
        if not parent.is_dir():
            raise OutputPathError(f"{self.path}: folder {parent} does not exist")
        fd, tmp = tempfile.mkstemp(prefix=f"{self.path.name}.", suffix=PARTIAL_SUFFIX, dir=parent)
        self.partial = Path(tmp)
        self._file = os.fdopen(fd, "w", encoding=encoding)
        if self.path.exists():  # keep the permissions a user gave the previous output
            with contextlib.suppress(OSError):
                os.chmod(tmp, stat.S_IMODE(self.path.stat().st_mode))
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)

    @property
    def closed(self) -> bool:
        return self._file.closed

    def write(self, text: str) -> int:
        return self._file.write(text)

    def flush(self) -> None:
        self._file.flush()

    def commit(self) -> None:
        """Make the written text the content of ``path`` (idempotent)."""
        if self._file.closed:
            return
        self._file.flush()
        if not self._direct:
            os.fsync(self._file.fileno())
        self._file.close()
        if not self._direct:
            os.replace(self.partial, self.path)

    def discard(self) -> None:
        """Drop what was written; ``path`` keeps its previous content (idempotent)."""
        if self._file.closed:
            return
        self._file.close()
        if not self._direct:
            self.partial.unlink(missing_ok=True)

    def close(self) -> None:
        self.commit()

    def __enter__(self) -> AtomicTextFile:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` through a temporary file (creating the folder); returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with AtomicTextFile(path, encoding=encoding) as f:
        f.write(text)
    return path
