"""`data suite`: a spec-conformant, balanced suite from the test speakers or from a holdout family of voices."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from slap_edge.data.holdout import HoldoutSelector, read_holdout
from slap_edge.data.manifest import ClipRecord, write_manifest
from slap_edge.data.suite_builder import SuiteBuildError, build_suite
from slap_edge.eval.suite import load_suite, validate_suite

QUALITIES = ("modal", "breathy", "whisper", "creaky", "hoarse", "tremor")
CHANNELS = ("clean", "telephone", "noise", "reverberant")
LANGUAGES = ("es", "pt", "de", "nl", "fr")


def _corpus(root: Path, speakers: int = 30, clips: int = 4, mbrola_speakers: int = 0, drop: str = "") -> Path:
    """A manifest whose attributes cover every task, with tiny WAV files (FLAC for some, to test conversion)."""
    root.mkdir(parents=True, exist_ok=True)
    records = []
    rate = 16000
    for i in range(speakers + mbrola_speakers):
        mbrola = i >= speakers
        for j in range(clips):
            attrs = {
                "sex": ("female", "male")[i % 2],
                "age_group": ("adult", "adult", "child", "elderly")[(i // 2) % 4],
                "language": LANGUAGES[i % 5],
                "pitch": ("low", "mid", "high")[(i // 2) % 3],
                "rate": ("slow", "normal", "fast")[(i + j) % 3],
                "quality": QUALITIES[(i + j) % 6],
                "loudness": ("quiet", "normal", "loud")[(i + 2 * j) % 3],
                "channel": CHANNELS[(i + 3 * j) % 4],
            }
            if drop:
                attrs = {k: (None if v == drop else v) for k, v in attrs.items()}
            ext = "flac" if (i + j) % 7 == 0 else "wav"
            rel = f"audio/{i:03d}_{j}.{ext}"
            t = np.arange(int(0.1 * rate)) / rate
            sf.write(_mkdir(root / rel), 0.3 * np.sin(t * 300 + i), rate)
            records.append(
                ClipRecord(
                    id=f"c{i:03d}-{j}",
                    path=rel,
                    duration=0.1,
                    sample_rate=rate,
                    speaker=f"{'mb' if mbrola else 'es'}-spk{i:03d}",
                    source="synth",
                    split="train" if mbrola else ("test", "train")[i % 7 == 6],
                    attributes={k: attrs.get(k) for k in attrs},
                    engine="mbrola" if mbrola else "espeak-ng",
                    voice=f"mb-{LANGUAGES[i % 5]}{i % 3 + 1}" if mbrola else f"{LANGUAGES[i % 5]}+m{i % 4}",
                )
            )
    write_manifest(records, root / "manifest.jsonl")
    return root


def _mkdir(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _corpus(tmp_path_factory.mktemp("corpus"), mbrola_speakers=10)


def test_suite_from_test_split_is_valid_and_balanced(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "suite"
    result = build_suite(corpus, out, clips_per_class=12, min_speakers=3, seed=1)
    assert validate_suite(out, min_speakers=3) == []
    suite = load_suite(out)
    names = [t.name for t in suite.tasks]
    assert len(names) >= 12
    for expected in ("sex", "child_vs_adult", "elderly_vs_adult", "rate", "pitch_within_sex", "whisper_vs_normal"):
        assert expected in names
    for expected in ("breathy_vs_modal", "hoarse_vs_clear", "tremor_vs_steady", "telephone_vs_wideband"):
        assert expected in names
    assert sum(n.startswith("language_") for n in names) == 2
    assert "language_es_vs_pt" in names  # a preferred close pair comes first
    assert {t.category for t in suite.tasks} >= {"demographics", "prosody", "voice", "channel", "language"}
    for task in suite.tasks:
        assert all(len(prompts) == 3 for prompts in task.classes.values())
        clips = suite.clips_of(task.name)
        counts = Counter(c.label for c in clips)
        assert len(set(counts.values())) == 1, (task.name, counts)  # balanced
        speakers = defaultdict(set)
        for clip in clips:
            speakers[clip.label].add(clip.speaker)
        assert all(len(s) >= 3 for s in speakers.values()), (task.name, speakers)
    # Only test-split speakers; no clip of a holdout-less build comes from train.
    assert all(c.speaker.startswith("es-") and int(c.speaker[-3:]) % 7 != 6 for c in suite.clips)
    # Pitch is balanced within sex: each class holds as many female as male clips.
    lines = [json.loads(x) for x in (out / "clips.jsonl").read_text().splitlines()]
    sex_of = {f"c{i:03d}": ("female", "male")[i % 2] for i in range(40)}
    for label in ("high", "low"):
        sexes = Counter(
            sex_of[x["id"].split("-")[0]] for x in lines if x["task"] == "pitch_within_sex" and x["label"] == label
        )
        assert sexes["female"] == sexes["male"] > 0
    # Every audio file is WAV (FLAC sources converted), shared between tasks.
    files = list((out / "audio").iterdir())
    assert len(files) == result.audio_files == len({c.path for c in suite.clips})
    assert {sf.info(str(f)).format for f in files} == {"WAV"}
    build = json.loads((out / "build.json").read_text())
    assert build["selection"] == "test split" and "sex" in build["tasks"]


def test_suite_is_deterministic_for_a_seed(corpus: Path, tmp_path: Path) -> None:
    build_suite(corpus, tmp_path / "a", clips_per_class=8, seed=3)
    build_suite(corpus, tmp_path / "b", clips_per_class=8, seed=3)
    build_suite(corpus, tmp_path / "c", clips_per_class=8, seed=4)
    a, b, c = ((tmp_path / x / "clips.jsonl").read_text() for x in "abc")
    assert a == b and a != c


def test_holdout_voices_build_from_them_alone(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "holdout"
    result = build_suite(corpus, out, holdout=HoldoutSelector.parse("engine=mbrola"), clips_per_class=6, min_speakers=2)
    suite = load_suite(out)
    assert suite.clips and all(c.speaker.startswith("mb-") for c in suite.clips)
    assert validate_suite(out) == []
    holdout = json.loads((out / "holdout.json").read_text())
    assert holdout["patterns"] == ["engine=mbrola"] and holdout["exclude_engines"] == ["mbrola"]
    manifest = [json.loads(x) for x in (corpus / "manifest.jsonl").read_text().splitlines()]
    assert holdout["exclude_voices"] == sorted({r["voice"] for r in manifest if r["engine"] == "mbrola"})
    assert holdout["clips"] == 40 and holdout["speakers"] == 10 and result.holdout == holdout
    selector = read_holdout(out)
    mb = ClipRecord("x", "a.wav", 1.0, 16000, "s", "synth", "train", {}, engine="mbrola", voice="mb-de4")
    es = ClipRecord("y", "a.wav", 1.0, 16000, "s", "synth", "train", {}, engine="espeak-ng", voice="de+m3")
    assert selector.matches(mb) and not selector.matches(es)


def test_exclude_leaves_out_the_voices_a_model_was_trained_without(corpus: Path, tmp_path: Path) -> None:
    holdout = build_suite(corpus, tmp_path / "h", holdout=HoldoutSelector.parse("voice=de+*,voice=nl+*"))
    full = build_suite(corpus, tmp_path / "full", clips_per_class=6, min_speakers=2)
    result = build_suite(corpus, tmp_path / "ex", exclude=read_holdout(holdout.out), clips_per_class=6, min_speakers=2)

    def voices(out: Path) -> set[str]:
        return {json.loads(x)["voice"] for x in (out / "clips.jsonl").read_text().splitlines()}

    assert any(v.startswith(("de+", "nl+")) for v in voices(full.out))
    assert voices(result.out) and not any(v.startswith(("de+", "nl+")) for v in voices(result.out))
    manifest = [json.loads(x) for x in (corpus / "manifest.jsonl").read_text().splitlines()]
    expected = sum(r["split"] == "test" and r["voice"].startswith(("de+", "nl+")) for r in manifest)
    assert result.excluded == expected > 0
    assert json.loads((result.out / "build.json").read_text())["excluded"]["clips"] == expected
    assert json.loads((full.out / "build.json").read_text())["excluded"] is None
    assert "language_de_vs_nl" not in {t.spec.name for t in result.tasks}
    with pytest.raises(SuiteBuildError, match="leaves no clip"):
        build_suite(corpus, tmp_path / "none", exclude=HoldoutSelector.parse("espeak-ng"))


def test_speakers_by_voice_groups_identities_of_one_voice(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "byvoice"
    holdout = HoldoutSelector.parse("mbrola")
    build_suite(corpus, out, holdout=holdout, clips_per_class=6, min_speakers=2, speakers_by_voice=True)
    lines = [json.loads(x) for x in (out / "clips.jsonl").read_text().splitlines()]
    assert lines and all(x["speaker"] == f"mbrola/{x['voice']}" for x in lines)
    assert json.loads((out / "build.json").read_text())["speakers"] == "engine/voice"


def test_holdout_patterns() -> None:
    mb = ClipRecord("x", "a.wav", 1.0, 16000, "s", "synth", "train", {}, engine="mbrola", voice="mb-de4")
    es = ClipRecord("y", "a.wav", 1.0, 16000, "s", "synth", "train", {}, engine="espeak-ng", voice="de+whisper")
    assert HoldoutSelector.parse("mbrola").matches(mb)
    assert HoldoutSelector.parse("voice=mb-de*").matches(mb) and not HoldoutSelector.parse("voice=mb-fr*").matches(mb)
    assert HoldoutSelector.parse("*+whisper").matches(es) and not HoldoutSelector.parse("*+whisper").matches(mb)
    assert HoldoutSelector.parse("voice=mb-fr*, engine=espeak*").matches(es)
    assert not HoldoutSelector.parse("voice=mbrola").matches(mb)  # voice= looks at the voice only
    with pytest.raises(SuiteBuildError, match="use engine=GLOB, voice=GLOB"):
        HoldoutSelector.parse("speaker=x")
    with pytest.raises(SuiteBuildError, match="empty"):
        HoldoutSelector.parse(" , ")


def test_tasks_without_data_are_skipped_with_a_reason(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "c", speakers=24, clips=3, drop="whisper")
    result = build_suite(corpus, tmp_path / "s", clips_per_class=6)
    reasons = dict(result.skipped)
    assert reasons["whisper_vs_normal"] == "no clips for class 'whisper'"
    assert "whisper_vs_normal" not in [t.spec.name for t in result.tasks]
    few = build_suite(corpus, tmp_path / "s2", clips_per_class=10, min_speakers=5)
    assert dict(few.skipped)["child_vs_adult"] == "too few speakers ('child': 4 chosen of 4; need 5)"
    assert "sex" in [t.spec.name for t in few.tasks]
    with pytest.raises(SuiteBuildError, match="no task has enough clips; sex: too few speakers"):
        build_suite(corpus, tmp_path / "s3", clips_per_class=6, min_speakers=30)


def test_errors(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(SuiteBuildError, match="matches no clip"):
        build_suite(corpus, tmp_path / "x", holdout=HoldoutSelector.parse("engine=piper"))
    with pytest.raises(SuiteBuildError, match="would hold the corpus"):
        build_suite(corpus, corpus.parent, overwrite=True)
    out = tmp_path / "exists"
    out.mkdir()
    (out / "file").write_text("x")
    with pytest.raises(SuiteBuildError, match="exists and is not empty"):
        build_suite(corpus, out)
    build_suite(corpus, out, overwrite=True, clips_per_class=4)
    assert not (out / "file").exists() and (out / "suite.json").exists()


def test_unreadable_clips_are_left_out_and_listed(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "c", speakers=24, clips=3)
    (corpus / "audio" / "000_0.flac").write_bytes(b"garbage")
    (corpus / "audio" / "001_0.wav").unlink()
    result = build_suite(corpus, tmp_path / "s", clips_per_class=6)
    assert len(result.unreadable) == 2
    assert any("000_0.flac: not readable" in u for u in result.unreadable)
    assert any("001_0.wav: audio file is missing" in u for u in result.unreadable)
    assert validate_suite(tmp_path / "s") == []


def test_cli_suite(corpus: Path, tmp_path: Path) -> None:
    from slap_edge.cli import app

    out = tmp_path / "suite"
    args = ["data", "suite", "--from", str(corpus), "--out", str(out), "--clips-per-class", "6"]
    result = CliRunner().invoke(app, [*args, "--language-pairs", "de:nl,fr:es"])
    assert result.exit_code == 0, result.output
    assert "task language_de_vs_nl [language]" in result.output and "validator: ok" in result.output
    assert [t.name for t in load_suite(out).tasks][-2:] == ["language_de_vs_nl", "language_fr_vs_es"]
    bad = CliRunner().invoke(app, [*args, "--overwrite", "--language-pairs", "de-nl"])
    assert bad.exit_code == 2 and "write two codes as a:b" in bad.output
    ex = CliRunner().invoke(app, [*args, "--overwrite", "--exclude-holdout", "voice=de+*"])
    assert ex.exit_code == 0 and "excluded " in ex.output and "of the voices voice=de+*" in ex.output, ex.output
    missing = CliRunner().invoke(app, [*args, "--overwrite", "--exclude-holdout", str(tmp_path / "no.json")])
    assert missing.exit_code == 2 and "no such holdout file" in missing.output
