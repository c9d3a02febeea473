"""The prompt sets that ship inside the package, and how a ``prompts`` argument is read.

Built-in sets live in ``slap_edge/assets/prompts/NAME.txt`` and are named by their stem: ``demographics``,
``language``, ``voice_quality``. `slap-edge prompts list` shows them.

A ``prompts`` argument (`--prompts` on the command line, ``prompts=`` in Python) is read by one rule, in this order:

1. a `PromptSet` is used as it is;
2. a path to an existing file is read as prompts.txt (spec/prompts.md);
3. the name of a built-in set (a bare stem, no folder, no suffix) is that set;
4. a string that holds a line break is prompts.txt text itself (a file name never holds one);
5. anything else is refused with a `PromptsError` that names the string, the built-in sets and the rule above.

A one-line string that is neither a file nor a built-in name is refused rather than guessed at: it is as likely to be
a mistyped path as a prompt, and one prompt alone cannot make a decision (a section needs two).
"""

from __future__ import annotations

from pathlib import Path

from slap_edge.prompts import PromptsError, PromptSet, load_prompts, parse_prompts

PROMPTS_DIR = Path(__file__).resolve().parent / "assets" / "prompts"


def builtin_prompt_sets() -> dict[str, Path]:
    """Built-in prompt sets by name (the file stem), sorted by name."""
    if not PROMPTS_DIR.is_dir():
        return {}
    return {p.stem: p for p in sorted(PROMPTS_DIR.glob("*.txt"))}


def builtin_prompt_path(name: str) -> Path:
    """The file of built-in prompt set ``name``; a `PromptsError` lists the names there are."""
    sets = builtin_prompt_sets()
    if name not in sets:
        raise PromptsError(f"{name!r} is not a built-in prompt set; built-in sets: {', '.join(sets) or 'none'}")
    return sets[name]


def resolve_prompts(prompts: PromptSet | str | Path) -> PromptSet:
    """A `PromptSet` from a prompt set, a prompts.txt path, a built-in set's name, or prompts.txt text (see the
    module docstring for the rule)."""
    if isinstance(prompts, PromptSet):
        return prompts
    if not isinstance(prompts, (str, Path)):
        raise PromptsError(
            f"prompts must be a prompts.txt path, a built-in set name, prompts text or a PromptSet, "
            f"got {type(prompts).__name__}"
        )
    text = str(prompts)
    if isinstance(prompts, str) and "\n" in text:
        return parse_prompts(text, "<prompts text>")
    path = Path(prompts)
    if path.is_file():
        return load_prompts(path)
    sets = builtin_prompt_sets()
    if text in sets:
        return load_prompts(sets[text])
    if path.exists():
        raise PromptsError(f"{path}: is a folder, not a prompts file")
    names = ", ".join(sets) or "none"
    raise PromptsError(
        f"{text!r}: no such prompts file and not a built-in prompt set (built-in: {names}); give a path to a "
        "prompts.txt, a built-in name, or the prompts text itself with one prompt per line"
    )
