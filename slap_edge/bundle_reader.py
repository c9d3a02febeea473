"""Read and verify an edge bundle (spec/bundle.md). Torch-free: this is what a kiosk runs.

The writer is `slap_edge.export.bundle_writer`; this module is the reader both sides are tested against. Beyond the
spec, the contract fixed here:

- ``manifest.json``: ``format`` = ``"slap-edge-bundle"``, ``format_version`` = `FORMAT_VERSION`,
  ``model`` {``name``, ``id``, ``embed_dim``, ``precision``, ...}, ``audio`` {``sample_rate``, ``window_s``,
  ``hop_s``, ``frontend`` (the `FrontendConfig` as a dict)}, ``scoring`` {``logit_scale``},
  ``files`` {relative name: {``sha256``, ``size``}}, ``created_by``.
- ``audio.onnx`` metadata_props (`METADATA_KEYS`, as written by `slap_edge.export.onnx`): ``model_id``,
  ``embed_dim``, ``sample_rate``, ``window_s`` and ``frontend`` (JSON of the front-end dict); other keys are
  ignored. ``text.onnx``: ``model_id`` and ``embed_dim``. Values are strings (ONNX metadata is text).
- ``prompts/NAME.npz``: see `slap_edge.prompts` (plain arrays, loaded with ``allow_pickle=False``).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

from slap_edge.fingerprints import sha256_file

FORMAT = "slap-edge-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
AUDIO_ONNX = "audio.onnx"
TEXT_ONNX = "text.onnx"
TOKENIZER = "tokenizer.json"
MODEL_CARD = "MODEL_CARD.md"
META_PREFIX = ""  # the export writes plain keys (slap_edge.export.onnx.META_*)
METADATA_KEYS = ("model_id", "embed_dim", "sample_rate", "window_s", "frontend")
TEXT_METADATA_KEYS = ("model_id", "embed_dim")
# Bounds of the manifest's numbers. CLIP-style training clamps the learned logit scale at 100; a scale far above that
# (or NaN/inf, which JSON parsers accept) only turns cosines into 0/1 or NaN probabilities.
MAX_LOGIT_SCALE = 1000.0
MAX_WINDOW_S = 600.0
# Suffixes of formats that execute code when loaded; a bundle carrying one is refused outright.
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".joblib")


class BundleError(ValueError):
    """A bundle that is incomplete, altered, of an unknown version or inconsistent; the message names the file."""


@dataclasses.dataclass(frozen=True)
class Bundle:
    """A verified bundle folder and the facts a runtime needs from its manifest."""

    root: Path
    manifest: dict[str, Any]
    model_id: str
    model_name: str
    embed_dim: int
    sample_rate: int
    window_s: float
    hop_s: float
    frontend: dict[str, Any]
    logit_scale: float

    @property
    def audio_path(self) -> Path:
        return self.root / AUDIO_ONNX

    @property
    def text_path(self) -> Path | None:
        p = self.root / TEXT_ONNX
        return p if TEXT_ONNX in self.manifest["files"] else None

    @property
    def tokenizer_path(self) -> Path | None:
        p = self.root / TOKENIZER
        return p if TOKENIZER in self.manifest["files"] else None

    @property
    def prompt_banks(self) -> dict[str, Path]:
        """Bundled prompt banks by name (``prompts/NAME.npz``)."""
        out = {}
        for name in self.manifest["files"]:
            p = PurePosixPath(name)
            if len(p.parts) == 2 and p.parts[0] == "prompts" and p.suffix == ".npz":
                out[p.stem] = self.root / name
        return out

    @property
    def frame_cache(self) -> dict[str, str] | None:
        """``audio.frame_cache`` of the manifest: audio.onnx cut at its log-mel (``frontend`` and ``encoder`` files,
        and the ``logmel``, ``waveform`` and ``embedding`` tensor names), for streams that keep frames from hop to
        hop (`slap_edge.runtime.frames`); None for bundles exported without it."""
        return self.manifest["audio"].get("frame_cache")

    @property
    def window_samples(self) -> int:
        return int(round(self.window_s * self.sample_rate))

    @property
    def hop_samples(self) -> int:
        return int(round(self.hop_s * self.sample_rate))


def _safe_member_path(name: str, archive: Path) -> PurePosixPath:
    p = PurePosixPath(name)
    if p.is_absolute() or name.startswith(("/", "\\")) or any(part == ".." for part in p.parts) or "\\" in name:
        raise BundleError(f"{archive}: refusing member {name!r}: absolute paths and '..' are not allowed")
    return p


def unpack_bundle(archive: str | Path, dest: str | Path) -> Path:
    """Unpack a ``.tar.gz`` bundle into ``dest`` safely; returns the folder that holds ``manifest.json``.

    Only regular files and folders are extracted; absolute paths, ``..``, links, devices and FIFOs are refused, so
    nothing can be written outside ``dest``.
    """
    archive, dest = Path(archive), Path(dest)
    try:
        return _unpack(archive, dest)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        # A truncated or corrupt .tar.gz fails inside gzip (EOFError, zlib.error) as well as inside tarfile; EOFError
        # must not escape, or the command line reports it as a bare "Aborted.".
        damaged = isinstance(exc, (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile))
        hint = "the archive is truncated or corrupt: copy it again" if damaged else f"cannot unpack it into {dest}"
        raise BundleError(f"{archive}: not a readable .tar.gz bundle ({type(exc).__name__}: {exc}); {hint}") from exc


def _unpack(archive: Path, dest: Path) -> Path:
    tf = tarfile.open(archive, "r:*")  # noqa: SIM115 - closed by the `with` below
    with tf:
        members = tf.getmembers()
        for m in members:
            _safe_member_path(m.name, archive)
            if m.issym() or m.islnk():
                raise BundleError(f"{archive}: refusing link {m.name!r} -> {m.linkname!r}: bundles hold no links")
            if not (m.isfile() or m.isdir()):
                raise BundleError(f"{archive}: refusing {m.name!r}: only regular files and folders are allowed")
        dest.mkdir(parents=True, exist_ok=True)
        for m in members:
            target = dest.joinpath(*_safe_member_path(m.name, archive).parts)
            if m.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(m)
            if src is None:
                raise BundleError(f"{archive}: cannot read member {m.name!r}")
            with src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
    manifests = sorted(dest.rglob(MANIFEST), key=lambda p: len(p.parts))
    if not manifests:
        raise BundleError(f"{archive}: no {MANIFEST} inside the archive; is this a slap-edge bundle?")
    return manifests[0].parent


def cache_dir() -> Path:
    """Where slap-edge caches unpacked bundles and prompt embeddings ($SLAP_EDGE_CACHE, else XDG cache)."""
    base = os.environ.get("SLAP_EDGE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "slap-edge"
    )
    return Path(base)


def _unpack_cached(archive: Path) -> Path:
    """Unpack once per archive content; the files are verified again on every load anyway."""
    key = sha256_file(archive)[:24]
    final = cache_dir() / "bundles" / key
    if (final / "done").is_file():
        return unpack_root(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=key + ".", suffix=".partial", dir=final.parent))
    try:
        root = unpack_bundle(archive, tmp / "b")
        (tmp / "root").write_text(str(root.relative_to(tmp / "b")), encoding="utf-8")
        (tmp / "done").write_text("", encoding="utf-8")
        try:
            os.replace(tmp, final)
        except OSError:  # another process unpacked it first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return unpack_root(final)


def unpack_root(cache_entry: Path) -> Path:
    return cache_entry / "b" / (cache_entry / "root").read_text(encoding="utf-8").strip()


def _get(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in obj:
        raise BundleError(f"{where}: missing key {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        name = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise BundleError(f"{where}: key {key!r} should be {name}, got {value!r}")
    return value


def read_manifest(root: Path) -> dict[str, Any]:
    """Parse and structurally check ``manifest.json`` (without touching the other files)."""
    path = root / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BundleError(f"{path}: missing; {root} is not a bundle (or is incomplete)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: cannot read ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON ({exc.msg})") from exc
    if not isinstance(manifest, dict):
        raise BundleError(f"{path}: expected a JSON object")
    where = str(path)
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{where}: format is {manifest.get('format')!r}, expected {FORMAT!r}")
    version = _get(manifest, "format_version", int, where)
    if version != FORMAT_VERSION:
        raise BundleError(
            f"{where}: format_version {version} is not supported; this slap-edge reads version {FORMAT_VERSION}"
        )
    model = _get(manifest, "model", dict, where)
    _get(model, "id", str, f"{where}: model")
    _get(model, "name", str, f"{where}: model")
    if _get(model, "embed_dim", int, f"{where}: model") <= 0:
        raise BundleError(f"{where}: model.embed_dim must be positive")
    audio = _get(manifest, "audio", dict, where)
    if _get(audio, "sample_rate", int, f"{where}: audio") <= 0:
        raise BundleError(f"{where}: audio.sample_rate must be positive")
    for key in ("window_s", "hop_s"):
        value = _get(audio, key, (int, float), f"{where}: audio")
        if not (math.isfinite(value) and 0 < value <= MAX_WINDOW_S):
            raise BundleError(
                f"{where}: audio.{key} is {value!r}; expected a number of seconds in (0, {MAX_WINDOW_S:g}]"
            )
    if audio["hop_s"] > audio["window_s"]:
        raise BundleError(
            f"{where}: audio.hop_s {audio['hop_s']} is longer than audio.window_s {audio['window_s']}; audio between "
            "windows would never be scored"
        )
    _get(audio, "frontend", dict, f"{where}: audio")
    scoring = _get(manifest, "scoring", dict, where)
    scale = _get(scoring, "logit_scale", (int, float), f"{where}: scoring")
    if not (math.isfinite(scale) and 0 < scale <= MAX_LOGIT_SCALE):
        raise BundleError(
            f"{where}: scoring.logit_scale is {scale!r}; expected a finite number in (0, {MAX_LOGIT_SCALE:g}] "
            "(CLIP-style models use about 10-100)"
        )
    files = _get(manifest, "files", dict, where)
    if AUDIO_ONNX not in files:
        raise BundleError(f"{where}: files does not list {AUDIO_ONNX}")
    if (TEXT_ONNX in files) != (TOKENIZER in files):
        raise BundleError(f"{where}: {TEXT_ONNX} and {TOKENIZER} come together; the bundle lists only one")
    for name, entry in files.items():
        p = PurePosixPath(name)
        if p.is_absolute() or ".." in p.parts or "\\" in name or name == MANIFEST:
            raise BundleError(f"{where}: bad file name {name!r} in files")
        if p.suffix.lower() in _PICKLE_SUFFIXES:
            raise BundleError(f"{where}: {name} is a pickle-based format; bundles never contain pickles")
        if not isinstance(entry, dict):
            raise BundleError(f"{where}: files[{name!r}] should be an object with sha256 and size")
        _get(entry, "sha256", str, f"{where}: files[{name!r}]")
        _get(entry, "size", int, f"{where}: files[{name!r}]")
    return manifest


def verify_files(root: Path, manifest: dict[str, Any]) -> None:
    """Check every listed file's size and sha256; refuse unlisted pickles lying in the folder."""
    for name, entry in manifest["files"].items():
        path = root.joinpath(*PurePosixPath(name).parts)
        if path.is_symlink() or not path.is_file():
            raise BundleError(f"{path}: listed in {MANIFEST} but missing (or not a regular file); bundle incomplete")
        size = path.stat().st_size
        if size != entry["size"]:
            raise BundleError(f"{path}: size {size} bytes, manifest says {entry['size']}; the file was altered")
        digest = sha256_file(path)
        if digest != entry["sha256"].lower():
            raise BundleError(f"{path}: sha256 {digest} does not match the manifest ({entry['sha256']}); altered")
    for path in root.rglob("*"):
        if path.suffix.lower() in _PICKLE_SUFFIXES:
            raise BundleError(f"{path}: pickle-based file inside the bundle; bundles never contain pickles")


def _metadata_value_matches(key: str, meta: str, expected: Any) -> bool:
    if key == "frontend":
        try:
            return json.loads(meta) == expected
        except json.JSONDecodeError:
            return False
    if key in ("embed_dim", "sample_rate"):
        return meta.strip() == str(int(expected))
    if key == "window_s":
        try:
            return abs(float(meta) - float(expected)) < 1e-9
        except ValueError:
            return False
    return meta == str(expected)


def check_onnx_metadata(path: Path, metadata: dict[str, str], expected: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Refuse ONNX metadata that is missing a key or disagrees with the manifest."""
    for key in keys:
        full = META_PREFIX + key
        if full not in metadata:
            raise BundleError(
                f"{path}: ONNX metadata lacks {full!r}, so the file does not say what it expects "
                f"(has {sorted(metadata)})"
            )
        if not _metadata_value_matches(key, metadata[full], expected[key]):
            raise BundleError(
                f"{path}: ONNX metadata {full}={metadata[full]!r} disagrees with {MANIFEST} ({expected[key]!r})"
            )


def _varint(buf: Any, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: Any, start: int, end: int) -> Any:
    """(field number, wire type, value or (offset, length)) of one protobuf message, without decoding nested ones."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield field, wire, value
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > end:
                raise ValueError("field runs past the end of the message")
            yield field, wire, (pos, length)
            pos += length
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


_MODEL_METADATA_PROPS = 14  # ModelProto.metadata_props: repeated StringStringEntryProto {key = 1, value = 2}


def onnx_metadata(path: Path) -> dict[str, str]:
    """metadata_props of an ONNX file.

    Read straight from the protobuf wire format through a memory map: the graph (and its weights) is skipped by its
    length, so checking a 90 MB text.onnx costs neither its load time nor its memory, as an ONNX Runtime session
    would. (The engine's own session reads the same values back through ``get_modelmeta()``.)
    """
    import mmap

    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            out: dict[str, str] = {}
            for field, wire, value in _fields(buf, 0, len(buf)):
                if field != _MODEL_METADATA_PROPS or wire != 2:
                    continue
                off, length = value
                entry: dict[int, str] = {}
                for k, w, v in _fields(buf, off, off + length):
                    if w == 2 and k in (1, 2):
                        entry[k] = bytes(buf[v[0] : v[0] + v[1]]).decode("utf-8")
                out[entry.get(1, "")] = entry.get(2, "")
            return out
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: not a readable ONNX model ({exc})") from exc


DEFAULT_BUNDLE_NAME = "default"


def default_bundle_path() -> Path:
    """The built-in bundle shipped inside the package (``slap_edge/assets/default``)."""
    return Path(__file__).resolve().parent / "assets" / DEFAULT_BUNDLE_NAME


def resolve_bundle_path(path: str | Path | None) -> Path:
    """``None`` or ``"default"`` mean the built-in bundle; anything else is a path."""
    if path is None or str(path) == DEFAULT_BUNDLE_NAME:
        builtin = default_bundle_path()
        if not (builtin / MANIFEST).is_file():
            raise BundleError(
                f"{builtin}: this install has no built-in bundle; pass --bundle BUNDLE (a folder or .tar.gz written "
                "by `slap-edge export`)"
            )
        return builtin
    return Path(path)


FRAME_CACHE_KEYS = ("frontend", "encoder", "logmel", "waveform", "embedding")


def _frame_cache_files(bundle: Bundle) -> tuple[str, ...]:
    """The two files ``audio.frame_cache`` names (refused unless the manifest lists them, with all its keys)."""
    entry = bundle.frame_cache
    if entry is None:
        return ()
    where = f"{bundle.root / MANIFEST}: audio.frame_cache"
    if not isinstance(entry, dict) or any(not isinstance(entry.get(k), str) for k in FRAME_CACHE_KEYS):
        raise BundleError(f"{where} must be an object with the strings {', '.join(FRAME_CACHE_KEYS)}; got {entry!r}")
    for key in ("frontend", "encoder"):
        if entry[key] not in bundle.manifest["files"]:
            raise BundleError(f"{where}.{key} names {entry[key]!r}, which the manifest's files do not list")
    return entry["frontend"], entry["encoder"]


def load_bundle(path: str | Path | None, verify: bool = True) -> Bundle:
    """Open a bundle folder or ``.tar.gz`` (``None``/``"default"``: the built-in one); with ``verify`` (the default)
    check checksums and ONNX metadata."""
    path = resolve_bundle_path(path)
    if not path.exists():
        raise BundleError(f"{path}: no such bundle (expected a folder or a .tar.gz)")
    if path.is_dir():
        return _load_root(path, verify)
    try:
        return _load_root(_unpack_cached(path), verify)
    except BundleError as exc:
        # Problems found in the unpacked copy name the archive the user gave, not only the cache folder.
        if str(path) in str(exc):
            raise
        raise BundleError(f"{path}: {exc}") from exc


def _load_root(root: Path, verify: bool) -> Bundle:
    manifest = read_manifest(root)
    model, audio = manifest["model"], manifest["audio"]
    bundle = Bundle(
        root=root,
        manifest=manifest,
        model_id=model["id"],
        model_name=model["name"],
        embed_dim=int(model["embed_dim"]),
        sample_rate=int(audio["sample_rate"]),
        window_s=float(audio["window_s"]),
        hop_s=float(audio["hop_s"]),
        frontend=dict(audio["frontend"]),
        logit_scale=float(manifest["scoring"]["logit_scale"]),
    )
    if verify:
        verify_files(root, manifest)
        expected = {
            "model_id": bundle.model_id,
            "embed_dim": bundle.embed_dim,
            "sample_rate": bundle.sample_rate,
            "window_s": bundle.window_s,
            "frontend": bundle.frontend,
        }
        check_onnx_metadata(bundle.audio_path, onnx_metadata(bundle.audio_path), expected, METADATA_KEYS)
        for half in _frame_cache_files(bundle):
            check_onnx_metadata(root / half, onnx_metadata(root / half), expected, METADATA_KEYS)
        if bundle.text_path is not None:
            check_onnx_metadata(bundle.text_path, onnx_metadata(bundle.text_path), expected, TEXT_METADATA_KEYS)
    return bundle
