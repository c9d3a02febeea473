from __future__ import annotations

import json
from pathlib import Path

import pytest

from slap_edge.data.manifest import ClipRecord, ManifestError, parse_record, read_manifest, write_manifest


def _record(i: int) -> ClipRecord:
    return ClipRecord(
        id=f"c{i}",
        path=f"audio/c{i}.wav",
        duration=2.5,
        sample_rate=16000,
        speaker="s1",
        source="synth",
        split="train",
        attributes={"sex": "female", "language": "en"},
    )


def test_round_trip_fills_unknown_attributes(tmp_path) -> None:
    n = write_manifest([_record(0), _record(1)], tmp_path / "manifest.jsonl")
    assert n == 2
    rows = read_manifest(tmp_path)
    assert [r.id for r in rows] == ["c0", "c1"]
    assert rows[0].attributes["age_group"] is None and rows[0].attributes["sex"] == "female"


def test_bad_value_names_file_line_and_choices(tmp_path) -> None:
    path = tmp_path / "manifest.jsonl"
    good = json.loads(_record(0).to_json())
    bad = {**good, "attributes": {"sex": "f"}}
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(ManifestError, match=r"manifest\.jsonl:2: attribute sex='f'.*female, male"):
        read_manifest(path)


def test_malformed_json_names_line(tmp_path) -> None:
    path = tmp_path / "manifest.jsonl"
    path.write_text(_record(0).to_json() + "\n{not json\n")
    with pytest.raises(ManifestError, match=r":2: invalid JSON"):
        read_manifest(path)


def test_a_later_attribute_is_written_only_when_known(tmp_path: Path) -> None:
    base = {"id": "a", "path": "a.wav", "duration": 1.0, "sample_rate": 16000, "speaker": "s", "source": "synth",
            "split": "train", "attributes": {"sex": "male"}}  # fmt: skip
    plain = parse_record(base, "m:1")
    assert plain.attributes["intonation"] is None
    # A clip without it is written as before the attribute existed, byte for byte.
    assert "intonation" not in json.loads(plain.to_json())["attributes"]
    flat = parse_record({**base, "attributes": {"sex": "male", "intonation": "monotone"}}, "m:2")
    assert json.loads(flat.to_json())["attributes"]["intonation"] == "monotone"
    with pytest.raises(ManifestError, match="m:3: attribute intonation='flat' is not accepted; use monotone, neutral"):
        parse_record({**base, "attributes": {"intonation": "flat"}}, "m:3")
