"""The top-level Python API: five lines with the built-in model, the engine/stream layer, prompts by name."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

import slap_edge
from slap_edge.cli import app
from slap_edge.demo import DEMO_RECORDING
from slap_edge.prompt_sets import builtin_prompt_sets, resolve_prompts
from slap_edge.prompts import PromptsError
from slap_edge.runtime.outputs import JsonlSink
from slap_edge.runtime.sources import FileSource

REPO = Path(__file__).resolve().parents[1]


def gender_events(messages: list[dict]) -> list[dict]:
    return [m for m in messages if m["type"] == "event" and m["section"] == "gender"]


def test_import_is_lazy_and_torch_free() -> None:
    code = (
        "import sys, slap_edge; heavy = [m for m in ('torch', 'timm', 'onnx', 'numpy', 'onnxruntime') "
        "if m in sys.modules]; assert not heavy, heavy; slap_edge.Engine; slap_edge.create_listener; "
        "bad = [m for m in ('torch', 'timm', 'onnx') if m in sys.modules]; assert not bad, bad"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = slap_edge.no_such_name
    assert {"create_listener", "Engine", "AudioSource", "Sink"} <= set(dir(slap_edge))


def test_five_lines_on_the_demo_recording_print_json_scores_and_events(capsys: pytest.CaptureFixture) -> None:
    listener = slap_edge.create_listener(prompts="demographics")
    for result in listener.listen_file(DEMO_RECORDING):
        print(result.to_json())
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any(m["type"] == "scores" and m["sections"] for m in lines)
    gender = gender_events(lines)
    # A man (0.6-7.1 s), then a woman (7.7-13.4 s).
    assert gender[0]["label"] == "male" and gender[0]["t"] < 7.5
    assert any(e["label"] == "female" and e["t"] > 7.5 for e in gender)
    assert isinstance(lines[0]["seq"], int) and set(lines[0]) >= {"type", "seq", "t", "window", "speech", "sections"}


def test_stream_resamples_inside_and_any_chunking_agrees(tmp_path: Path) -> None:
    import soxr

    x16, sr = sf.read(str(DEMO_RECORDING), dtype="float32")
    x48 = soxr.resample(x16, sr, 48000, quality="HQ").astype(np.float32)
    path48 = tmp_path / "demo48k.wav"
    sf.write(str(path48), x48, 48000, subtype="FLOAT")

    engine = slap_edge.Engine.from_bundle("default", "demographics")
    reference = list(slap_edge.create_listener("demographics").listen_file(path48))

    stream = engine.create_stream()
    got = []
    rng = np.random.default_rng(0)
    pos = 0
    while pos < x48.shape[0]:
        n = int(rng.integers(1, 9000))
        stream.accept_waveform(x48[pos : pos + n], sample_rate=48000)
        got += list(stream.process())
        pos += n
    stream.input_finished()
    got += list(stream.process())

    ref_scores = [m for m in reference if isinstance(m, slap_edge.Scores)]
    got_scores = [m for m in got if isinstance(m, slap_edge.Scores)]
    assert len(got_scores) == len(ref_scores) > 20
    for a, b in zip(ref_scores, got_scores, strict=True):
        assert a.t == b.t and (a.sections is None) == (b.sections is None)
        if a.probs is not None:
            for name in a.probs:
                np.testing.assert_allclose(a.probs[name], b.probs[name], atol=2e-3)
    assert [e.label for e in got if isinstance(e, slap_edge.Event)] == [
        e.label for e in reference if isinstance(e, slap_edge.Event)
    ]


def test_accept_waveform_refuses_a_bad_rate() -> None:
    stream = slap_edge.Engine.from_bundle("default", "language").create_stream()
    for bad in (0, -16000, 44100.5, True):
        with pytest.raises(ValueError, match="sample_rate must be a positive whole number"):
            stream.accept_waveform(np.zeros(100, dtype=np.float32), sample_rate=bad)
    stream.accept_waveform(np.zeros((1600, 2), dtype=np.float32), sample_rate=16000)  # stereo: averaged
    assert stream.samples == 1600


def test_prompts_argument_rules(tmp_path: Path) -> None:
    assert set(builtin_prompt_sets()) >= {"demographics", "language", "voice_quality"}
    by_name = resolve_prompts("demographics")
    assert [s.name for s in by_name.sections] == ["gender", "age"]
    path = tmp_path / "mine.txt"
    path.write_text("[g]\nf = a woman is speaking\nm = a man is speaking\n", encoding="utf-8")
    assert resolve_prompts(path).texts == ["a woman is speaking", "a man is speaking"]
    assert resolve_prompts(str(path)).source == str(path)
    text = resolve_prompts("a woman is speaking\na man is speaking\n")
    assert text.texts == ["a woman is speaking", "a man is speaking"] and text.source == "<prompts text>"
    # A file of that name beats the built-in set.
    (tmp_path / "demographics").write_text("x = a child\ny = an adult\n", encoding="utf-8")
    assert resolve_prompts(tmp_path / "demographics").texts == ["a child", "an adult"]
    with pytest.raises(PromptsError, match=r"'a woman is speaking': no such prompts file .*built-in: demographics"):
        resolve_prompts("a woman is speaking")
    with pytest.raises(PromptsError, match="is a folder"):
        resolve_prompts(tmp_path)
    with pytest.raises(PromptsError, match="got int"):
        resolve_prompts(3)  # type: ignore[arg-type]
    with pytest.raises(PromptsError, match="only one prompt"):
        resolve_prompts("a woman is speaking\n")


def test_typed_seams_are_met_by_the_runtime_classes() -> None:
    assert isinstance(FileSource(DEMO_RECORDING, 16000), slap_edge.AudioSource)
    assert isinstance(JsonlSink(sys.stdout), slap_edge.Sink)
    assert not isinstance(object(), slap_edge.Sink)


def test_listener_sends_to_a_custom_sink_and_reads_stdin_pcm() -> None:
    import io

    class Collect:
        def __init__(self) -> None:
            self.got: list[dict] = []
            self.closed = False

        def send(self, msg: slap_edge.Scores | slap_edge.Event) -> None:
            self.got.append(msg.to_json())

        def close(self) -> None:
            self.closed = True

    sink = Collect()
    listener = slap_edge.create_listener("demographics", sinks=[sink])
    x, sr = sf.read(str(DEMO_RECORDING), dtype="int16")
    n = sum(1 for _ in listener.listen_stdin(rate=sr, stream=io.BytesIO(x.astype("<i2").tobytes())))
    listener.close()
    assert sink.closed and n == len(sink.got) > 20
    assert gender_events(sink.got)[0]["label"] == "male"


def test_cli_prompts_list_show_and_listen_by_name() -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["prompts", "list"])
    assert listed.exit_code == 0 and "demographics" in listed.output and "voice_quality" in listed.output
    shown = runner.invoke(app, ["prompts", "show", "language"])
    assert shown.exit_code == 0 and "[language]" in shown.output
    missing = runner.invoke(app, ["prompts", "show", "nope"])
    assert missing.exit_code != 0 and "built-in sets: demographics" in missing.output
    result = runner.invoke(
        app, ["listen", "--prompts", "demographics", "--input", str(DEMO_RECORDING), "--fast", "--format", "jsonl"]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert gender_events(lines)[0]["label"] == "male"


def test_public_names_all_resolve() -> None:
    from slap_edge import _LAZY

    assert set(slap_edge.__all__) - {"__version__"} == set(_LAZY)
    for name in _LAZY:
        assert getattr(slap_edge, name) is not None
