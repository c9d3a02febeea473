"""The real-voice dev suite: real human speech from Debian packages, on speakers no model is trained on.

The three packages (``slap_edge.data.debian_sources``) hold few speakers per language (one to three), so a speaker
hash would leave most languages wholly in training or wholly out. The split is therefore a committed list:
:data:`DEV_SPEAKERS` are the ``test`` split (the dev suite is built from them and nothing is trained on them), and
every other speaker is ``train``, a corpus that can be mixed into training. The dev speakers are chosen so that
each language pair has speakers of every source on both sides where the data have them; the Asterisk voice Allison
reads both English and Spanish, so language is there measured within one voice.

:func:`build_real_voice_dev` imports the three sources, writes one merged manifest and builds the suite
(spec/eval-suite.md) with :func:`slap_edge.data.suite_builder.build_suite`. docs/real-voices.md tells how.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slap_edge.data.suite_tasks import TaskSpec

DEBIAN_KINDS = ("asterisk", "hedgewars", "klettres")
DEBIAN_PACKAGES = {
    "asterisk": tuple(f"asterisk-core-sounds-{lang}-wav" for lang in ("en", "es", "fr", "it", "ru")),
    "hedgewars": ("hedgewars-data",),
    "klettres": ("klettres-data",),
}
# Held out of training; the dev suite is built from these speakers alone.
DEV_SPEAKERS = frozenset(
    {
        "asterisk-allison",  # en_US and es_MX prompts, one voice
        "asterisk-june",  # fr_CA
        "asterisk-carlo",  # it_IT
        "asterisk-ivrvoiceru",  # ru_RU
        "hedgewars-default",  # en
        "hedgewars-default_es",
        "hedgewars-default_ru",
        "hedgewars-default_uk",
        "hedgewars-default_pl",
        "hedgewars-russian_pl",
        "klettres-en",
        "klettres-es",
        "klettres-fr",
        "klettres-it",
        "klettres-ru",
        "klettres-uk",
        "klettres-cs",  # romance_vs_slavic
        "klettres-pt_br",
    }
)
# Pairs with speakers of the same sources on both sides (so the channel, 8 kHz telephone or wideband, is not the
# answer). ru/uk is left out: Ukrainian has no Asterisk voice, so the 8 kHz Russian prompts would give it away.
DEV_LANGUAGE_PAIRS = (("en", "es"), ("fr", "it"), ("en", "ru"), ("es", "it"))
# The pairs have two or three speakers per class, each source on both sides, so a speaker-grouped probe on them
# learns the source and is below chance (leave one speaker out: its source-mate in training is in the other class).
# Pooling languages gives five and seven wideband speakers a class and 5-fold grouped folds, where a probe can learn
# language. The 8 kHz Asterisk voices stay out of it: Slavic has one (Russian) against three Romance ones, so
# whichever fold held it out would call it Romance by its channel.
ROMANCE = ("es", "fr", "it", "pt")
SLAVIC = ("ru", "uk", "pl", "cs")


def _wideband(attrs: dict[str, Any]) -> bool:
    return attrs.get("channel") != "telephone"


def _speaks(*codes: str) -> Callable[[dict[str, Any]], bool]:
    return lambda attrs: attrs.get("language") in codes


def romance_vs_slavic_task() -> TaskSpec:
    from slap_edge.data.suite_tasks import ClassSpec, TaskSpec

    return TaskSpec(
        "romance_vs_slavic",
        "language",
        (
            ClassSpec(
                "romance",
                _speaks(*ROMANCE),
                (
                    "someone speaking Spanish, French, Italian or Portuguese",
                    "a person talking in a Romance language",
                    "speech in Spanish, French, Italian or Portuguese",
                ),
            ),
            ClassSpec(
                "slavic",
                _speaks(*SLAVIC),
                (
                    "someone speaking Russian, Ukrainian, Polish or Czech",
                    "a person talking in a Slavic language",
                    "speech in Russian, Ukrainian, Polish or Czech",
                ),
            ),
        ),
        base=_wideband,
    )


DEV_CLIPS_PER_CLASS = 90
DEV_MIN_SPEAKERS = 2  # fr and it have two dev speakers each; the probe is then leave-one-speaker-out
DEV_SEED = 0
MERGED = "all"  # OUT/corpus/all/manifest.jsonl: the three sources in one manifest


def dev_split(speaker: str) -> str:
    """``test`` for the dev speakers, ``train`` for every other speaker of the Debian sources."""
    return "test" if speaker in DEV_SPEAKERS else "train"


@dataclasses.dataclass
class RealVoiceDevResult:
    corpus: Path  # the merged manifest's folder
    suite: Path
    imports: dict[str, dict[str, Any]]  # kind -> import report summary
    tasks: dict[str, dict[str, Any]]  # task -> clips and speakers per class
    skipped: dict[str, str]
    train_clips: int
    train_speakers: int


def build_real_voice_dev(
    src: str | Path,
    out: str | Path,
    *,
    clips_per_class: int = DEV_CLIPS_PER_CLASS,
    seed: int = DEV_SEED,
    copy: bool = True,
    progress: Callable[[str], None] | None = None,
) -> RealVoiceDevResult:
    """Import the Debian packages unpacked under ``src`` into ``out/corpus/<kind>/`` (16 kHz WAV copies with
    ``copy``, so the corpus does not depend on ``src`` staying put), merge them into ``out/corpus/all/`` and build
    the dev suite at ``out/suite/`` from the :data:`DEV_SPEAKERS`. ``out/real_voice_dev.json`` records the counts."""
    from slap_edge.data.importers import import_corpus
    from slap_edge.data.manifest import read_manifest, resolve_audio, write_manifest
    from slap_edge.data.suite_builder import build_suite
    from slap_edge.data.suite_tasks import TASKS, language_task

    src, out = Path(src), Path(out)
    say = progress or (lambda _msg: None)
    imports: dict[str, dict[str, Any]] = {}
    merged = []
    for kind in DEBIAN_KINDS:
        say(f"importing {kind} from {src}")
        folder = out / "corpus" / kind
        report = import_corpus(kind, src, folder, copy=copy)
        imports[kind] = {
            "imported": report.imported,
            "skipped": report.skipped,
            "skipped_by_kind": report.by_kind(),
            "splits": report.splits,
        }
        manifest = folder / "manifest.jsonl"
        for record in read_manifest(manifest):
            merged.append(dataclasses.replace(record, path=str(resolve_audio(manifest, record))))
    all_dir = out / "corpus" / MERGED
    all_dir.mkdir(parents=True, exist_ok=True)
    write_manifest(merged, all_dir / "manifest.jsonl")
    say(f"building the dev suite from {sum(r.split == 'test' for r in merged)} clips of the dev speakers")
    # The attribute tasks run too: each is built where the metadata label enough dev speakers, else skipped
    # with the reason (sex, for one, has a single male dev speaker).
    tasks = list(TASKS) + [language_task(a, b) for a, b in DEV_LANGUAGE_PAIRS] + [romance_vs_slavic_task()]
    result = build_suite(
        all_dir,
        out / "suite",
        clips_per_class=clips_per_class,
        min_speakers=DEV_MIN_SPEAKERS,
        language_pairs=[],
        n_language_pairs=0,
        seed=seed,
        name="real-voice-dev",
        overwrite=True,
        tasks=tasks,
    )
    train = [r for r in merged if r.split == "train"]
    summary = RealVoiceDevResult(
        corpus=all_dir,
        suite=out / "suite",
        imports=imports,
        tasks={
            t.spec.name: {
                "clips": {label: len(c) for label, c in t.clips.items()},
                "speakers": {label: sorted({r.speaker for r in c}) for label, c in t.clips.items()},
            }
            for t in result.tasks
        },
        skipped=dict(result.skipped),
        train_clips=len(train),
        train_speakers=len({r.speaker for r in train}),
    )
    record = {
        "src": str(src.resolve()),
        "dev_speakers": sorted(DEV_SPEAKERS),
        "language_pairs": [list(p) for p in DEV_LANGUAGE_PAIRS],
        "pooled": {"romance": list(ROMANCE), "slavic": list(SLAVIC), "base": "channel is not telephone"},
        "clips_per_class": clips_per_class,
        "min_speakers": DEV_MIN_SPEAKERS,
        "seed": seed,
        "imports": imports,
        "tasks": summary.tasks,
        "skipped": summary.skipped,
        "train": {
            "clips": summary.train_clips,
            "speakers": summary.train_speakers,
            "by_language": dict(sorted(Counter(str(r.attributes.get("language")) for r in train).items())),
            "by_licence": dict(sorted(Counter(str(r.licence) for r in train).items())),
        },
    }
    (out / "real_voice_dev.json").write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return summary
