"""The README's first command: the built-in bundle listening to the committed demo recording (a man, then a woman)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from slap_edge.bundle_reader import default_bundle_path, load_bundle
from slap_edge.cli import app
from slap_edge.demo import DEMO_PROMPTS, DEMO_RECORDING, demo_arguments
from slap_edge.prompt_sets import builtin_prompt_sets


def test_builtin_bundle_verifies_and_fits_a_package() -> None:
    bundle = load_bundle(None)
    assert bundle.root == default_bundle_path()
    assert bundle.audio_path.stat().st_size <= 2_000_000
    total = sum(p.stat().st_size for p in bundle.root.iterdir() if p.is_file())
    assert total <= 30_000_000
    assert bundle.text_path is not None and bundle.manifest["model"]["precision"] == "int8"


def test_demo_without_microphone_reads_the_recording() -> None:
    args = demo_arguments(use_microphone=False)
    assert args[:3] == ["listen", "--prompts", DEMO_PROMPTS] and str(DEMO_RECORDING) in args
    assert DEMO_RECORDING.is_file() and builtin_prompt_sets()[DEMO_PROMPTS].is_file()


def test_demo_recording_gives_scores_and_follows_the_change_of_speaker() -> None:
    result = CliRunner().invoke(app, [*demo_arguments(use_microphone=False), "--fast", "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert any(m["type"] == "scores" and m["sections"] for m in lines)
    gender = [m for m in lines if m["type"] == "event" and m["section"] == "gender"]
    # The recording is a man (0.6-7.1 s) then a woman (7.7-13.4 s); the built-in model must say so, in that order.
    assert gender and gender[0]["label"] == "male" and gender[0]["t"] < 7.5
    assert any(e["label"] == "female" and e["t"] > 7.5 for e in gender)
