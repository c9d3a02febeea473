from __future__ import annotations

import pytest

from slap_edge.data.manifest import ClipRecord, write_manifest

pytest.importorskip("torch")

from slap_edge.data.holdout import holdout_patterns  # noqa: E402
from slap_edge.train.data import CorpusError, load_split  # noqa: E402


def _rec(i: int, engine: str, voice: str) -> ClipRecord:
    return ClipRecord(
        id=f"c{i}",
        path=f"audio/c{i}.wav",
        duration=3.0,
        sample_rate=16000,
        speaker=f"s{i}",
        source="synth",
        split="train",
        attributes={},
        engine=engine,
        voice=voice,
    )


def test_held_out_voices_never_reach_training(tmp_path) -> None:
    write_manifest(
        [_rec(0, "mbrola", "mb-us1"), _rec(1, "mbrola", "mb-fr1"), _rec(2, "espeak-ng", "en+m3")],
        tmp_path / "manifest.jsonl",
    )
    kept = load_split(tmp_path, "train", ("voice=mb-us1",))
    assert [r.id for r in kept] == ["c1", "c2"]
    assert [r.id for r in load_split(tmp_path, "train", ("engine=mbrola",))] == ["c2"]
    with pytest.raises(CorpusError, match="after exclusions"):
        load_split(tmp_path, "train", ("*",))


def test_holdout_patterns_from_file_or_text(tmp_path) -> None:
    (tmp_path / "holdout.json").write_text('{"patterns": ["voice=mb-us1", "engine=mbrola"]}')
    assert holdout_patterns(str(tmp_path / "holdout.json")) == ("voice=mb-us1", "engine=mbrola")
    assert holdout_patterns(str(tmp_path)) == ("voice=mb-us1", "engine=mbrola")
    assert holdout_patterns("voice=a, voice=b") == ("voice=a", "voice=b")
    assert holdout_patterns(None) == ()
    with pytest.raises(ValueError, match="no such holdout file"):
        holdout_patterns(str(tmp_path / "missing.json"))
