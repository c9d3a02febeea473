"""The catalogue of evaluation-suite tasks: binary questions about the speaker, each class described by three prompts
in everyday words, with the attributes that select its clips (``spec/eval-suite.md``). `build_suite` in
`slap_edge.data.suite_builder` draws clips for them; `language_task` makes the task for any pair of languages.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from itertools import combinations
from typing import Any

from slap_edge.data.languages import language_name
from slap_edge.data.manifest import ClipRecord

# Pairs that differ little in sound come first: they test language identity, not just a distant phoneme inventory.
PREFERRED_LANGUAGE_PAIRS = (
    ("es", "pt"),
    ("de", "nl"),
    ("da", "sv"),
    ("cs", "pl"),
    ("ru", "uk"),
    ("it", "es"),
    ("fr", "it"),
    ("en", "de"),
    ("hi", "fa"),
    ("ro", "it"),
)

Predicate = Callable[[dict[str, Any]], bool]


class SuiteBuildError(ValueError):
    """The suite cannot be built (bad arguments, no clips, output folder in the way)."""


def _is(key: str, *values: Any) -> Predicate:
    return lambda attrs: attrs.get(key) in values


@dataclasses.dataclass(frozen=True)
class ClassSpec:
    label: str
    where: Predicate
    prompts: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """One binary task. ``base`` limits both classes; ``control`` fixes nuisance attributes when the data allow
    (e.g. voice-quality tasks on clean channels only); ``stratify`` balances a confound (pitch within each sex)."""

    name: str
    category: str
    classes: tuple[ClassSpec, ClassSpec]
    base: Predicate | None = None
    control: dict[str, tuple[Any, ...]] = dataclasses.field(default_factory=dict)
    stratify: str | None = None


_NOT_CHILD = _is("age_group", "adult", "elderly", None)
_CLEAN_CHANNEL = {"channel": ("clean", None)}
_MODAL = {"quality": ("modal", None)}
_MODAL_PROMPTS = ("a clear voice", "someone speaking in a normal, firm voice", "a smooth and steady voice")

TASKS: tuple[TaskSpec, ...] = (
    TaskSpec(
        "sex",
        "demographics",
        (
            ClassSpec("female", _is("sex", "female"), ("a woman speaking", "a woman's voice", "a female speaker")),
            ClassSpec("male", _is("sex", "male"), ("a man speaking", "a man's voice", "a male speaker")),
        ),
        base=_NOT_CHILD,
    ),
    TaskSpec(
        "child_vs_adult",
        "demographics",
        (
            ClassSpec(
                "child",
                _is("age_group", "child"),
                ("a child speaking", "the voice of a young kid", "a little boy or girl talking"),
            ),
            ClassSpec(
                "adult",
                _is("age_group", "adult"),
                ("an adult speaking", "the voice of a grown-up", "a grown man or woman talking"),
            ),
        ),
    ),
    TaskSpec(
        "elderly_vs_adult",
        "demographics",
        (
            ClassSpec(
                "elderly",
                _is("age_group", "elderly"),
                ("an elderly person speaking", "the voice of an old man or woman", "a senior citizen talking"),
            ),
            ClassSpec(
                "adult",
                _is("age_group", "adult"),
                ("a young adult speaking", "the voice of a middle-aged person", "a grown-up in their thirties talking"),
            ),
        ),
    ),
    TaskSpec(
        "rate",
        "prosody",
        (
            ClassSpec(
                "fast", _is("rate", "fast"), ("someone talking fast", "rapid speech", "a person speaking quickly")
            ),
            ClassSpec(
                "slow",
                _is("rate", "slow"),
                ("someone talking slowly", "slow, unhurried speech", "a person speaking slowly"),
            ),
        ),
    ),
    TaskSpec(
        "pitch_within_sex",
        "prosody",
        (
            ClassSpec(
                "high",
                _is("pitch", "high"),
                ("a high-pitched voice", "someone speaking in a high voice", "a voice with a high pitch"),
            ),
            ClassSpec(
                "low",
                _is("pitch", "low"),
                ("a low-pitched voice", "someone speaking in a deep voice", "a voice with a low pitch"),
            ),
        ),
        base=_is("sex", "female", "male"),
        stratify="sex",
    ),
    TaskSpec(
        "monotone_vs_expressive",
        "prosody",
        (
            ClassSpec(
                "monotone",
                _is("intonation", "monotone"),
                (
                    "someone speaking in a flat, monotone voice",
                    "a monotonous voice with no expression",
                    "speech all on one pitch, without melody",
                ),
            ),
            ClassSpec(
                "expressive",
                _is("intonation", "expressive"),
                (
                    "someone speaking expressively, with lively intonation",
                    "an animated voice full of expression",
                    "speech with a lively, rising and falling melody",
                ),
            ),
        ),
        control=_CLEAN_CHANNEL,
    ),
    TaskSpec(
        "whisper_vs_normal",
        "voice",
        (
            ClassSpec(
                "whisper",
                _is("quality", "whisper"),
                ("someone whispering", "a whispered voice", "a person speaking in a whisper"),
            ),
            ClassSpec(
                "normal",
                _is("quality", "modal"),
                ("someone speaking in a normal voice", "a person talking out loud", "a normal speaking voice"),
            ),
        ),
        control=_CLEAN_CHANNEL,
    ),
    TaskSpec(
        "breathy_vs_modal",
        "voice",
        (
            ClassSpec(
                "breathy",
                _is("quality", "breathy"),
                ("a breathy voice", "someone speaking with a lot of air in their voice", "a soft, airy voice"),
            ),
            ClassSpec("modal", _is("quality", "modal"), _MODAL_PROMPTS),
        ),
        control=_CLEAN_CHANNEL,
    ),
    TaskSpec(
        "hoarse_vs_clear",
        "voice",
        (
            ClassSpec(
                "hoarse",
                _is("quality", "hoarse"),
                ("a hoarse voice", "someone with a rough, raspy voice", "a person who sounds hoarse"),
            ),
            ClassSpec(
                "clear",
                _is("quality", "modal"),
                ("a clear voice", "someone with a smooth, clean voice", "a person whose voice sounds healthy"),
            ),
        ),
        control=_CLEAN_CHANNEL,
    ),
    TaskSpec(
        "tremor_vs_steady",
        "voice",
        (
            ClassSpec(
                "tremor",
                _is("quality", "tremor"),
                ("a shaky, trembling voice", "someone whose voice trembles", "a quavering voice"),
            ),
            ClassSpec(
                "steady",
                _is("quality", "modal"),
                ("a steady voice", "someone whose voice is firm and steady", "a calm, even voice"),
            ),
        ),
        control=_CLEAN_CHANNEL,
    ),
    TaskSpec(
        "creaky_vs_modal",
        "voice",
        (
            ClassSpec(
                "creaky",
                _is("quality", "creaky"),
                ("a creaky voice", "someone speaking with vocal fry", "a crackly, gravelly voice"),
            ),
            ClassSpec("modal", _is("quality", "modal"), _MODAL_PROMPTS),
        ),
        control=_CLEAN_CHANNEL,
    ),
    TaskSpec(
        "loud_vs_quiet",
        "voice",
        (
            ClassSpec(
                "loud", _is("loudness", "loud"), ("someone speaking loudly", "a loud voice", "a person shouting")
            ),
            ClassSpec(
                "quiet",
                _is("loudness", "quiet"),
                ("someone speaking quietly", "a soft, quiet voice", "a person murmuring"),
            ),
        ),
    ),
    TaskSpec(
        "telephone_vs_wideband",
        "channel",
        (
            ClassSpec(
                "telephone",
                _is("channel", "telephone"),
                ("a voice over the phone", "a telephone call", "speech through a phone line"),
            ),
            ClassSpec(
                "wideband",
                _is("channel", "clean"),
                (
                    "a clear recording made with a good microphone",
                    "speech recorded in high quality",
                    "a studio recording",
                ),
            ),
        ),
        control=_MODAL,
    ),
    TaskSpec(
        "noise_vs_clean",
        "channel",
        (
            ClassSpec(
                "noise",
                _is("channel", "noise"),
                (
                    "speech with background noise",
                    "someone talking in a noisy place",
                    "a voice over loud background sounds",
                ),
            ),
            ClassSpec(
                "clean",
                _is("channel", "clean"),
                ("speech in a quiet room", "someone talking with no background noise", "a clean recording of a voice"),
            ),
        ),
        control=_MODAL,
    ),
    TaskSpec(
        "reverberant_vs_dry",
        "channel",
        (
            ClassSpec(
                "reverberant",
                _is("channel", "reverberant"),
                ("a voice echoing in a large hall", "someone talking in an echoey room", "speech with lots of echo"),
            ),
            ClassSpec(
                "dry",
                _is("channel", "clean"),
                (
                    "a voice recorded close to the microphone",
                    "someone talking in a small, quiet room",
                    "a dry recording",
                ),
            ),
        ),
        control=_MODAL,
    ),
)


def language_task(a: str, b: str) -> TaskSpec:
    """The task 'language a vs language b' with prompts naming both languages in English."""
    classes = []
    for code in (a, b):
        name = language_name(code)
        if name is None:
            raise SuiteBuildError(f"language code {code!r} has no English name in slap_edge.data.languages")
        prompts = (f"someone speaking {name}", f"a person talking in {name}", f"speech in the {name} language")
        classes.append(ClassSpec(code, _is("language", code), prompts))
    return TaskSpec(f"language_{a}_vs_{b}", "language", (classes[0], classes[1]))


def language_candidates(records: Sequence[ClipRecord], pairs: Sequence[tuple[str, str]] | None) -> list[TaskSpec]:
    if pairs is not None:
        return [language_task(a, b) for a, b in pairs]
    present = Counter(
        r.attributes.get("language")
        for r in records
        if r.attributes.get("language") and language_name(r.attributes["language"])
    )
    speakers: dict[str, set[str]] = defaultdict(set)
    for r in records:
        if r.attributes.get("language") in present:
            speakers[r.attributes["language"]].add(r.speaker)
    ordered = [p for p in PREFERRED_LANGUAGE_PAIRS if p[0] in present and p[1] in present]
    # Then every other pair, the best supplied (most speakers in its smaller class) first.
    rest = sorted(
        (p for p in combinations(sorted(present), 2) if p not in ordered and p[::-1] not in ordered),
        key=lambda p: (-min(len(speakers[p[0]]), len(speakers[p[1]])), p),
    )
    return [language_task(a, b) for a, b in ordered + rest]
