"""The bundle writer: what it writes, that the reader accepts it, and that bad bundles and bad runs are refused."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
import torch
from export_testlib import student

from slap_edge.bundle_reader import FORMAT, FORMAT_VERSION, BundleError, load_bundle, unpack_bundle
from slap_edge.export.bundle_writer import export_bundle
from slap_edge.export.onnx import ExportError, read_metadata, write_metadata
from slap_edge.fingerprints import sha256_file

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def int8_bundle(tmp_path_factory: pytest.TempPathFactory, corpus: Path, suite: Path) -> tuple[Path, object]:
    """One int8 export for the module, with the graphs a TensorRT engine is built from (as the built-in bundle)."""
    from slap_edge.export.bundle_writer import ExportProfile

    out = tmp_path_factory.mktemp("bundles") / "cnn-int8"
    profile = ExportProfile(int8=True, tensorrt=("fp16", "int8"))
    report = export_bundle(
        student("student-cnn-tiny"), out, int8=True, calibration=corpus, suite=suite, profile=profile
    )
    return out, report


@pytest.fixture
def bundle_copy(int8_bundle: tuple[Path, object], tmp_path: Path) -> Path:
    return Path(shutil.copytree(int8_bundle[0], tmp_path / "b"))


def _rehash(root: Path, name: str) -> None:
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["files"][name] = {"sha256": sha256_file(root / name), "size": (root / name).stat().st_size}
    (root / "manifest.json").write_text(json.dumps(manifest))


def test_bundle_manifest_and_figures(int8_bundle: tuple[Path, object]) -> None:
    path, report = int8_bundle
    for line in report.lines():
        print(line)
    bundle = load_bundle(path)
    m = bundle.manifest
    assert m["format"] == FORMAT and m["format_version"] == FORMAT_VERSION
    assert m["model"]["precision"] == "int8" and m["model"]["name"] == "student-cnn-tiny"
    assert m["audio"]["frontend"]["n_mels"] == 64 and m["audio"]["window_s"] == 3.0
    assert set(m["files"]) == {
        "audio.onnx",
        "audio_frontend.onnx",
        "audio_encoder.onnx",
        "audio_fp32.onnx",
        "audio_qdq.onnx",
        "MODEL_CARD.md",
    }
    assert m["tensorrt"] == {"precisions": ["fp16", "int8"]}
    # audio.onnx cut at its log-mel, for streams that keep their frames from hop to hop (runtime/frames.py).
    cache = m["audio"]["frame_cache"]
    assert (cache["frontend"], cache["encoder"]) == ("audio_frontend.onnx", "audio_encoder.onnx") and cache["logmel"]
    assert read_metadata(path / "audio_encoder.onnx")["model_id"] == m["model"]["id"]
    assert m["scoring"]["logit_scale"] > 0 and m["created_by"].startswith("slap-edge ")
    assert read_metadata(path / "audio.onnx")["model_id"] == m["model"]["id"]
    assert report.audio_fp32.min_cosine >= 0.999
    assert report.audio_int8 is not None and report.audio_int8.min_cosine >= 0.98
    # The suite's clips are 22.05 kHz; they were resampled and all scored three ways.
    z = report.zero_shot
    assert z is not None and z.clips == 6 and z.tasks == 1 and z.agreement_fp32_torch == 1.0
    assert z.agreement_int8_fp32 is not None and z.f1_int8 is not None and 0.0 <= z.f1_torch <= 1.0
    assert z.agreement_int8_saturating_fp32 is not None and z.f1_int8_saturating is not None
    card = (path / "MODEL_CARD.md").read_text()
    assert "int8 ONNX vs fp32 ONNX" in card and "zero-shot on suite `tiny`" in card
    # The int8 check names the kernel path it ran on and gives the other path's figure (emulated).
    check = m["checks"]["audio_int8"]
    assert check["measured_on"]["kernel"] and isinstance(check["measured_on"]["saturates"], bool)
    assert check["max_weight_abs"] <= 64 and check["emulated_saturating"]["min_cosine"] >= 0.98
    assert "int8 kernel paths: measured on" in card and "without VNNI" in card


def test_int8_audio_model_runs_close_to_fp32_and_keeps_front_end_float(int8_bundle: tuple[Path, object]) -> None:
    import onnx

    from slap_edge.export.quantize import GENERATED_BASES_PREFIX, frontend_node_names

    path, _ = int8_bundle
    model = onnx.load(str(path / "audio.onnx"))
    ops = [n.op_type for n in model.graph.node]
    assert "QuantizeLinear" in ops and "ConvInteger" not in ops  # static QDQ convs, never ConvInteger
    frontend = frontend_node_names(model)
    assert not any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in model.graph.node if n.name in frontend)
    stft = next(n for n in model.graph.node if n.op_type == "Conv" and n.name in frontend)
    # The STFT bases are generated inside the graph (folded by ONNX Runtime), not stored; the mel filterbank is
    # stored as float16 and cast to float32: the front end computes in float.
    producer = next(n for n in model.graph.node if stft.input[1] in n.output)
    assert producer.name.startswith(GENERATED_BASES_PREFIX) and producer.name in frontend
    mel = next(n for n in model.graph.node if n.op_type == "MatMul" and n.name in frontend)
    cast = next(n for n in model.graph.node if set(mel.input) & set(n.output) and n.op_type == "Cast")
    assert cast.attribute[0].i == onnx.TensorProto.FLOAT
    inits = {i.name: i for i in model.graph.initializer}
    assert inits[cast.input[0]].data_type == onnx.TensorProto.FLOAT16
    assert (path / "audio.onnx").stat().st_size < 1_800_000


def test_tampered_bundle_is_refused(bundle_copy: Path) -> None:
    data = bytearray((bundle_copy / "audio.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle_copy / "audio.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="audio.onnx"):
        load_bundle(bundle_copy)


def test_missing_file_and_unknown_version_are_refused(bundle_copy: Path) -> None:
    manifest = json.loads((bundle_copy / "manifest.json").read_text())
    (bundle_copy / "MODEL_CARD.md").unlink()
    with pytest.raises(BundleError, match="MODEL_CARD.md"):
        load_bundle(bundle_copy)
    manifest["format_version"] = FORMAT_VERSION + 1
    (bundle_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="format_version"):
        load_bundle(bundle_copy)


def test_frame_cache_graphs_are_checked_like_audio_onnx(bundle_copy: Path, int8_bundle: tuple[Path, object]) -> None:
    import numpy as np

    from slap_edge.prompts import PromptBank, PromptSet, Section
    from slap_edge.runtime import Engine

    bundle = load_bundle(int8_bundle[0])
    prompts = PromptSet((Section("s", ("a", "b"), ("a", "b")),))
    engine = Engine(bundle, PromptBank(prompts, np.eye(2, bundle.embed_dim, dtype=np.float32), bundle.model_id))
    assert engine.frame_cache(bundle.window_samples) is not None
    assert engine.frame_cache_note == "on (the bundle's frame-cache graphs)"
    # A half whose metadata names another front end, with checksums that agree, is refused by name.
    meta = read_metadata(bundle_copy / "audio_encoder.onnx")
    write_metadata(bundle_copy / "audio_encoder.onnx", {**meta, "sample_rate": "8000"})
    _rehash(bundle_copy, "audio_encoder.onnx")
    with pytest.raises(BundleError, match="audio_encoder.onnx"):
        load_bundle(bundle_copy)
    # A frame-cache entry naming a file the manifest does not list is refused by name.
    manifest = json.loads((bundle_copy / "manifest.json").read_text())
    manifest["audio"]["frame_cache"]["encoder"] = "missing.onnx"
    (bundle_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="missing.onnx"):
        load_bundle(bundle_copy)


def test_frame_cache_graphs_are_added_to_a_bundle_exported_without_them(bundle_copy: Path, tmp_path: Path) -> None:
    """`slap-edge bundle frame-cache`: an older bundle (no halves) gets the halves `export` ships, nothing else
    changes but the manifest's entry and a card section; a bundle that has them, or an existing --out, is refused."""
    from typer.testing import CliRunner

    from slap_edge.cli import app

    manifest = json.loads((bundle_copy / "manifest.json").read_text())
    shipped = {name: (bundle_copy / name).read_bytes() for name in ("audio_frontend.onnx", "audio_encoder.onnx")}
    for name in shipped:
        (bundle_copy / name).unlink()
        del manifest["files"][name]
    cache = manifest["audio"].pop("frame_cache")
    (bundle_copy / "manifest.json").write_text(json.dumps(manifest))
    old = load_bundle(bundle_copy)
    assert old.frame_cache is None

    out = tmp_path / "with-cache"
    runner = CliRunner()
    result = runner.invoke(app, ["bundle", "frame-cache", str(bundle_copy), "--out", str(out)])
    assert result.exit_code == 0, result.output
    new = load_bundle(out)
    assert new.frame_cache == cache and new.model_id == old.model_id
    # The same cut as the exporter's, byte for byte; every other file as it was, the card with one section more.
    assert {name: (out / name).read_bytes() for name in shipped} == shipped
    for name in old.manifest["files"]:
        if name != "MODEL_CARD.md":
            assert new.manifest["files"][name] == old.manifest["files"][name], name
    card = (out / "MODEL_CARD.md").read_text()
    assert card.startswith((bundle_copy / "MODEL_CARD.md").read_text().rstrip("\n")) and "## Frame-cache graphs" in card

    again = runner.invoke(app, ["bundle", "frame-cache", str(out), "--out", str(tmp_path / "twice")])
    assert again.exit_code == 1 and "already carries frame-cache graphs" in again.output
    assert not (tmp_path / "twice").exists()
    taken = runner.invoke(app, ["bundle", "frame-cache", str(bundle_copy), "--out", str(out)])
    assert taken.exit_code == 1 and "already exists" in taken.output


def test_onnx_metadata_disagreeing_with_manifest_is_refused(bundle_copy: Path) -> None:
    meta = read_metadata(bundle_copy / "audio.onnx")
    write_metadata(bundle_copy / "audio.onnx", {**meta, "sample_rate": "8000"})
    _rehash(bundle_copy, "audio.onnx")  # checksums agree, so only the metadata check can catch it
    with pytest.raises(BundleError, match="sample_rate"):
        load_bundle(bundle_copy)


def test_tar_with_dotdot_paths_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        payload = b"{}"
        info = tarfile.TarInfo("bundle/../../escaped.json")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    with pytest.raises(BundleError, match=r"\.\."):
        unpack_bundle(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.json").exists()


def test_tar_bundle_round_trip(int8_bundle: tuple[Path, object], tmp_path: Path) -> None:
    from slap_edge.export.bundle_writer import _write_archive

    archive = tmp_path / "b.tar.gz"
    _write_archive(int8_bundle[0], archive)
    root = unpack_bundle(archive, tmp_path / "unpacked")
    assert load_bundle(root).model_id == load_bundle(int8_bundle[0]).model_id


def test_existing_output_is_never_overwritten(int8_bundle: tuple[Path, object]) -> None:
    with pytest.raises(ExportError, match="already exists"):
        export_bundle(student("student-cnn-tiny"), int8_bundle[0])


def test_run_that_cannot_be_rebuilt_fails_before_writing(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"model": {"name": "x", "embed_dim": -3}, "recipe": {}}))
    out = tmp_path / "bundle"
    with pytest.raises(ExportError, match="cannot be rebuilt"):
        export_bundle(run, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


class _UnexportableModel(torch.nn.Module):
    """A model with the SlapModel export interface whose audio tower branches on its input, which torch.export
    cannot trace: the export fails after the partial folder exists."""

    def __init__(self) -> None:
        super().__init__()
        self.config = student("student-cnn-tiny").config
        self.weight = torch.nn.Parameter(torch.ones(1))

    def audio_export_module(self) -> torch.nn.Module:
        parent = self

        class Branchy(torch.nn.Module):
            def forward(self, waveform: torch.Tensor) -> torch.Tensor:
                if waveform.sum() > 0:  # data-dependent control flow
                    return waveform[:, :8] * parent.weight
                return waveform[:, 8:16]

        return Branchy()

    def logit_scale_value(self) -> float:
        return 10.0


def test_failed_export_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    with pytest.raises(ExportError, match="cannot export"):
        export_bundle(_UnexportableModel(), out)
    assert list(tmp_path.iterdir()) == []


def test_int8_without_calibration_is_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="calibration"):
        export_bundle(student("student-cnn-tiny"), tmp_path / "b", int8=True)
    assert list(tmp_path.iterdir()) == []


def test_model_card_append_keeps_bundle_verifiable(bundle_copy: Path) -> None:
    from slap_edge.export.card import append_model_card

    append_model_card(bundle_copy, ["## Held-out suite\n\n| task | F1 |\n|---|---|\n| sex | 0.9 |"])
    card = (bundle_copy / "MODEL_CARD.md").read_text()
    assert card.rstrip().endswith("| sex | 0.9 |") and "## Held-out suite" in card
    load_bundle(bundle_copy)  # checksums were updated with the card
    (bundle_copy / "MODEL_CARD.md").write_text(card + "tampered\n")
    with pytest.raises(BundleError, match="MODEL_CARD.md"):
        append_model_card(bundle_copy, ["more"])


def test_trt_check_of_a_bundle_checks_the_graphs_engines_are_built_from(bundle_copy: Path) -> None:
    """An int8 bundle that carries audio_fp32.onnx and audio_qdq.onnx is buildable by TensorRT: `trt check` checks
    those two (what `trt build` uses), not the ONNX Runtime int8 audio.onnx; without them (a bundle exported without
    a TensorRT profile) it fails, naming why."""
    from typer.testing import CliRunner

    from slap_edge.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["trt", "check", str(bundle_copy)])
    assert result.exit_code == 0, result.output
    assert "fp16 engine would be built from audio_fp32.onnx" in result.output
    assert "int8 engine would be built from audio_qdq.onnx" in result.output
    manifest = json.loads((bundle_copy / "manifest.json").read_text())
    for name in ("audio_fp32.onnx", "audio_qdq.onnx"):
        (bundle_copy / name).unlink()
        del manifest["files"][name]
    del manifest["tensorrt"]
    (bundle_copy / "manifest.json").write_text(json.dumps(manifest))
    load_bundle(bundle_copy)  # still a valid bundle, for ONNX Runtime only
    plain = runner.invoke(app, ["trt", "check", str(bundle_copy)])
    assert plain.exit_code == 1 and "no TensorRT fp16: " in plain.output


def test_bundle_card_stores_the_record_in_the_manifest(bundle_copy: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from slap_edge.cli import app

    section, record = tmp_path / "s.md", tmp_path / "record.json"
    section.write_text("## Record\n\n- commit x\n")
    record.write_text(json.dumps({"git_commit": "abc", "suites": []}))
    result = CliRunner().invoke(app, ["bundle", "card", str(bundle_copy), "--append", str(section), "--record",
                                      str(record)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert load_bundle(bundle_copy).manifest["record"] == {"git_commit": "abc", "suites": []}
    record.write_text("[1, 2]")
    bad = CliRunner().invoke(app, ["bundle", "card", str(bundle_copy), "--append", str(section), "--record",
                                   str(record)])  # fmt: skip
    assert bad.exit_code == 1 and "a record is a JSON object" in bad.output
