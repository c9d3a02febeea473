"""Every result says what made it: `slap-edge eval` stamps the commit and hashes of recipe, model config, corpus and
suite; the hashes do not depend on JSON formatting and change when the content does."""

from __future__ import annotations

import json
import re
from pathlib import Path

import soundfile as sf
from typer.testing import CliRunner

from slap_edge.cli import app
from slap_edge.demo import DEMO_RECORDING
from slap_edge.provenance import PROVENANCE_KEYS, git_commit, missing_provenance, model_hashes, suite_hashes

REPO = Path(__file__).resolve().parents[1]


def demo_suite(root: Path) -> Path:
    """Two tasks' worth of clips cut from the demo recording (a man at 0.6-7.1 s, a woman at 7.7-13.4 s)."""
    x, sr = sf.read(str(DEMO_RECORDING), dtype="float32")
    (root / "audio").mkdir(parents=True)
    lines = []
    for i, (start, end, label) in enumerate(
        [(1, 3.5, "male"), (4, 6.5, "male"), (8, 10.5, "female"), (10.5, 13, "female")]
    ):
        path = f"audio/{i}.wav"
        sf.write(str(root / path), x[int(start * sr) : int(end * sr)], sr)
        lines.append(json.dumps({"path": path, "task": "gender", "label": label, "speaker": f"{label}-{i}"}))
    classes = {"female": ["a woman is speaking"], "male": ["a man is speaking"]}
    suite = {
        "name": "demo-gender",
        "version": 1,
        "tasks": [{"name": "gender", "category": "demographics", "classes": classes}],
    }
    (root / "suite.json").write_text(json.dumps(suite))
    (root / "clips.jsonl").write_text("\n".join(lines) + "\n")
    return root


def test_eval_json_carries_commit_and_hashes(tmp_path: Path) -> None:
    suite = demo_suite(tmp_path / "suite")
    out = tmp_path / "r.json"
    res = CliRunner().invoke(
        app, ["eval", "--suite", str(suite), "--model", "default", "--no-probe", "--json", str(out)]
    )
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text())
    assert not missing_provenance(report)
    prov = report["provenance"]
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", prov["commit"]) and prov["commit"].split("-")[0] in git_commit()
    assert prov["suite"] == "demo-gender" and re.fullmatch(r"[0-9a-f]{16}", prov["suite_hash"])
    assert re.fullmatch(r"[0-9a-f]{16}", prov["model_config_hash"])
    assert prov["recipe_hash"] == "unknown" and prov["corpus_fingerprint"] == "unknown"  # a bundle records neither
    assert prov["made_by"] and prov["machine"]  # under pytest the command is pytest's
    assert report["zero_shot"]["mean_macro_f1"] == 1.0  # the built-in model tells this man from this woman


def test_run_folder_hashes_follow_content_not_formatting(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "manifest.jsonl").write_text('{"path": "a.wav"}\n')
    run = tmp_path / "run"
    run.mkdir()
    config = {"model": {"name": "m", "width": 96}, "recipe": {"steps": 10, "lr": 0.001}, "data": str(corpus)}
    (run / "config.json").write_text(json.dumps(config))
    first = model_hashes(run)
    (run / "config.json").write_text(json.dumps(config, indent=4, sort_keys=True))
    assert model_hashes(run) == first and "unknown" not in first.values()
    config["recipe"]["steps"] = 11
    (run / "config.json").write_text(json.dumps(config))
    changed = model_hashes(run)
    assert changed["recipe_hash"] != first["recipe_hash"] and changed["model_config_hash"] == first["model_config_hash"]
    (corpus / "manifest.jsonl").write_text('{"path": "b.wav"}\n')
    assert model_hashes(run)["corpus_fingerprint"] != first["corpus_fingerprint"]
    (corpus / "manifest.jsonl").unlink()
    assert model_hashes(run)["corpus_fingerprint"] == "unknown"  # the corpus is not here: never guessed
    assert model_hashes(None) == {"recipe_hash": "n/a", "model_config_hash": "n/a", "corpus_fingerprint": "n/a"}
    assert suite_hashes(tmp_path / "nowhere") == {"suite": "nowhere", "suite_hash": "unknown"}


def test_missing_provenance_names_what_is_absent() -> None:
    assert missing_provenance({}) == ["provenance"]
    block = {k: "x" for k in PROVENANCE_KEYS}
    assert missing_provenance({"provenance": block}) == []
    assert missing_provenance({"provenance": {**block, "commit": " "}}) == ["commit"]


def test_cli_command_line_is_recorded(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.argv = ['/venv/bin/slap-edge', 'eval', '--suite', 'a b']; "
        "from slap_edge.provenance import command_line; print(command_line())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip() == "['slap-edge', 'eval', '--suite', 'a b']", out.stderr


def test_one_module_hashes_in_the_formats_of_the_committed_records(tmp_path: Path) -> None:
    """slap_edge.fingerprints computes what provenance blocks and bundle records held before it existed: the
    committed values keep their meaning."""
    import hashlib

    from slap_edge.fingerprints import corpus_fingerprint, json_hash, sha256_json, suite_fingerprint

    config = {"name": "teacher-tiny", "audio": {"width": 64, "patch_size": [16, 8]}, "window_s": 1.0}
    # The bundle record's former formula (json.dumps default escaping) and the provenance block's (16 hex digits).
    old_record = hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert sha256_json(config) == old_record and json_hash(config) == old_record[:16]
    suite = demo_suite(tmp_path / "suite")
    suite_bytes = b"".join(n.encode() + b"\0" + (suite / n).read_bytes() for n in ("suite.json", "clips.jsonl"))
    assert suite_fingerprint(suite) == hashlib.sha256(suite_bytes).hexdigest()[:16] == suite_hashes(suite)["suite_hash"]
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "manifest.jsonl").write_text('{"id": "a"}\n')
    manifest_bytes = b"manifest.jsonl\0" + (tmp_path / "corpus" / "manifest.jsonl").read_bytes()
    assert corpus_fingerprint(tmp_path / "corpus") == hashlib.sha256(manifest_bytes).hexdigest()[:16]
