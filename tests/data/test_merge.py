"""`data merge`: one manifest over several corpora, audio left in place, nothing dropped silently."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from slap_edge.cli import app
from slap_edge.data.manifest import ClipRecord, ManifestError, read_manifest, resolve_audio, write_manifest
from slap_edge.data.merge import merge_corpora


def _corpus(root: Path, prefix: str, n: int, split: str = "train") -> Path:
    (root / "audio").mkdir(parents=True)
    records = []
    for i in range(n):
        path = f"audio/{prefix}{i}.wav"
        sf.write(root / path, np.zeros(1600, dtype=np.float32), 16000)
        attrs = {"sex": "female" if i % 2 else "male", "language": "en"}
        records.append(ClipRecord(f"{prefix}{i}", path, 0.1, 16000, f"{prefix}-spk{i}", prefix, split, attrs))
    write_manifest(records, root)
    return root


def test_merge_keeps_every_record_and_resolves_the_audio(tmp_path: Path) -> None:
    a = _corpus(tmp_path / "synth", "s", 4)
    b = _corpus(tmp_path / "real" / "all", "r", 3, split="test")
    info = merge_corpora([a, b], tmp_path / "merged")
    merged = read_manifest(tmp_path / "merged" / "manifest.jsonl")
    assert info["clips"] == 7 and [r.id for r in merged] == ["s0", "s1", "s2", "s3", "r0", "r1", "r2"]
    for record in merged:
        assert resolve_audio(tmp_path / "merged" / "manifest.jsonl", record).is_file()
    assert {r.split for r in merged if r.id.startswith("r")} == {"test"}  # splits kept: dev speakers stay out
    assert merged[1].attributes["sex"] == "female"
    # The merged folder moves with its sources (paths are relative).
    shutil.move(tmp_path, tmp_path.parent / (tmp_path.name + "-moved"))
    moved = tmp_path.parent / (tmp_path.name + "-moved")
    assert all(resolve_audio(moved / "merged" / "manifest.jsonl", r).is_file() for r in merged)
    shutil.move(moved, tmp_path)
    stamp = json.loads((tmp_path / "merged" / "merge.json").read_text())
    assert [p["clips"] for p in stamp["sources"]] == [4, 3]


def test_merge_names_what_it_refuses(tmp_path: Path) -> None:
    a = _corpus(tmp_path / "a", "x", 2)
    b = _corpus(tmp_path / "b", "x", 2)
    with pytest.raises(ManifestError, match=r"b/manifest.jsonl line 1: clip id 'x0' is also in .*a/manifest.jsonl"):
        merge_corpora([a, b], tmp_path / "m")
    with pytest.raises(ManifestError, match="needs two or more"):
        merge_corpora([a], tmp_path / "m")
    with pytest.raises(ManifestError, match="not a corpus folder"):
        merge_corpora([a, tmp_path / "nothing"], tmp_path / "m")
    c = _corpus(tmp_path / "c", "c", 2)
    (c / "audio" / "c1.wav").unlink()
    with pytest.raises(ManifestError, match=r"line 2: audio .*c1.wav does not exist"):
        merge_corpora([a, c], tmp_path / "m")
    d = _corpus(tmp_path / "d", "d", 1)
    merge_corpora([a, d], tmp_path / "m")
    result = CliRunner().invoke(app, ["data", "merge", str(a), str(d), "--out", str(tmp_path / "m")])
    assert result.exit_code != 0 and "exists; pass --overwrite" in result.output
    result = CliRunner().invoke(app, ["data", "merge", str(a), str(d), "--out", str(tmp_path / "m"), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert "merged 3 clips" in result.output


def test_id_prefixes_merge_corpora_that_number_their_clips_alike(tmp_path: Path) -> None:
    a = _corpus(tmp_path / "a", "syn-", 2)
    b = _corpus(tmp_path / "b", "syn-", 2)
    info = merge_corpora([a, b], tmp_path / "m", id_prefixes=["", "es"])
    merged = read_manifest(tmp_path / "m" / "manifest.jsonl")
    assert [r.id for r in merged] == ["syn-0", "syn-1", "essyn-0", "essyn-1"]
    assert resolve_audio(tmp_path / "m" / "manifest.jsonl", merged[2]) == (b / "audio" / "syn-0.wav").resolve()
    assert [p["id_prefix"] for p in info["sources"]] == ["", "es"]
    with pytest.raises(ManifestError, match="1 id prefixes for 2 corpora"):
        merge_corpora([a, b], tmp_path / "m2", id_prefixes=["es"])
    with pytest.raises(ManifestError, match="id prefix 'e s'"):
        merge_corpora([a, b], tmp_path / "m2", id_prefixes=["", "e s"])
    with pytest.raises(ManifestError, match="give each corpus its own --id-prefix"):
        merge_corpora([a, b], tmp_path / "m2", id_prefixes=["x", "x"])
    out = tmp_path / "m3"
    result = CliRunner().invoke(
        app, ["data", "merge", str(a), str(b), "--out", str(out), "--id-prefix", "", "--id-prefix", "b"]
    )
    assert result.exit_code == 0, result.output
    assert [r.id for r in read_manifest(out / "manifest.jsonl")][2:] == ["bsyn-0", "bsyn-1"]
