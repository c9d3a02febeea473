"""Training data: the corpus decoded once into a cache, a dataset of windows with fresh captions, a balanced sampler.

Decoding thousands of WAV files every epoch would cost more CPU than the model on a two-core machine, so each
corpus split is decoded once into one int16 file (memory-mapped; workers share the page cache). Unreadable clips are
counted and named while building it; more than ``max_bad_fraction`` of them stops training before it starts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from slap_edge.data.captions import clip_seed, make_captions
from slap_edge.data.manifest import ClipRecord, read_manifest, resolve_audio

log = logging.getLogger(__name__)
CACHE_FORMAT = 1


class CorpusError(ValueError):
    """A corpus that cannot be trained on (too many unreadable clips, no clips in the split)."""


class AudioCache:
    """All clips of one split as int16 samples in one memory-mapped file, with per-clip offsets."""

    def __init__(self, data_path: Path, index: dict[str, Any]) -> None:
        self.data_path = data_path
        self.ids: list[str] = index["ids"]
        self.offsets = np.asarray(index["offsets"], dtype=np.int64)
        self.lengths = np.asarray(index["lengths"], dtype=np.int64)
        self.bad: dict[str, str] = index["bad"]
        self.sample_rate: int = index["sample_rate"]
        self._samples: np.ndarray | None = None

    @property
    def samples(self) -> np.ndarray:
        # Opened lazily so each DataLoader worker maps the file itself after the fork.
        if self._samples is None:
            total = int(self.offsets[-1] + self.lengths[-1]) if len(self.ids) else 0
            self._samples = np.memmap(self.data_path, dtype=np.int16, mode="r", shape=(max(total, 1),))
        return self._samples

    def clip(self, i: int) -> np.ndarray:
        start = int(self.offsets[i])
        return self.samples[start : start + int(self.lengths[i])]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_samples": None}


def _cache_key(records: Sequence[ClipRecord], manifest: Path, sample_rate: int) -> str:
    stat = manifest.stat()
    h = hashlib.sha256(f"{CACHE_FORMAT}:{manifest.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{sample_rate}".encode())
    for r in records:
        h.update(r.id.encode())
    return h.hexdigest()[:16]


def build_audio_cache(
    data_dir: Path, records: Sequence[ClipRecord], sample_rate: int, cache_dir: Path, progress: bool = True
) -> AudioCache:
    """Decode ``records`` (mono, resampled to ``sample_rate``) into ``cache_dir``, or reuse a matching cache."""
    from slap_edge.eval.suite import AudioReadError, read_audio

    manifest = data_dir / "manifest.jsonl"
    key = _cache_key(records, manifest, sample_rate)
    index_path = cache_dir / f"audio-{sample_rate}-{key}.json"
    data_path = cache_dir / f"audio-{sample_rate}-{key}.int16"
    if index_path.is_file() and data_path.is_file():
        return AudioCache(data_path, json.loads(index_path.read_text()))
    cache_dir.mkdir(parents=True, exist_ok=True)
    ids, offsets, lengths, bad = [], [], [], {}
    # Unique temporary names: several processes (ranks of another node) may build the same cache at once; each
    # rename is atomic and every builder writes identical bytes.
    tmp = data_path.with_suffix(f".{os.getpid()}.partial")
    offset = 0
    with tmp.open("wb") as handle, _maybe_progress(progress, len(records), "decoding audio") as advance:
        for record in records:
            path = resolve_audio(manifest, record)
            try:
                wave = read_audio(path, sample_rate)
            except (AudioReadError, ValueError) as exc:
                bad[record.id] = str(exc)
                advance()
                continue
            pcm = np.clip(np.round(wave * 32767.0), -32768, 32767).astype(np.int16)
            handle.write(pcm.tobytes())
            ids.append(record.id)
            offsets.append(offset)
            lengths.append(len(pcm))
            offset += len(pcm)
            advance()
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(data_path)
    index = {"ids": ids, "offsets": offsets, "lengths": lengths, "bad": bad, "sample_rate": sample_rate}
    index_tmp = index_path.with_suffix(f".{os.getpid()}.partial")
    index_tmp.write_text(json.dumps(index))
    index_tmp.replace(index_path)
    return AudioCache(data_path, index)


class _maybe_progress:  # noqa: N801 - used as a context manager like a function
    def __init__(self, enabled: bool, total: int, label: str) -> None:
        self.enabled, self.total, self.label = enabled, total, label

    def __enter__(self) -> Any:
        if not self.enabled:
            return lambda: None
        from rich.progress import Progress

        self._progress = Progress(transient=True)
        self._progress.start()
        task = self._progress.add_task(self.label, total=self.total)
        return lambda: self._progress.advance(task)

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self._progress.stop()


def load_split(data_dir: Path, split: str, exclude: Sequence[str] = ()) -> list[ClipRecord]:
    """The clips of ``split``, less those whose engine/voice match a held-out pattern in ``exclude``."""
    records = [r for r in read_manifest(data_dir) if r.split == split]
    if exclude:
        from slap_edge.data.holdout import HoldoutSelector

        selector = HoldoutSelector.parse(",".join(exclude))
        kept = [r for r in records if not selector.matches(r)]
        dropped = len(records) - len(kept)
        log.info("held-out voices %s: %d of %d clips excluded", ",".join(exclude), dropped, len(records))
        records = kept
    if not records:
        raise CorpusError(f"{data_dir / 'manifest.jsonl'}: no clips with split={split!r} (after exclusions)")
    return records


def check_bad_fraction(cache: AudioCache, total: int, max_fraction: float, data_dir: Path) -> None:
    """Stop when too many clips are unreadable; name a few so they can be fixed."""
    n_bad = len(cache.bad)
    if n_bad and n_bad > max_fraction * total:
        examples = "; ".join(f"{k}: {v}" for k, v in list(cache.bad.items())[:3])
        raise CorpusError(
            f"{data_dir}: {n_bad} of {total} clips ({100 * n_bad / total:.1f}%) cannot be read, more than the "
            f"{100 * max_fraction:.1f}% allowed; e.g. {examples}"
        )


def balance_weights(attributes: Sequence[dict[str, Any]], keys: Sequence[str], strength: float) -> np.ndarray:
    """Sampling weights that lift clips with rare attribute values.

    For each attribute a clip has (not null), the factor is ``(n / (K * count(value))) ** strength`` with n clips
    that know the attribute and K values among them; a clip's weight is the mean of its factors (1 when it has none).
    A perfectly balanced attribute gives factor 1; ``strength`` 0 gives uniform sampling. Returns probabilities
    summing to 1.
    """
    counts = {k: Counter(a.get(k) for a in attributes if a.get(k) is not None) for k in keys}
    known = {k: sum(c.values()) for k, c in counts.items()}
    weights = np.ones(len(attributes), dtype=np.float64)
    for i, attrs in enumerate(attributes):
        factors = [
            (known[k] / (len(counts[k]) * counts[k][attrs[k]])) ** strength for k in keys if attrs.get(k) is not None
        ]
        if factors:
            weights[i] = float(np.mean(factors))
    return weights / weights.sum()


def voice_independent_weights(
    weights: np.ndarray, attributes: Sequence[dict[str, Any]], voices: Sequence[str | None], keys: Sequence[str]
) -> np.ndarray:
    """Reweight ``weights`` so that no base voice predicts the attributes ``keys``.

    For each key, the voices with two or more of its values are the ones where it is drawn, not fixed by the voice.
    Within each such voice, a clip with value ``a`` is scaled by ``P(a) / P(a | voice)``, both under the current
    weights, ``P`` pooled over those voices and restricted to the values the voice has: the voice's values then come
    in the pooled proportions and its total weight stays the same. Clips without a voice or a value, and voices with
    a single value, keep their weight. Keys are applied in turn. Returns probabilities summing to 1.
    """
    w = np.asarray(weights, dtype=np.float64).copy()
    for key in keys:
        groups: dict[str, dict[Any, list[int]]] = {}
        for i, (attrs, voice) in enumerate(zip(attributes, voices, strict=True)):
            value = attrs.get(key)
            if voice is not None and value is not None:
                groups.setdefault(voice, {}).setdefault(value, []).append(i)
        drawn = {v: by_value for v, by_value in groups.items() if len(by_value) > 1}
        pooled: Counter[Any] = Counter()
        for by_value in drawn.values():
            for value, idx in by_value.items():
                pooled[value] += float(w[idx].sum())
        for by_value in drawn.values():
            mass = {value: float(w[idx].sum()) for value, idx in by_value.items()}
            total, target_total = sum(mass.values()), sum(pooled[value] for value in by_value)
            for value, idx in by_value.items():
                if mass[value] > 0:
                    w[idx] *= (pooled[value] / target_total) / (mass[value] / total)
    return w / w.sum()


class BalancedBatchSampler:
    """Endless batches of ``(epoch, index)`` for one rank, starting at a given global step.

    Each epoch draws ``len(weights)`` clips with replacement by weight, from a generator seeded by (seed, epoch):
    every rank computes the same draw and takes its own slice of each global batch, and resuming at step s rebuilds
    exactly the batches an uninterrupted run would have seen.
    """

    def __init__(
        self, weights: np.ndarray, batch_size: int, seed: int, start_step: int = 0, rank: int = 0, world: int = 1
    ) -> None:
        self.weights = weights
        self.batch_size, self.seed, self.start_step, self.rank, self.world = batch_size, seed, start_step, rank, world
        self.global_batch = batch_size * world
        self.steps_per_epoch = max(1, len(weights) // self.global_batch)

    def epoch_order(self, epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, epoch, 0x5A])
        n_draw = self.steps_per_epoch * self.global_batch
        return rng.choice(len(self.weights), size=n_draw, replace=True, p=self.weights)

    def epoch_of(self, step: int) -> int:
        return step // self.steps_per_epoch

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        step = self.start_step
        while True:
            epoch, within = divmod(step, self.steps_per_epoch)
            order = self.epoch_order(epoch)
            for s in range(within, self.steps_per_epoch):
                start = s * self.global_batch + self.rank * self.batch_size
                yield [(epoch, int(i)) for i in order[start : start + self.batch_size]]
            step = (epoch + 1) * self.steps_per_epoch


class LogMelCache:
    """Every clip's normalised log-mel, computed once, so training steps skip the front end.

    The front end's frames are not centred (frame i covers samples [i*hop, i*hop + n_fft)), so the frames of a
    window cut at a sample offset that is a multiple of ``hop`` are exactly frames of the whole clip. Each clip is
    stored with ``pad_hops`` hops of silence (at least ``n_fft`` samples) on both sides: then a short clip placed at a
    hop-aligned offset in a silent window also has exactly these frames, and frames of pure silence are
    ``silence``. Stored as float16 (finer than the bf16 the encoder computes in); ``window`` returns float32.
    """

    def __init__(self, mels: list[np.ndarray], pad_hops: int, hop: int, silence: float) -> None:
        self.mels = mels  # [n_mels, frames of the padded clip] each
        self.pad_hops = pad_hops
        self.hop = hop
        self.silence = silence

    def window(self, i: int, offset_hops: int, num_frames: int) -> np.ndarray:
        """Frames [n_mels, num_frames] of a window starting ``offset_hops`` hops into clip i (negative: the clip
        starts ``-offset_hops`` hops into the window, silence before and after it)."""
        mel = self.mels[i]
        first = offset_hops + self.pad_hops  # index in the padded clip of the window's first frame
        out = np.full((mel.shape[0], num_frames), self.silence, dtype=np.float32)
        lo, hi = max(first, 0), min(first + num_frames, mel.shape[1])
        if hi > lo:
            out[:, lo - first : hi - first] = mel[:, lo:hi]
        return out

    @property
    def nbytes(self) -> int:
        return sum(m.nbytes for m in self.mels)


def build_log_mel_cache(cache: AudioCache, frontend: torch.nn.Module, progress: bool = True) -> LogMelCache:
    """Run ``frontend`` (the model's log-mel module; float32, no autocast) once over every clip of ``cache``."""
    cfg = frontend.cfg
    pad_hops = -(-cfg.n_fft // cfg.hop_length)
    pad = np.zeros(pad_hops * cfg.hop_length, dtype=np.float32)
    mels = []
    with torch.inference_mode(), _maybe_progress(progress, len(cache.ids), "log-mel of every clip") as advance:
        silence = float(frontend(torch.zeros(1, cfg.n_fft))[0, 0, 0])
        for i in range(len(cache.ids)):
            pcm = cache.clip(i).astype(np.float32) * (1.0 / 32767.0)
            wave = torch.from_numpy(np.concatenate([pad, pcm, pad]))[None]
            mels.append(frontend(wave)[0].numpy().astype(np.float16))
            advance()
    return LogMelCache(mels, pad_hops, cfg.hop_length, silence)


class ClipDataset(torch.utils.data.Dataset):
    """``dataset[(epoch, i)]``: a random window of clip i and a caption, both fixed by (seed, epoch, i).

    With a ``LogMelCache`` an item holds the window's log-mel (``mel``, [n_mels, frames]) instead of its samples
    (``audio``); the window then starts at a whole number of hops, so its frames are those the front end would give.
    """

    def __init__(
        self,
        cache: AudioCache,
        records: Sequence[ClipRecord],
        window_samples: int,
        seed: int,
        mel: LogMelCache | None = None,
        mel_frames: int = 0,
    ) -> None:
        by_id = {r.id: r for r in records}
        self.cache = cache
        self.records = [by_id[i] for i in cache.ids]
        self.window = window_samples
        self.seed = seed
        self.mel = mel
        self.mel_frames = mel_frames
        if mel is not None and mel_frames <= 0:
            raise ValueError("a log-mel cache needs mel_frames, the frames of one window")

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, item: tuple[int, int]) -> dict[str, Any]:
        epoch, i = item
        record = self.records[i]
        rng = np.random.default_rng([self.seed, epoch, i])
        length = int(self.cache.lengths[i])
        # One placement for both paths, in samples or (with the log-mel cache) in whole hops: a clip longer than the
        # window is cut at ``offset`` units into it; a short clip lands ``-offset`` units into a silent window, at a
        # random place as speech does in a streaming window.
        unit = self.mel.hop if self.mel is not None else 1
        if length >= self.window:
            offset = int(rng.integers(0, (length - self.window) // unit + 1))
        else:
            offset = -int(rng.integers(0, (self.window - length) // unit + 1))
        out: dict[str, Any]
        if self.mel is not None:
            out = {"mel": self.mel.window(i, offset, self.mel_frames)}
        else:
            pcm = self.cache.clip(i)
            audio = np.zeros(self.window, dtype=np.float32)
            if length >= self.window:
                audio[:] = pcm[offset : offset + self.window]
            else:
                audio[-offset : -offset + length] = pcm
            audio *= 1.0 / 32767.0
            out = {"audio": audio}
        caption = make_captions(record.attributes, clip_seed(self.seed, record.id), epoch, 1)[0]
        return out | {
            "caption": caption,
            "index": i,
            "speaker": record.speaker,
            "attributes": record.attributes,
        }


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        **{k: torch.from_numpy(np.stack([it[k] for it in items])) for k in ("audio", "mel") if k in items[0]},
        "captions": [it["caption"] for it in items],
        "index": torch.tensor([it["index"] for it in items], dtype=torch.int64),
        "speakers": [it["speaker"] for it in items],
        "attributes": [it["attributes"] for it in items],
    }


def default_cache_dir(data_dir: Path, run_dir: Path) -> Path:
    """``DATA/.cache`` when the corpus folder is writable (shared by runs), else ``RUN/cache``."""
    target = data_dir / ".cache"
    if os.access(data_dir, os.W_OK):
        return target
    return run_dir / "cache"


class ReplayBatchSampler:
    """The batches a run recorded (``RUN/order-rankR.jsonl``, written with ``record_order``), replayed in order.

    Each line is ``{"step": s, "epoch": e, "index": [clip numbers]}``; batch s is ``[(e, i) for i in index]``. It lets
    the folder loader train on exactly the clips another loader (shards) chose, so the two can be compared step by
    step; the numbers must be this corpus's cache indices (true when no clip is unreadable or excluded).
    """

    def __init__(self, path: Path, start_step: int, n_clips: int) -> None:
        try:
            rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
        except (OSError, json.JSONDecodeError) as exc:
            raise CorpusError(f"{path}: cannot read the recorded order ({exc})") from exc
        self.path = path
        self.rows = [r for r in rows if r["step"] > start_step]
        self.epochs = {int(r["step"]): int(r["epoch"]) for r in rows}
        bad = [i for r in self.rows for i in r["index"] if not 0 <= i < n_clips]
        if bad:
            raise CorpusError(f"{path}: clip number {bad[0]} is outside this corpus's {n_clips} clips")

    def epoch_of(self, step: int) -> int:
        return self.epochs.get(step + 1, 0)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        # Ends with the recording: train no further than the recorded run did (max_steps).
        for row in self.rows:
            yield [(int(row["epoch"]), int(i)) for i in row["index"]]

    def __len__(self) -> int:
        return len(self.rows)
