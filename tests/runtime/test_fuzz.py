"""Property-based tests (hypothesis) of everything that reads outside input: prompts files, prompt banks, manifests and
bundle archives, audio files and raw stdin, and the stream's chunking.

Every case must end in one of the project's own errors (`PromptsError`, `BundleError`, `AudioSourceError`) or in a
valid result; never another exception, and never NaN in what `listen` writes (the JSON writer refuses NaN, so every
message is passed through it). Examples are bounded so the whole file stays well under a minute on two cores.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime_testlib import SR

from slap_edge.bundle_reader import Bundle, BundleError, load_bundle
from slap_edge.prompts import (
    MAX_LINE_CHARS,
    PromptBank,
    PromptsError,
    PromptSet,
    load_bank,
    load_prompts,
    parse_prompts,
)
from slap_edge.runtime.engine import Engine
from slap_edge.runtime.listener import Listener
from slap_edge.runtime.outputs import message_json
from slap_edge.runtime.sources import AudioSourceError, FileSource, StdinSource
from slap_edge.runtime.stream import Scores

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
FEW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    # hypothesis runs many examples per test: each gets its own folder (function-scoped tmp_path would be shared).
    d = tempfile.mkdtemp(prefix="slap-fuzz-")
    try:
        yield Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def engine(test_bundle: Path, speaker_bank: PromptBank) -> Engine:
    return Engine(load_bundle(test_bundle), speaker_bank)


@pytest.fixture(scope="module")
def fuzz_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    old = os.environ.get("SLAP_EDGE_CACHE")
    os.environ["SLAP_EDGE_CACHE"] = str(tmp_path_factory.mktemp("fuzz-cache"))
    yield
    if old is None:
        os.environ.pop("SLAP_EDGE_CACHE", None)
    else:
        os.environ["SLAP_EDGE_CACHE"] = old


def _check_prompt_set(ps: PromptSet) -> None:
    assert ps.sections
    names = [s.name for s in ps.sections]
    assert len(set(names)) == len(names)
    for s in ps.sections:
        assert len(s.texts) >= 2 and len(s.labels) == len(s.texts)
        assert len(set(s.labels)) == len(s.labels)
        assert all(t and t == t.strip() and len(t) <= MAX_LINE_CHARS for t in s.texts)
        assert not s.name.startswith("[") and "]" not in s.name


def _check_messages(listener: Listener, msgs: list) -> None:
    for m in msgs:
        line = message_json(m)  # raises on NaN or inf
        assert json.loads(line)["seq"] == m.seq
        if isinstance(m, Scores) and m.probs is not None:
            for p in m.probs.values():
                assert np.all(np.isfinite(p)) and abs(float(p.sum()) - 1.0) < 1e-4


# -- prompts ----------------------------------------------------------------------------------------------------------
_PROMPT_ALPHABET = st.sampled_from(list("ab =[]#\n\t\r_-.") + ["female", "male", "[gender]", "é", "\ufeff", "\u2028"])
prompt_texts = st.lists(_PROMPT_ALPHABET, max_size=80).map("".join)


@FUZZ
@given(text=prompt_texts)
def test_fuzz_prompts_parser(text: str) -> None:
    try:
        ps = parse_prompts(text, "fuzz.txt")
    except PromptsError as exc:
        assert str(exc).startswith("fuzz.txt")
        return
    _check_prompt_set(ps)


@FEW
@given(
    sections=st.lists(
        st.tuples(
            st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.\- ]{0,8}", fullmatch=True),
            st.lists(
                st.tuples(st.from_regex(r"[a-z]{1,6}", fullmatch=True), st.text(min_size=1, max_size=30)), max_size=4
            ),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_fuzz_prompts_with_sections_round_trip(sections: list) -> None:
    """Files built from sections either parse back to exactly what was written or are refused by name."""
    lines = []
    for name, prompts in sections:
        lines.append(f"[{name}]")
        lines += [f"{label} = {text}" for label, text in prompts]
    text = "\n".join(lines) + "\n"
    try:
        ps = parse_prompts(text, "fuzz.txt")
    except PromptsError as exc:
        assert str(exc).startswith("fuzz.txt")
        return
    _check_prompt_set(ps)
    assert [s.name for s in ps.sections] == [n.strip() for n, _ in sections]


@FUZZ
@given(data=st.binary(max_size=400))
def test_fuzz_random_bytes_as_prompts_file(data: bytes) -> None:
    with _scratch() as d:
        path = d / "p.txt"
        path.write_bytes(data)
        try:
            ps = load_prompts(path)
        except PromptsError as exc:
            assert str(path) in str(exc)
            return
        _check_prompt_set(ps)


@FUZZ
@given(data=st.binary(max_size=600), cut=st.integers(min_value=0, max_value=2000), flip=st.integers(0, 2000))
def test_fuzz_random_and_damaged_banks(data: bytes, cut: int, flip: int, speaker_bank: PromptBank) -> None:
    with _scratch() as d:
        good = d / "good.npz"
        speaker_bank.save(good)
        raw = bytearray(good.read_bytes())
        if flip < len(raw):
            raw[flip] ^= 0xFF
        for name, blob in (("random.npz", data), ("damaged.npz", bytes(raw[: max(cut, 1) * 4]))):
            path = d / name
            path.write_bytes(blob)
            try:
                bank = load_bank(path)
            except PromptsError as exc:
                assert str(path) in str(exc)
                continue
            assert np.all(np.isfinite(bank.embeddings))
            _check_prompt_set(bank.prompts)


# -- manifests and bundle archives ------------------------------------------------------------------------------------
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([1e300, -1.0, 0.0, 1e-300])
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
manifest_paths = st.sampled_from(
    [
        ("format",),
        ("format_version",),
        ("model",),
        ("model", "id"),
        ("model", "embed_dim"),
        ("audio",),
        ("audio", "sample_rate"),
        ("audio", "window_s"),
        ("audio", "hop_s"),
        ("audio", "frontend"),
        ("scoring",),
        ("scoring", "logit_scale"),
        ("files",),
        ("files", "audio.onnx"),
        ("files", "audio.onnx", "size"),
        ("files", "../evil"),
    ]
)


@FUZZ
@given(edits=st.lists(st.tuples(manifest_paths, json_values | st.just("<delete>")), min_size=1, max_size=3))
def test_fuzz_manifest_reader(test_bundle: Path, fuzz_cache: None, edits: list) -> None:
    base = json.loads((test_bundle / "manifest.json").read_text())
    manifest = copy.deepcopy(base)
    for path, value in edits:
        node = manifest
        for key in path[:-1]:
            if not isinstance(node, dict):
                break
            node = node.setdefault(key, {})
        else:
            if isinstance(node, dict):
                if value == "<delete>":
                    node.pop(path[-1], None)
                else:
                    node[path[-1]] = value
    with _scratch() as d:
        root = d / "b"
        shutil.copytree(test_bundle, root)
        (root / "manifest.json").write_text(json.dumps(manifest))  # json writes NaN/Infinity, as a hand edit could
        try:
            bundle = load_bundle(root)
        except BundleError as exc:
            assert "manifest.json" in str(exc) or str(root) in str(exc)
            return
        _check_bundle(bundle)


def _check_bundle(bundle: Bundle) -> None:
    for value in (bundle.logit_scale, bundle.window_s, bundle.hop_s):
        assert math.isfinite(value) and value > 0
    assert bundle.hop_s <= bundle.window_s and bundle.embed_dim > 0 and bundle.sample_rate > 0


@pytest.fixture(scope="module")
def archive_bytes(test_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("tar") / "b.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        tf.add(test_bundle, arcname="b")
    return path.read_bytes()


@FEW
@given(
    cut=st.floats(min_value=0.0, max_value=1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(1, 255)), max_size=3),
    random=st.binary(max_size=300),
)
def test_fuzz_damaged_and_random_archives(
    archive_bytes: bytes, fuzz_cache: None, cut: float, flips: list, random: bytes
) -> None:
    raw = bytearray(archive_bytes[: max(1, int(cut * len(archive_bytes)))])
    for where, xor in flips:
        raw[min(len(raw) - 1, int(where * len(raw)))] ^= xor
    with _scratch() as d:
        for name, blob in (("damaged.tar.gz", bytes(raw)), ("random.tar.gz", random)):
            path = d / name
            path.write_bytes(blob)
            try:
                bundle = load_bundle(path)
            except BundleError as exc:
                assert name in str(exc) or "manifest.json" in str(exc)
                continue
            _check_bundle(bundle)


# -- audio: random bytes as files and as raw stdin, hostile sample values, any chunking ------------------------------
_WAV_HEADERS = [b"", b"RIFF\x24\x00\x00\x00WAVEfmt ", b"fLaC", b"OggS"]


@FEW
@given(head=st.sampled_from(_WAV_HEADERS), data=st.binary(max_size=3000))
def test_fuzz_random_bytes_as_audio_file(engine: Engine, head: bytes, data: bytes) -> None:
    with _scratch() as d:
        path = d / "x.wav"
        path.write_bytes(head + data)
        try:
            chunks = list(FileSource(path, SR, realtime=False).chunks())
        except AudioSourceError as exc:
            assert str(path) in str(exc)
            return
    listener = Listener(engine)
    msgs = [m for c in chunks for m in listener.feed(c)]
    _check_messages(listener, msgs)


@FEW
@given(
    kind=st.sampled_from(["FLOAT", "PCM_16", "DOUBLE"]),
    values=st.lists(
        st.sampled_from([0.0, 0.5, -0.5, 1.0, 3.0, -40.0, float("nan"), float("inf"), -float("inf"), 1e30]),
        min_size=1,
        max_size=40,
    ),
    channels=st.integers(1, 3),
)
def test_fuzz_hostile_sample_values_never_reach_the_output(
    engine: Engine, kind: str, values: list, channels: int
) -> None:
    x = np.resize(np.asarray(values, dtype=np.float64), int(1.2 * SR) * channels).reshape(-1, channels)
    with _scratch() as d:
        path = d / "x.wav"
        sf.write(str(path), x, SR, subtype=kind)
        chunks = list(FileSource(path, SR, realtime=False).chunks())
    listener = Listener(engine)
    msgs = [m for c in chunks for m in listener.feed(c)]
    msgs += listener.feed(np.asarray(values * 100, dtype=np.float32))
    assert any(isinstance(m, Scores) for m in msgs)
    _check_messages(listener, msgs)


@FEW
@given(data=st.binary(max_size=4000), rate=st.sampled_from([8000, 16000, 44100]), channels=st.integers(1, 3))
def test_fuzz_random_bytes_on_stdin(engine: Engine, data: bytes, rate: int, channels: int) -> None:
    src = StdinSource(SR, rate=rate, channels=channels, stream=io.BytesIO(data))
    listener = Listener(engine)
    try:
        msgs = [m for c in src.chunks() for m in listener.feed(c)]
    except AudioSourceError as exc:
        assert str(exc).startswith("stdin")
        return
    _check_messages(listener, msgs)


@pytest.fixture(scope="module")
def reference(engine: Engine, voices: dict) -> tuple[np.ndarray, list]:
    x = voices["two"][: int(2.5 * SR)]
    return x, [m.to_json() for m in Listener(engine).feed(x)]


@FEW
@given(cuts=st.lists(st.integers(min_value=0, max_value=int(2.5 * SR)), max_size=12))
def test_fuzz_any_chunking_gives_the_same_messages(engine: Engine, reference: tuple, cuts: list) -> None:
    x, expected = reference
    listener = Listener(engine)
    bounds = [0, *sorted(cuts), len(x)]
    msgs = [m for a, b in zip(bounds, bounds[1:], strict=False) for m in listener.feed(x[a:b])]
    got = [m.to_json() for m in msgs]
    assert [(m["type"], m["seq"], m["t"]) for m in got] == [(m["type"], m["seq"], m["t"]) for m in expected]
    for a, b in zip(got, expected, strict=True):
        if a["type"] == "scores" and a["sections"]:
            for name, sec in a["sections"].items():
                for label, p in sec["probs"].items():
                    assert abs(p - b["sections"][name]["probs"][label]) < 1e-5
    _check_messages(listener, msgs)
