"""The bundle reader refuses incomplete, altered, unknown or inconsistent bundles, and unsafe archives."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
from runtime_testlib import MODEL_ID, write_manifest

from slap_edge.bundle_reader import FORMAT_VERSION, BundleError, load_bundle


@pytest.fixture
def bundle_copy(test_bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(test_bundle, tmp_path / "b"))


def test_loads_and_reads_manifest(test_bundle: Path) -> None:
    b = load_bundle(test_bundle)
    assert b.model_id == MODEL_ID and b.embed_dim == 32 and b.sample_rate == 16000
    assert b.text_path is not None and b.tokenizer_path is not None and b.logit_scale == 100.0


def test_altered_file_is_refused(bundle_copy: Path) -> None:
    with open(bundle_copy / "MODEL_CARD.md", "a") as f:
        f.write("x")
    with pytest.raises(BundleError, match="MODEL_CARD.md"):
        load_bundle(bundle_copy)


def test_same_size_alteration_is_refused(bundle_copy: Path) -> None:
    data = bytearray((bundle_copy / "tokenizer.json").read_bytes())
    data[-2] ^= 1
    (bundle_copy / "tokenizer.json").write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"tokenizer.json: sha256"):
        load_bundle(bundle_copy)


def test_missing_file_is_refused(bundle_copy: Path) -> None:
    (bundle_copy / "text.onnx").unlink()
    with pytest.raises(BundleError, match=r"text.onnx: listed .* but missing"):
        load_bundle(bundle_copy)


def test_unknown_format_version_is_refused(bundle_copy: Path) -> None:
    write_manifest(bundle_copy, format_version=FORMAT_VERSION + 1)
    with pytest.raises(BundleError, match="format_version"):
        load_bundle(bundle_copy)


def test_metadata_disagreeing_with_manifest_is_refused(bundle_copy: Path) -> None:
    manifest = json.loads((bundle_copy / "manifest.json").read_text())
    manifest["audio"]["frontend"]["n_mels"] = 80
    write_manifest(bundle_copy, audio=manifest["audio"])
    with pytest.raises(BundleError, match=r"audio.onnx: ONNX metadata frontend"):
        load_bundle(bundle_copy)


def test_pickles_are_refused(bundle_copy: Path) -> None:
    (bundle_copy / "extra.pkl").write_bytes(b"\x80\x04N.")
    write_manifest(bundle_copy)
    with pytest.raises(BundleError, match="pickle"):
        load_bundle(bundle_copy)


def test_tar_gz_loads(test_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLAP_EDGE_CACHE", str(tmp_path / "cache"))
    archive = tmp_path / "b.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(test_bundle, arcname="b")
    assert load_bundle(archive).model_id == MODEL_ID
    assert load_bundle(archive).model_id == MODEL_ID  # the second load reuses the unpacked copy


def _archive_with(tmp_path: Path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    archive = tmp_path / "bad.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.addfile(member, io.BytesIO(data) if data else None)
    return archive


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/evil.txt", "b/../../evil.txt"])
def test_tar_paths_leaving_the_folder_are_refused(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLAP_EDGE_CACHE", str(tmp_path / "cache"))
    info = tarfile.TarInfo(name)
    info.size = 1
    with pytest.raises(BundleError, match="refusing member"):
        load_bundle(_archive_with(tmp_path, info, b"x"))
    assert not (tmp_path / "evil.txt").exists()


def test_tar_links_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLAP_EDGE_CACHE", str(tmp_path / "cache"))
    info = tarfile.TarInfo("b/manifest.json")
    info.type = tarfile.SYMTYPE
    info.linkname = "/etc/passwd"
    with pytest.raises(BundleError, match="refusing link"):
        load_bundle(_archive_with(tmp_path, info))
