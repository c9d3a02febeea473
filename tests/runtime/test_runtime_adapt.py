"""Adapted heads end to end on the test bundle: `slap-edge adapt`, `listen --heads`, `eval --heads`, and refusal of
heads made for another model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from runtime_testlib import HIGH_VOICE, LOW_VOICE, MODEL_ID, SR, WINDOW_S, espeak
from typer.testing import CliRunner

from slap_edge.adapt.examples import read_examples
from slap_edge.adapt.fit import AdaptConfig
from slap_edge.adapt.heads import Heads, HeadsError, load_heads
from slap_edge.adapt.site import adapt_site
from slap_edge.cli import app
from slap_edge.eval.metrics import macro_f1
from slap_edge.runtime.engine import Engine, EngineError
from slap_edge.runtime.gate import EnergyGate
from slap_edge.runtime.listener import create_listener
from slap_edge.runtime.stream import Scores

runner = CliRunner()
TEXTS = ["a man is speaking to a child", "the adult person is speaking", "an elderly woman is speaking high"]
PROMPTS = "[speaker]\nlow = a low man voice\nhigh = a high woman voice\n\n[age]\nchild = a child\nadult = an adult\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """DIR/speaker/<low|high>/<speaker>/*.wav from espeak-ng voices at three pitches each, and prompts.txt."""
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    root = tmp_path_factory.mktemp("site")
    for label, voice in (("low", LOW_VOICE), ("high", HIGH_VOICE)):
        for shift in (-8, 0, 8):
            args = list(voice)
            args[3] = str(int(args[3]) + shift)  # the -p (pitch) value: three "people" per label
            folder = root / "ex" / "speaker" / label / f"{label}{shift}"
            folder.mkdir(parents=True)
            for i, text in enumerate(TEXTS[:2]):
                espeak(args, text, folder / f"{i}.wav")
    (root / "prompts.txt").write_text(PROMPTS)
    return {"examples": root / "ex", "prompts": root / "prompts.txt", "root": root}


@pytest.fixture(scope="module")
def heads_file(site: dict[str, Path], test_bundle: Path) -> Path:
    out = site["root"] / "site.npz"
    result = runner.invoke(
        app,
        ["adapt", "--bundle", str(test_bundle), "--examples", str(site["examples"]), "--prompts", str(site["prompts"])]
        + ["--out", str(out), "--target-far", "0.2"],
    )
    assert result.exit_code == 0, result.output
    assert "| speaker | 12 | 6 | 5-fold by speaker |" in result.output, result.output
    assert "thresholds for FAR 0.2" in result.output and f"model {MODEL_ID}" in result.output
    return out


def test_adapt_writes_heads_for_the_bundle(heads_file: Path, test_bundle: Path) -> None:
    heads = load_heads(heads_file)
    assert heads.model_id == MODEL_ID and heads.names == ["speaker"]
    head = heads.section("speaker")
    assert head.labels == ("low", "high")  # the prompts' order
    assert head.info["variant"] == "prior" and head.info["head"] == "prior" and head.info["n_speakers"] == 6
    assert np.all(np.isfinite(head.thresholds))
    cv = head.info["cv_macro_f1"]
    assert cv["plain"] is not None and cv["prior"] is not None and cv["zero_shot"] is not None


def test_adapt_criterion_option_is_recorded_and_a_bad_one_is_named(
    site: dict[str, Path], test_bundle: Path, tmp_path: Path
) -> None:
    base = [
        "adapt",
        "--bundle",
        str(test_bundle),
        "--examples",
        str(site["examples"]),
        "--prompts",
        str(site["prompts"]),
    ]
    out = tmp_path / "site-1se.npz"
    result = runner.invoke(app, base + ["--out", str(out), "--criterion", "guarded_1se", "--target-far", "0"])
    assert result.exit_code == 0, result.output
    assert load_heads(out).section("speaker").info["c_chosen_by"] == "cross-validation (guarded_1se)"
    result = runner.invoke(app, base + ["--out", str(tmp_path / "x.npz"), "--criterion", "accuracy"])
    assert result.exit_code != 0 and "criterion must be one of" in result.output and not (tmp_path / "x.npz").exists()


def test_heads_from_one_bundle_are_refused_by_another(heads_file: Path, tmp_path: Path) -> None:
    from slap_edge.bundle_reader import load_bundle
    from slap_edge.eval.embedders import EmbeddingSource
    from slap_edge.eval.runner import evaluate_suite

    other = load_bundle(None)  # the built-in bundle: another model id
    assert other.model_id != MODEL_ID
    heads = load_heads(heads_file)
    with pytest.raises(EngineError, match=rf"fitted on embeddings of model '{MODEL_ID}', but the bundle .* is"):
        Engine(other, None, heads=heads)
    result = runner.invoke(app, ["listen", "--heads", str(heads_file), "--input", str(heads_file)])
    assert result.exit_code == 2 and "run `slap-edge adapt` again with this bundle" in result.output
    source = EmbeddingSource("other", SR, lambda w: np.zeros((len(w), 32)), lambda t: np.zeros((len(t), 32)), "x-1")
    with pytest.raises(HeadsError, match="but the model other is 'x-1'"):
        evaluate_suite(None, source, heads=heads)  # type: ignore[arg-type]  # refused before the suite is read
    # A file that is not a heads file is named as such.
    (tmp_path / "bank.npz").write_bytes(b"")
    np.savez(tmp_path / "bank.npz", texts=np.asarray(["a"]))
    with pytest.raises(HeadsError, match=r"bank.npz: not a heads file; missing arrays"):
        load_heads(tmp_path / "bank.npz")


def test_listen_replaces_prompt_sections_and_says_so(heads_file: Path, test_bundle: Path, voices: dict) -> None:
    out = heads_file.parent / "listen.jsonl"
    result = runner.invoke(
        app,
        ["listen", "--bundle", str(test_bundle), "--prompts", str(heads_file.parent / "prompts.txt")]
        + ["--heads", str(heads_file), "--input", str(voices["two_path"]), "--fast", "--no-gate", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "[age] prompts: child, adult; [speaker] adapted (replaces the prompt section): low, high" in result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    events = [m["label"] for m in lines if m["type"] == "event" and m["section"] == "speaker"]
    assert events[:1] == ["low"] and "high" in events  # the low voice first, then the high one
    scores = [m for m in lines if m["type"] == "scores" and m["sections"]]
    assert set(scores[0]["sections"]) == {"age", "speaker"}
    # Heads alone (no prompts) are a listener too: the Python API.
    listener = create_listener(test_bundle, heads=heads_file, gate=EnergyGate(enabled=False))
    assert listener.engine.adapted == {"speaker": "added"}


def test_listen_scores_equal_eval_heads_on_the_same_windows(
    heads_file: Path, test_bundle: Path, voices: dict, tmp_path: Path
) -> None:
    from slap_edge.eval.embedders import bundle_source
    from slap_edge.eval.runner import evaluate_suite
    from slap_edge.eval.suite import load_suite

    win = int(WINDOW_S * SR)
    windows = [voices["low_a"][:win], voices["high_a"][:win], voices["low_a"][win : 2 * win]]
    truth = ["low", "high", "low"]
    heads: Heads = load_heads(heads_file)
    listener = create_listener(test_bundle, heads=heads, hop_s=WINDOW_S, gate=EnergyGate(enabled=False))
    msgs = [m for m in listener.feed(np.concatenate(windows)) if isinstance(m, Scores)]
    assert [m.window for m in msgs] == [(0.0, WINDOW_S), (WINDOW_S, 2 * WINDOW_S), (2 * WINDOW_S, 3 * WINDOW_S)]
    listen_probs = np.stack([m.probs["speaker"] for m in msgs])

    # The same windows as a suite, scored by `eval --heads`.
    suite = tmp_path / "suite"
    (suite / "audio").mkdir(parents=True)
    task = {"name": "speaker", "category": "voice", "classes": {"low": ["a low voice"], "high": ["a high voice"]}}
    (suite / "suite.json").write_text(json.dumps({"name": "w", "version": 1, "tasks": [task]}))
    rows = []
    for i, (w, label) in enumerate(zip(windows, truth, strict=True)):
        sf.write(str(suite / "audio" / f"{i}.wav"), w, SR, subtype="FLOAT")
        rows.append(json.dumps({"path": f"audio/{i}.wav", "task": "speaker", "label": label, "speaker": f"s{i}"}))
    (suite / "clips.jsonl").write_text("\n".join(rows) + "\n")
    source = bundle_source(test_bundle)
    eval_probs = heads.section("speaker").probs(source.embed_audio([np.asarray(w) for w in windows]))
    np.testing.assert_allclose(listen_probs, eval_probs, atol=2e-5)

    report = evaluate_suite(load_suite(suite), source, probe=False, heads=heads)
    listen_pred = [heads.section("speaker").labels[i] for i in listen_probs.argmax(axis=1)]
    assert report["tasks"][0]["adapted"]["macro_f1"] == pytest.approx(macro_f1(truth, listen_pred, ["low", "high"]))
    result = runner.invoke(
        app, ["eval", "--model", str(test_bundle), "--suite", str(suite), "--heads", str(heads_file), "--no-probe"]
    )
    assert result.exit_code == 0, result.output
    assert "Adapted heads" in result.output and "| speaker |" in result.output


def test_adapt_python_api_plain_variant(site: dict[str, Path], test_bundle: Path) -> None:
    result = adapt_site(test_bundle, read_examples(site["examples"]), AdaptConfig(variant="plain", target_far=None))
    head = result.heads.section("speaker")
    assert head.info["variant"] == "plain" and np.all(np.isnan(head.thresholds))
    assert "| speaker |" in result.table()
