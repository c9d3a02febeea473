"""Importers of real corpora, on fixture index files in each corpus's layout with tiny audio written here."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from slap_edge.data.importers import ImporterError, import_corpus, speaker_split
from slap_edge.data.manifest import read_manifest, resolve_audio

FIXTURES = Path(__file__).parent / "fixtures"


def _write_tone(path: Path, seconds: float = 0.3, rate: int = 16000, channels: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.2 * np.sin(2 * np.pi * 220 * t).astype(np.float32)
    data = np.stack([wave] * channels, axis=1) if channels > 1 else wave
    fmt = {".mp3": "MP3", ".flac": "FLAC", ".wav": "WAV"}[path.suffix]
    sf.write(str(path), data, rate, format=fmt)


def _garbage(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not sound at all" * 10)


def _fixture(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    shutil.copytree(FIXTURES / name, root)
    return root


def _problems(out: Path) -> list[tuple[str, int | None, str]]:
    report = json.loads((out / "import_report.json").read_text())
    return [(Path(p["file"]).name, p["line"], p["kind"]) for p in report["problems"]]


def _speakers_disjoint(records) -> None:
    splits = defaultdict(set)
    for record in records:
        splits[record.speaker].add(record.split)
    assert all(len(s) == 1 for s in splits.values()), splits


def test_commonvoice_current_layout(tmp_path: Path) -> None:
    src = _fixture(tmp_path, "commonvoice") / "de"
    for n in (1, 2, 3, 4, 5, 9):
        _write_tone(src / "clips" / f"common_voice_de_{n}.mp3")
    _garbage(src / "clips" / "common_voice_de_8.mp3")  # clip 7 is missing on purpose
    out = tmp_path / "out"
    report = import_corpus("commonvoice", src, out)

    records = {r.id: r for r in read_manifest(out)}
    assert sorted(records) == [f"cv-common_voice_de_{n}" for n in (1, 2, 3, 4)]
    first = records["cv-common_voice_de_1"]
    assert first.attributes["sex"] == "male" and first.attributes["age_group"] == "adult"
    assert first.attributes["language"] == "de" and first.attributes["accent"] == "Deutschland Deutsch"
    assert first.text == "Guten Morgen, wie geht es?" and first.licence == "CC0-1.0" and first.source == "commonvoice"
    assert first.speaker == records["cv-common_voice_de_2"].speaker
    assert records["cv-common_voice_de_3"].attributes["age_group"] == "elderly"
    teen = records["cv-common_voice_de_4"].attributes
    assert teen["age_group"] is None and teen["sex"] is None  # teens and blank gender stay unknown
    assert first.sample_rate == 16000 and first.duration == pytest.approx(0.3, abs=0.05)
    assert resolve_audio(out / "manifest.jsonl", first) == (src / "clips" / "common_voice_de_1.mp3").resolve()

    assert report.imported == 4 and report.skipped == 5
    assert _problems(out) == [
        ("validated.tsv", 6, "unknown value"),  # gender "robot"
        ("validated.tsv", 7, "malformed line"),
        ("validated.tsv", 8, "missing audio"),
        ("validated.tsv", 9, "unreadable audio"),
        ("validated.tsv", 10, "unknown value"),  # locale zz-XX
    ]
    assert "robot" in report.problems[0].reason and "male_masculine" in report.problems[0].reason
    _speakers_disjoint(records.values())


def test_commonvoice_legacy_accent_column_and_locale_from_folder(tmp_path: Path) -> None:
    src = _fixture(tmp_path, "commonvoice_v5") / "en"
    for n in (100, 101, 102):
        _write_tone(src / "clips" / f"common_voice_en_{n}.mp3")
    out = tmp_path / "out"
    report = import_corpus("commonvoice", src, out)
    records = {r.id: r.attributes for r in read_manifest(out)}
    assert records["cv-common_voice_en_100"]["accent"] == "scottish"
    assert records["cv-common_voice_en_101"]["accent"] == "american"
    assert records["cv-common_voice_en_101"]["language"] == "en"
    assert report.imported == 2 and _problems(out) == [("validated.tsv", 4, "unknown value")]
    assert "atlantis" in report.problems[0].reason


def test_commonvoice_without_validated_reads_train_dev_test_not_other(tmp_path: Path) -> None:
    src = _fixture(tmp_path, "commonvoice_v5") / "en"
    lines = (src / "validated.tsv").read_text().splitlines(keepends=True)
    (src / "validated.tsv").unlink()
    (src / "train.tsv").write_text(lines[0] + lines[1])
    (src / "test.tsv").write_text(lines[0] + lines[2])
    (src / "other.tsv").write_text(lines[0] + lines[3])  # unvalidated clips stay out
    for n in (100, 101, 102):
        _write_tone(src / "clips" / f"common_voice_en_{n}.mp3")
    report = import_corpus("commonvoice", src, tmp_path / "out", copy=True)
    assert report.imported == 2 and report.skipped == 0
    assert sorted(r.id for r in read_manifest(tmp_path / "out")) == ["cv-common_voice_en_100", "cv-common_voice_en_101"]


def _vctk(tmp_path: Path) -> Path:
    src = _fixture(tmp_path, "vctk")
    audio = src / "wav48_silence_trimmed"
    for utt in ("p225_001", "p225_002", "p226_001", "p227_001", "p228_001", "p280_001", "p301_001", "p500_001"):
        speaker = utt.split("_")[0]
        for mic in ("mic1", "mic2"):
            _write_tone(audio / speaker / f"{utt}_{mic}.flac", rate=48000)
    (src / "txt" / "p225").mkdir(parents=True)
    (src / "txt" / "p225" / "p225_001.txt").write_text("Please call Stella.\n")
    return src


def test_vctk_layout_with_copy(tmp_path: Path) -> None:
    src = _vctk(tmp_path)
    out = tmp_path / "out"
    report = import_corpus("vctk", src, out, copy=True)
    records = {r.id: r for r in read_manifest(out)}
    assert sorted(records) == [
        f"vctk-{u}" for u in ("p225_001", "p225_002", "p226_001", "p227_001", "p228_001", "p280_001")
    ]
    p225 = records["vctk-p225_001"]
    assert p225.attributes["sex"] == "female" and p225.attributes["age"] == 23
    assert p225.attributes["age_group"] == "adult" and p225.attributes["accent"] == "english"
    assert p225.text == "Please call Stella." and records["vctk-p225_002"].text is None
    assert records["vctk-p227_001"].attributes["accent"] == "scottish"
    assert records["vctk-p228_001"].attributes["accent"] == "northern irish"
    assert records["vctk-p280_001"].attributes["accent"] is None  # "Unknown" maps to null through the table
    # --copy converts to 16 kHz mono WAV inside OUT with a relative path.
    assert p225.path == "audio/vctk-p225/vctk-p225_001.wav" and p225.sample_rate == 16000
    info = sf.info(str(out / p225.path))
    assert (info.samplerate, info.channels, info.format) == (16000, 1, "WAV")
    assert p225.duration == pytest.approx(0.3, abs=0.01)
    assert sorted(_problems(out)) == [
        ("p301_001_mic1.flac", None, "no speaker"),
        ("p500_001_mic1.flac", None, "no speaker"),
        ("speaker-info.txt", 7, "malformed line"),  # AGE xx
        ("speaker-info.txt", 8, "unknown value"),  # GENDER X
        ("speaker-info.txt", 9, "unknown value"),  # ACCENTS Martian
        ("speaker-info.txt", 10, "malformed line"),  # ID alone
    ]
    assert report.imported == 6
    _speakers_disjoint(records.values())


def test_vctk_080_layout(tmp_path: Path) -> None:
    src = tmp_path / "VCTK-Corpus"
    src.mkdir()
    (src / "speaker-info.txt").write_text(
        "ID  AGE  GENDER  ACCENTS  REGION\n225  23  F    English    Southern  England\n"
    )
    _write_tone(src / "wav48" / "p225" / "p225_003.wav", rate=48000, channels=2)
    report = import_corpus("vctk", src, tmp_path / "out")
    assert report.imported == 1 and report.skipped == 0
    (record,) = read_manifest(tmp_path / "out")
    assert record.speaker == "vctk-p225" and record.sample_rate == 48000


def _librispeech(tmp_path: Path) -> Path:
    root = _fixture(tmp_path, "librispeech") / "LibriSpeech"
    chapters = {("train-clean-100", "19", "198"): 2, ("train-clean-100", "60", "121082"): 1}
    chapters.update({("dev-clean", "103", "1240"): 1, ("dev-clean", "77", "1"): 1})
    for (subset, spk, chap), n in chapters.items():
        folder = root / subset / spk / chap
        lines = []
        for i in range(n):
            _write_tone(folder / f"{spk}-{chap}-{i:04d}.flac")
            lines.append(f"{spk}-{chap}-{i:04d} WORDS OF UTTERANCE {i}")
        (folder / f"{spk}-{chap}.trans.txt").write_text("\n".join(lines) + "\n")
    return root


def test_librispeech_layout(tmp_path: Path) -> None:
    root = _librispeech(tmp_path)
    out = tmp_path / "out"
    report = import_corpus("librispeech", root, out)
    records = {r.id: r for r in read_manifest(out)}
    assert sorted(records) == ["ls-103-1240-0000", "ls-19-198-0000", "ls-19-198-0001", "ls-60-121082-0000"]
    assert records["ls-19-198-0001"].text == "WORDS OF UTTERANCE 1"
    assert records["ls-60-121082-0000"].attributes["sex"] == "male"  # its NAME field contains "|"
    assert records["ls-103-1240-0000"].attributes["sex"] == "female"
    assert records["ls-19-198-0000"].attributes["age_group"] is None  # LibriSpeech has no ages: unknown
    assert sorted(_problems(out)) == [
        ("77-1-0000.flac", None, "no speaker"),
        ("SPEAKERS.TXT", 7, "malformed line"),
        ("SPEAKERS.TXT", 8, "unknown value"),
    ]
    assert report.imported == 4
    # One subset as SRC: SPEAKERS.TXT is found in the parent folder.
    subset = import_corpus("librispeech", root / "train-clean-100", tmp_path / "out2")
    assert subset.imported == 3


def _csv(tmp_path: Path) -> Path:
    src = _fixture(tmp_path, "csv") / "clips.csv"
    for name in "abcdefgh":
        _write_tone(src.parent / "audio" / f"{name}.wav")
    return src


def test_csv_import_maps_spellings_through_tables(tmp_path: Path) -> None:
    src = _csv(tmp_path)
    out = tmp_path / "out"
    report = import_corpus("csv", src, out)
    records = {r.id: r.attributes for r in read_manifest(out)}
    assert sorted(records) == ["csv-audio_a", "csv-audio_b", "csv-audio_c", "csv-audio_d"]
    a, b, c, d = (records[f"csv-audio_{x}"] for x in "abcd")
    assert (a["sex"], a["age"], a["age_group"], a["quality"], a["channel"]) == (
        "female",
        34,
        "adult",
        "breathy",
        "telephone",
    )
    assert (b["language"], b["quality"], b["channel"], b["accent"]) == ("de", "modal", "clean", "bavarian")
    assert (c["age_group"], c["quality"], c["channel"]) == ("child", None, None)
    assert (d["age_group"], d["quality"], d["language"]) == ("elderly", "hoarse", "fr")
    assert _problems(out) == [
        ("clips.csv", 6, "unknown value"),
        ("clips.csv", 7, "unknown value"),
        ("clips.csv", 8, "unknown value"),
        ("clips.csv", 9, "malformed line"),
        ("clips.csv", 10, "missing audio"),
    ]
    assert "gargle" in report.problems[2].reason


def test_csv_unknown_column_is_an_error(tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    src.write_text("path,speaker,colour\na.wav,s1,red\n")
    with pytest.raises(ImporterError, match=r"x.csv:1: unknown column 'colour'"):
        import_corpus("csv", src, tmp_path / "out")


def test_csv_splits_must_be_disjoint_by_speaker(tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    for name in "ab":
        _write_tone(tmp_path / f"{name}.wav")
    src.write_text("path,speaker,split\na.wav,s1,train\nb.wav,s1,test\n")
    with pytest.raises(ImporterError, match="speaker 's1' appears in split"):
        import_corpus("csv", src, tmp_path / "out")


def test_import_is_deterministic(tmp_path: Path) -> None:
    root = _librispeech(tmp_path)
    import_corpus("librispeech", root, tmp_path / "a")
    import_corpus("librispeech", root, tmp_path / "b")
    assert (tmp_path / "a" / "manifest.jsonl").read_bytes() == (tmp_path / "b" / "manifest.jsonl").read_bytes()


def test_speaker_split_is_stable_and_near_the_fractions() -> None:
    speakers = [f"spk{i}" for i in range(3000)]
    splits = [speaker_split("x", s, 0.1, 0.1) for s in speakers]
    assert splits == [speaker_split("x", s, 0.1, 0.1) for s in speakers]
    assert 0.08 < splits.count("test") / 3000 < 0.12 and 0.08 < splits.count("val") / 3000 < 0.12


def test_missing_index_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ImporterError, match="speaker-info.txt: missing"):
        import_corpus("vctk", tmp_path, tmp_path / "out")
    with pytest.raises(ImporterError, match="unknown corpus kind 'timit'"):
        import_corpus("timit", tmp_path, tmp_path / "out")


def test_cli_import(tmp_path: Path) -> None:
    from slap_edge.cli import app

    src = _csv(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["data", "import", "csv", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "imported 4 clips" in result.output and "skipped 5" in result.output
    assert "clips.csv:6: unknown value" in result.output
    bad = CliRunner().invoke(app, ["data", "import", "timit", str(src), "--out", str(out)])
    assert bad.exit_code != 0 and "commonvoice" in bad.output
