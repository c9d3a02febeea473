"""Bad example folders give named errors or warnings; nothing is dropped silently."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from slap_edge.adapt.examples import ExamplesError, load_example_audio, read_examples

SR = 16000


def _wav(path: Path, seconds: float = 1.0, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    x = 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR)).astype(np.float32)
    sf.write(str(path), x, SR, subtype="PCM_16")
    return path


def _good(root: Path) -> Path:
    for label in ("yes", "no"):
        for spk in ("ann", "bob"):
            _wav(root / "sec" / label / spk / "1.wav", seed=hash((label, spk)) % 1000)
    return root


def test_folder_with_speakers_reads(tmp_path: Path) -> None:
    ex = read_examples(_good(tmp_path / "ex"))
    assert ex.sections == {"sec": ["no", "yes"]}
    assert {e.speaker for e in ex.items} == {"sec/ann", "sec/bob"}
    assert not ex.warnings
    ex, waves = load_example_audio(ex, SR)
    assert len(waves) == 4 and all(w.shape == (SR,) for w in waves)


def test_empty_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "ex").mkdir()
    with pytest.raises(ExamplesError, match=r"ex: no audio clips found; expected DIR/<section>/<label>"):
        read_examples(tmp_path / "ex")


def test_missing_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(ExamplesError, match="nope: no such folder or file"):
        read_examples(tmp_path / "nope")


def test_one_class_only_is_an_error(tmp_path: Path) -> None:
    _wav(tmp_path / "ex" / "gender" / "female" / "a" / "1.wav")
    _wav(tmp_path / "ex" / "gender" / "female" / "b" / "1.wav")
    with pytest.raises(ExamplesError, match=r"section 'gender' has examples of one class only \('female', 2 clip"):
        read_examples(tmp_path / "ex")


def test_one_speaker_only_and_non_audio_are_warnings(tmp_path: Path) -> None:
    _wav(tmp_path / "ex" / "s" / "a" / "kim" / "1.wav")
    _wav(tmp_path / "ex" / "s" / "b" / "kim" / "2.wav", seed=1)
    (tmp_path / "ex" / "s" / "b" / "kim" / "notes.txt").write_text("hello")
    ex = read_examples(tmp_path / "ex")
    text = "\n".join(ex.warnings)
    assert "notes.txt: not audio" in text
    assert "section 's' has one speaker only (s/kim)" in text


def test_unreadable_and_too_short_clips_are_all_named(tmp_path: Path) -> None:
    root = _good(tmp_path / "ex")
    (root / "sec" / "yes" / "ann" / "broken.wav").write_bytes(b"RIFF not really a wav")
    _wav(root / "sec" / "no" / "bob" / "short.wav", seconds=0.2)
    ex = read_examples(root)
    with pytest.raises(ExamplesError) as info:
        load_example_audio(ex, SR)
    msg = str(info.value)
    assert "2 clip(s) cannot be used" in msg and "--skip-bad" in msg
    assert "broken.wav: not readable as audio" in msg
    assert "short.wav: too short (0.20 s); clips need >= 0.5 s" in msg
    kept, waves = load_example_audio(ex, SR, skip_bad=True)
    assert len(kept.items) == len(waves) == 4
    left_out = [w for w in kept.warnings if w.startswith("left out:")]
    assert len(left_out) == 2


def test_skipping_bad_clips_that_empties_a_class_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "ex"
    _wav(root / "s" / "a" / "p" / "1.wav")
    _wav(root / "s" / "b" / "q" / "1.wav", seconds=0.1)
    with pytest.raises(ExamplesError, match="one class only"):
        load_example_audio(read_examples(root), SR, skip_bad=True)


def test_csv_layout_and_its_errors(tmp_path: Path) -> None:
    _wav(tmp_path / "a.wav")
    _wav(tmp_path / "b.wav", seed=1)
    good = tmp_path / "ex.csv"
    good.write_text("path,section,label,speaker\na.wav,age,child,p1\nb.wav,age,adult,p2\n")
    ex = read_examples(good)
    assert [(e.label, e.speaker) for e in ex.items] == [("child", "p1"), ("adult", "p2")]
    assert ex.items[0].path == tmp_path / "a.wav"
    bad_header = tmp_path / "h.csv"
    bad_header.write_text("file,section,label\na.wav,age,child\n")
    with pytest.raises(ExamplesError, match=r"h.csv:1: header .* lacks column\(s\) \['path'\]"):
        read_examples(bad_header)
    empty_label = tmp_path / "e.csv"
    empty_label.write_text("path,section,label\na.wav,age,child\nb.wav,age,\n")
    with pytest.raises(ExamplesError, match=r"e.csv:3: empty 'label'"):
        read_examples(empty_label)
    no_speaker = tmp_path / "n.csv"
    no_speaker.write_text("path,section,label\na.wav,age,child\nb.wav,age,adult\n")
    assert any("no speaker column" in w for w in read_examples(no_speaker).warnings)
    with pytest.raises(ExamplesError, match="must be a CSV"):
        read_examples(tmp_path / "a.wav")
