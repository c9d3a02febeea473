"""slap_edge.output_files: outputs never overwrite an input and appear whole (issue 23 item 1), for every CLI writer."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slap_edge.cli import app
from slap_edge.output_files import AtomicTextFile, OutputPathError, check_not_input, write_text_atomic

runner = CliRunner()


def test_same_file_however_spelt_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "in.wav"
    src.write_bytes(b"data")
    (tmp_path / "link.wav").symlink_to(src)
    os.link(src, tmp_path / "hard.wav")
    monkeypatch.chdir(tmp_path)
    for spelling in ("in.wav", "./in.wav", str(tmp_path / "link.wav"), "hard.wav", f"../{tmp_path.name}/in.wav"):
        with pytest.raises(OutputPathError, match="is the input"):
            check_not_input(spelling, [src])
    assert check_not_input("other.wav", [src, None, "-"]) == Path("other.wav")


def test_a_file_inside_an_input_folder_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "prompts").mkdir(parents=True)
    (bundle / "prompts" / "kiosk.npz").write_bytes(b"x")
    with pytest.raises(OutputPathError, match="file of the input"):
        check_not_input(bundle / "prompts" / "kiosk.npz", [bundle])
    check_not_input(bundle / "prompts" / "new.npz", [bundle])  # a new file beside the inputs is fine
    with pytest.raises(OutputPathError, match="is a folder"):
        check_not_input(bundle, [])


def test_atomic_file_commits_at_the_end_and_discard_keeps_the_old_content(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")
    out.chmod(0o640)
    f = AtomicTextFile(out)
    f.write("new 1\n")
    f.flush()
    assert f.partial.read_text() == "new 1\n" and out.read_text() == "old\n"
    f.commit()
    f.commit()  # idempotent
    assert out.read_text() == "new 1\n" and (out.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
    g = AtomicTextFile(out)
    g.write("half")
    g.discard()
    assert out.read_text() == "new 1\n" and [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
    with pytest.raises(RuntimeError), AtomicTextFile(out) as h:
        h.write("never")
        raise RuntimeError("boom")
    assert out.read_text() == "new 1\n"
    with pytest.raises(OutputPathError, match="does not exist"):
        AtomicTextFile(tmp_path / "missing" / "x.json")
    assert write_text_atomic(tmp_path / "made" / "x.json", "{}\n").read_text() == "{}\n"


def test_a_fifo_is_written_in_place(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    with AtomicTextFile(fifo) as f:
        f.write("line\n")
    reader.join(10)
    assert got == ["line\n"] and fifo.is_fifo()


def test_eval_and_bench_outputs_refuse_their_inputs(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "clips.jsonl").write_text("{}\n")
    res = runner.invoke(
        app, ["eval", "--model", "default", "--suite", str(suite), "--json", str(suite / "clips.jsonl")]
    )
    assert res.exit_code == 2 and "--json" in res.stderr and "input" in res.stderr
    assert (suite / "clips.jsonl").read_text() == "{}\n"
    prompts = tmp_path / "p.txt"
    prompts.write_text("a woman\na man\n")
    res = runner.invoke(app, ["bench", "--prompts", str(prompts), "--markdown", str(prompts), "--no-peers"])
    assert res.exit_code == 2 and "--markdown" in res.stderr and prompts.read_text() == "a woman\na man\n"
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"RIFF")
    res = runner.invoke(app, ["bench", "--audio", str(wav), "--json", str(wav), "--no-peers"])
    assert res.exit_code == 2 and wav.read_bytes() == b"RIFF"
