"""Reading and validating suites in the spec format (spec/eval-suite.md), and reading their audio."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from slap_edge.eval.suite import AudioReadError, SuiteError, load_suite, read_audio, validate_suite


def _tone(path: Path, rate: int = 16000, seconds: float = 0.25, channels: int = 1, subtype: str = "PCM_16") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(rate * seconds)) / rate
    wave = 0.3 * np.sin(2 * np.pi * 200 * t)
    data = np.stack([wave] * channels, axis=1) if channels > 1 else wave
    sf.write(str(path), data, rate, subtype=subtype)


def _suite(root: Path, clip_lines: list[dict] | None = None, tasks: list[dict] | None = None) -> Path:
    """A small valid suite written by hand, as another tool would."""
    root.mkdir(parents=True, exist_ok=True)
    tasks = tasks or [
        {
            "name": "gender",
            "category": "demographics",
            "classes": {"female": ["a woman is speaking"], "male": ["a man is speaking", "the voice of a man"]},
        }
    ]
    (root / "suite.json").write_text(json.dumps({"name": "mini", "version": 1, "tasks": tasks}))
    if clip_lines is None:
        clip_lines = []
        for i in range(4):
            label = "female" if i < 2 else "male"
            clip_lines.append({"path": f"audio/{i}.wav", "task": "gender", "label": label, "speaker": f"s{i}"})
    for line in clip_lines:
        if not (root / line["path"]).exists():
            _tone(root / line["path"])
    (root / "clips.jsonl").write_text("".join(json.dumps(line) + "\n" for line in clip_lines))
    return root


def test_load_valid_suite(tmp_path: Path) -> None:
    root = _suite(tmp_path / "s")
    suite = load_suite(root)
    assert suite.name == "mini" and suite.version == 1 and suite.root == root.resolve()
    (task,) = suite.tasks
    assert task.name == "gender" and task.category == "demographics" and task.labels == ["female", "male"]
    assert task.classes["male"] == ["a man is speaking", "the voice of a man"]
    assert [c.label for c in suite.clips_of("gender")] == ["female", "female", "male", "male"]
    assert suite.clips[0].path == (root / "audio" / "0.wav").resolve()
    assert validate_suite(root) == []


def test_extra_keys_are_ignored_and_clips_may_repeat_across_tasks(tmp_path: Path) -> None:
    tasks = [
        {"name": "gender", "category": "demographics", "classes": {"f": ["a woman"], "m": ["a man"]}, "extra": 1},
        {"name": "age", "category": "demographics", "classes": {"old": ["an old person"], "young": ["a young one"]}},
    ]
    lines = []
    for i in range(4):
        lines.append({"path": f"audio/{i}.wav", "task": "gender", "label": "fm"[i % 2], "speaker": f"s{i}", "x": [1]})
        lines.append({"path": f"audio/{i}.wav", "task": "age", "label": ["old", "young"][i // 2], "speaker": f"s{i}"})
    root = _suite(tmp_path / "s", lines, tasks)
    assert validate_suite(root) == []
    assert len(load_suite(root).clips) == 8


def test_validator_finds_every_problem_with_line_numbers(tmp_path: Path) -> None:
    tasks = [
        {"name": "gender", "category": "demographics", "classes": {"female": ["a woman"], "male": ["a man"]}},
        {"name": "three", "category": "x", "classes": {"a": ["a"], "b": ["b"], "c": ["c"]}},
        {"name": "noprompts", "category": "x", "classes": {"a": [], "b": ["b"]}},
    ]
    lines = [
        {"path": "audio/0.wav", "task": "gender", "label": "female", "speaker": "s1"},
        {"path": "audio/1.wav", "task": "gender", "label": "female", "speaker": "s1"},
        {"path": "audio/2.wav", "task": "gender", "label": "woman", "speaker": "s2"},
        {"path": "audio/3.wav", "task": "gender", "label": "male", "speaker": "s3"},
        {"path": "audio/4.wav", "task": "gender", "label": "male", "speaker": "s4"},
        {"path": "audio/0.wav", "task": "gender", "label": "female", "speaker": "s1"},
        {"path": "audio/5.wav", "task": "pitch", "label": "high", "speaker": "s5"},
    ]
    root = _suite(tmp_path / "s", lines, tasks)
    with (root / "clips.jsonl").open("a") as handle:
        handle.write("{not json\n")
        handle.write(
            json.dumps({"path": "audio/missing.wav", "task": "gender", "label": "male", "speaker": "s9"}) + "\n"
        )
        handle.write(json.dumps({"path": "audio/bad.wav", "task": "gender", "label": "male", "speaker": "s8"}) + "\n")
        handle.write(json.dumps({"path": "audio/6.wav", "task": "gender", "label": "male"}) + "\n")
    (root / "audio" / "bad.wav").write_bytes(b"RIFF0000WAVEjunk")
    problems = "\n".join(validate_suite(root))
    assert "task 'three': every task is binary; found 3 classes" in problems
    assert "task 'noprompts': class 'a' needs a non-empty list of non-empty prompts" in problems
    assert "clips.jsonl:3: label 'woman' is not a class of task 'gender'; use female or male" in problems
    assert "clips.jsonl:6: clip 'audio/0.wav' is listed twice for task 'gender' (first on line 1)" in problems
    assert "clips.jsonl:7: task 'pitch' is not in suite.json" in problems
    assert "clips.jsonl:8: invalid JSON" in problems
    assert "clips.jsonl:11: 'speaker' must be a non-empty string" in problems
    assert "task 'gender' class 'female' has 1 speaker(s); need at least 2" in problems
    assert "missing.wav: audio file is missing" in problems
    assert "bad.wav: not readable as audio" in problems
    with pytest.raises(SuiteError, match=r"(?s)not a valid suite .*clips.jsonl:3: label 'woman'"):
        load_suite(root)


def test_bad_suite_json(tmp_path: Path) -> None:
    root = tmp_path / "s"
    root.mkdir()
    assert "suite.json: missing" in validate_suite(root)[0]
    (root / "suite.json").write_text('{"name": "x", "version": 2, "tasks": []}')
    (root / "clips.jsonl").write_text("")
    problems = validate_suite(root)
    assert any("'version' must be one of (1,), got 2" in p for p in problems)
    assert any("'tasks' must be a non-empty list" in p for p in problems)
    (root / "suite.json").write_text('{"name": "x",\n "version": 1,,}')
    assert "suite.json:2: invalid JSON" in validate_suite(root)[0]
    with pytest.raises(SuiteError, match="not a folder"):
        load_suite(tmp_path / "nowhere")


def test_read_audio_converts_rate_channels_and_format(tmp_path: Path) -> None:
    _tone(tmp_path / "stereo.wav", rate=44100, seconds=0.5, channels=2, subtype="FLOAT")
    _tone(tmp_path / "pcm.wav", rate=8000, seconds=0.5)
    stereo = read_audio(tmp_path / "stereo.wav")
    pcm = read_audio(tmp_path / "pcm.wav", sample_rate=16000)
    for wave in (stereo, pcm):
        assert wave.dtype == np.float32 and wave.ndim == 1 and abs(len(wave) - 8000) <= 2
        assert 0.25 < np.abs(wave[1000:7000]).max() < 0.35  # amplitude kept through resampling and averaging
    same = read_audio(tmp_path / "pcm.wav", sample_rate=8000)
    assert len(same) == 4000


def test_read_audio_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(AudioReadError, match=r"nothing.wav: audio file is missing"):
        read_audio(tmp_path / "nothing.wav")
    (tmp_path / "junk.wav").write_bytes(b"not audio")
    with pytest.raises(AudioReadError, match=r"junk.wav: not readable as audio"):
        read_audio(tmp_path / "junk.wav")
    sf.write(str(tmp_path / "empty.wav"), np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioReadError, match=r"empty.wav: audio file has no samples"):
        read_audio(tmp_path / "empty.wav")


def test_cli_validate_suite(tmp_path: Path) -> None:
    from slap_edge.cli import app

    root = _suite(tmp_path / "s")
    ok = CliRunner().invoke(app, ["data", "validate-suite", str(root)])
    assert ok.exit_code == 0 and "valid; 1 tasks, 4 clip lines, 4 speakers" in ok.output
    (root / "audio" / "3.wav").unlink()
    bad = CliRunner().invoke(app, ["data", "validate-suite", str(root)])
    assert bad.exit_code == 1 and "3.wav: audio file is missing" in bad.output


def test_suite_module_does_not_import_torch() -> None:
    code = "import sys, slap_edge.eval.suite; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_clip_paths_outside_the_suite_folder_are_refused(tmp_path: Path) -> None:
    """Issue 23 item 7: a suite's clips.jsonl cannot make eval open files beside or above the suite folder."""
    _tone(tmp_path / "outside.wav")
    lines = [
        {"path": "audio/0.wav", "task": "gender", "label": "female", "speaker": "s0"},
        {"path": "../outside.wav", "task": "gender", "label": "male", "speaker": "s1"},
    ]
    root = tmp_path / "s"
    root.mkdir()
    _tone(root / "audio" / "0.wav")
    (root / "audio" / "link.wav").symlink_to(tmp_path / "outside.wav")
    lines.append({"path": "audio/link.wav", "task": "gender", "label": "male", "speaker": "s2"})
    _suite(root, clip_lines=lines)
    problems = validate_suite(root)
    assert any("clips.jsonl:2" in p and "outside the suite folder" in p for p in problems), problems
    assert any("clips.jsonl:3" in p and "outside the suite folder" in p for p in problems), problems
    with pytest.raises(SuiteError, match="outside the suite folder"):
        load_suite(root)


def test_an_all_nan_clip_is_unreadable(tmp_path: Path) -> None:
    """Issue 23 item 7: a float WAV of NaN samples is counted as unreadable, not scored."""
    path = tmp_path / "nan.wav"
    sf.write(str(path), np.full(4000, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioReadError, match=r"nan\.wav: .*NaN"):
        read_audio(path)
