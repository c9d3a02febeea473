"""Training batches streamed from tar shards (``slap-edge data shard``), split exactly across ranks and workers.

The order of one epoch is fixed by (seed, epoch) alone: the shards are permuted, and their clips (less held-out
voices) form one sequence. Rank r takes the r-th of ``world`` equal contiguous ranges of it, so every clip is seen by
exactly one rank (the last ``N mod global_batch`` clips of the sequence, different ones each epoch, wait for the
next). A rank's range is cut into ``readers`` contiguous chunks (one per DataLoader worker, or one without workers);
reader l owns the rank's batches l, l + readers, ... of the epoch, which is the order in which torch's DataLoader
takes batches from its workers. Each reader opens only the shards its chunk overlaps, skips the clips before the
chunk from the shard index's counts, shuffles with a seeded buffer (webdataset's) and decodes.

A sample that cannot be read (a corrupt audio or json member, a truncated tar) is counted, named in the batch's
``bad`` field and replaced by the next readable sample of the same chunk, so every rank still takes the same number
of steps. Because the batches of step s depend only on (seed, s), resuming at step s rebuilds exactly the batches an
uninterrupted run would have seen: each reader replays its chunk from the start of its first shard, skipping the
samples of earlier steps without decoding them.

A window and caption of clip n in epoch e are drawn exactly as the folder loader (``ClipDataset``) draws those of
its clip n, where n is the clip's number within its split (the key ``SPLIT/NNNNNNNNN``); the two loaders give the
same items when no clip of the split is unreadable or excluded (then the numbers and the cache indices coincide).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from slap_edge.data.captions import clip_seed, make_captions
from slap_edge.data.manifest import ClipRecord, parse_record
from slap_edge.data.shards import ShardError, ShardSource, key_number
from slap_edge.train.data import CorpusError, collate

log = logging.getLogger(__name__)
SHUFFLE_BUFFER = 1000  # samples held per reader (raw bytes: about 1000 x 100 kB for 3 s clips)


def decode_audio(data: bytes, sample_rate: int, where: str) -> np.ndarray:
    """Audio bytes as int16 mono at ``sample_rate``, exactly as the folder loader's cache stores a clip."""
    import soundfile as sf
    import soxr

    try:
        wave, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as exc:
        raise ShardError(f"{where}: not readable as audio ({exc})") from exc
    if wave.shape[0] == 0:
        raise ShardError(f"{where}: audio has no samples")
    mono = wave.mean(axis=1) if wave.shape[1] > 1 else wave[:, 0]
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate, quality="HQ")
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    return np.clip(np.round(mono * 32767.0), -32768, 32767).astype(np.int16)


def clip_window(pcm: np.ndarray, window: int, rng: np.random.Generator) -> np.ndarray:
    """A window of ``window`` samples (float32) cut from int16 ``pcm`` or holding it, placed as ClipDataset does."""
    length = len(pcm)
    audio = np.zeros(window, dtype=np.float32)
    if length >= window:
        offset = int(rng.integers(0, length - window + 1))
        audio[:] = pcm[offset : offset + window]
    else:
        offset = -int(rng.integers(0, window - length + 1))
        audio[-offset : -offset + length] = pcm
    audio *= 1.0 / 32767.0
    return audio


class _BadSampleError(Exception):
    """Internal: one unreadable sample."""


class ShardStream(torch.utils.data.IterableDataset):
    """Endless collated batches for one rank from ``source``, starting at global step ``start_step``.

    ``readers`` must equal the DataLoader's ``num_workers`` (1 when it has none): it fixes the order.
    """

    def __init__(
        self,
        source: ShardSource,
        split: str,
        sample_rate: int,
        window_samples: int,
        seed: int,
        batch_size: int,
        *,
        rank: int = 0,
        world: int = 1,
        readers: int = 1,
        start_step: int = 0,
        exclude: Sequence[str] = (),
        shuffle_buffer: int = SHUFFLE_BUFFER,
    ) -> None:
        self.source, self.split = source, split
        self.sample_rate, self.window, self.seed, self.batch_size = sample_rate, window_samples, seed, batch_size
        self.rank, self.world, self.readers, self.start_step = rank, world, max(1, readers), start_step
        self.shuffle_buffer = shuffle_buffer
        self.selector = None
        if exclude:
            from slap_edge.data.holdout import HoldoutSelector

            self.selector = HoldoutSelector.parse(",".join(exclude))
        # Clips of each shard that are trained on, from the index: what lets a reader skip without reading.
        self.kept = np.array([e.clips - self._excluded(e.voices) for e in source.entries], dtype=np.int64)
        self.n_clips = int(self.kept.sum())
        self.excluded = int(sum(e.clips for e in source.entries) - self.n_clips)
        self.global_batch = batch_size * world
        self.steps_per_epoch = self.n_clips // self.global_batch
        if self.steps_per_epoch == 0:
            raise CorpusError(
                f"{source.spec}: {self.n_clips} clips of split {split!r} (after exclusions) are fewer than one global "
                f"batch ({batch_size} x {world} processes); lower batch_size or use more data"
            )

    def _excluded(self, voices: dict[str, int]) -> int:
        if self.selector is None:
            return 0
        out = 0
        for key, count in voices.items():
            engine, _, voice = key.partition("\t")
            probe = ClipRecord("", "", 1.0, 1, "", "", self.split, {}, engine=engine or None, voice=voice or None)
            out += count if self.selector.matches(probe) else 0
        return out

    def _is_excluded(self, record: ClipRecord) -> bool:
        return self.selector is not None and self.selector.matches(record)

    def epoch_of(self, step: int) -> int:
        return step // self.steps_per_epoch

    # -- the plan of one epoch ----------------------------------------------------------------------------------------

    def shard_order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch, 0x5D]).permutation(len(self.source.entries))

    def reader_batches(self, reader: int) -> list[int]:
        """The rank's batch numbers within an epoch that ``reader`` produces."""
        return list(range(reader, self.steps_per_epoch, self.readers))

    def chunk(self, reader: int) -> tuple[int, int]:
        """(first position, clip count) of ``reader``'s chunk in the epoch's clip sequence."""
        before = sum(len(self.reader_batches(v)) for v in range(reader))
        start = self.rank * self.steps_per_epoch * self.batch_size + before * self.batch_size
        return start, len(self.reader_batches(reader)) * self.batch_size

    def position(self, step: int) -> dict[str, Any]:
        """Where this rank's reader of global step ``step`` stands: epoch, batch and the shard of its next clip."""
        epoch, batch = divmod(step, self.steps_per_epoch)
        reader = batch % self.readers
        start, _ = self.chunk(reader)
        pos = start + (batch - reader) // self.readers * self.batch_size
        order = self.shard_order(epoch)
        ends = np.cumsum(self.kept[order])
        i = int(np.searchsorted(ends, pos, side="right"))
        shard = self.source.entries[int(order[i])].name if i < len(order) else None
        within = int(pos - (ends[i - 1] if i else 0))
        return {"epoch": epoch, "batch": batch, "reader": reader, "shard": shard, "sample": within}

    # -- reading ------------------------------------------------------------------------------------------------------

    def _raw_chunk(self, epoch: int, reader: int, bad: dict[str, str]) -> Iterator[dict[str, Any]]:
        """The raw samples (bytes) of ``reader``'s chunk in epoch order; unreadable json counts as a bad sample."""
        from webdataset.tariterators import group_by_keys, tar_file_expander, url_opener

        start, length = self.chunk(reader)
        stop = start + length
        base = 0
        for shard in self.shard_order(epoch):
            entry, url, n_kept = self.source.entries[shard], self.source.urls[shard], int(self.kept[shard])
            if base + n_kept <= start:
                base += n_kept
                continue
            if base >= stop:
                return
            errors: list[Exception] = []

            def handler(exc: Exception, errors: list[Exception] = errors) -> bool:
                errors.append(exc)
                return False  # a broken tar stream cannot be read past; the shard's remaining clips are lost

            pos = base
            samples = group_by_keys(tar_file_expander(url_opener([{"url": url}], handler=handler), handler=handler))
            for sample in samples:
                if pos >= stop:
                    break
                key = sample.get("__key__", "?")
                where = f"{entry.name}:{key}"
                try:
                    record = parse_record(json.loads(sample["json"]), where)
                except (KeyError, ValueError) as exc:
                    if pos >= start:
                        bad[where] = f"manifest record unreadable ({exc})"
                        yield {"__bad__": where}
                    pos += 1
                    continue
                if record.split != self.split or self._is_excluded(record):
                    continue
                if pos >= start:
                    yield {"__key__": key, "__where__": where, "record": record, "sample": sample}
                pos += 1
            for exc in errors:
                log.warning("%s: %s", url, exc)
            if pos < min(base + n_kept, stop):
                # The shard ended early (truncated or unreadable): its missing clips count as bad samples.
                for j in range(max(pos, start), min(base + n_kept, stop)):
                    where = f"{entry.name}:#{j - base}"
                    bad[where] = f"shard ended early ({errors[-1] if errors else 'fewer clips than its index lists'})"
                    yield {"__bad__": where}
            base += n_kept

    def _item(self, raw: dict[str, Any], epoch: int) -> dict[str, Any]:
        if "__bad__" in raw:
            raise _BadSampleError(raw["__bad__"])
        record: ClipRecord = raw["record"]
        sample = raw["sample"]
        where = raw["__where__"]
        audio_keys = [k for k in sample if not k.startswith("__") and k != "json"]
        if len(audio_keys) != 1:
            raise ShardError(f"{where}: expected one audio member beside the json, found {audio_keys}")
        pcm = decode_audio(sample[audio_keys[0]], self.sample_rate, where)
        n = key_number(raw["__key__"], where)
        rng = np.random.default_rng([self.seed, epoch, n])
        caption = make_captions(record.attributes, clip_seed(self.seed, record.id), epoch, 1)[0]
        return {
            "audio": clip_window(pcm, self.window, rng),
            "caption": caption,
            "index": n,
            "speaker": record.speaker,
            "attributes": record.attributes,
            "id": record.id,
        }

    def reader_stream(self, epoch: int, reader: int, skip_batches: int = 0) -> Iterator[dict[str, Any]]:
        """Collated batches of ``reader`` in ``epoch``, from its ``skip_batches``-th on."""
        import webdataset as wds

        bad: dict[str, str] = {}
        seed = int(np.random.SeedSequence([self.seed, epoch, self.rank, reader, 0x5B]).generate_state(1)[0])
        shuffle = wds.shuffle(self.shuffle_buffer, min(100, self.shuffle_buffer), seed=seed)
        shuffled = shuffle(self._raw_chunk(epoch, reader, bad))
        _, length = self.chunk(reader)
        skip = skip_batches * self.batch_size
        items: list[dict[str, Any]] = []
        pending = 0  # unreadable samples waiting for the next readable one to stand in for them
        reported: dict[str, str] = {}
        last: dict[str, Any] | None = None
        emitted = skip
        for j, raw in enumerate(shuffled):
            if j < skip:
                continue
            try:
                item = self._item(raw, epoch)
            except (_BadSampleError, ShardError, KeyError, ValueError) as exc:
                where = raw.get("__bad__") or raw.get("__where__", "?")
                reported[where] = bad.get(where) or str(exc)
                pending += 1
                continue
            last = item
            for _ in range(pending + 1):
                items.append(item)
                emitted += 1
                if len(items) == self.batch_size:
                    yield self._collate(items, reported)
                    items, reported = [], {}
            pending = 0
        missing = length - emitted
        if missing > 0 and last is None:
            raise CorpusError(
                f"{self.source.spec}: rank {self.rank} reader {reader} of epoch {epoch} found no readable clip in its "
                f"{length} ({'; '.join(f'{k}: {v}' for k, v in list(reported.items())[:3])})"
            )
        for _ in range(max(0, missing)):
            items.append(last)
            if len(items) == self.batch_size:
                yield self._collate(items, reported)
                items, reported = [], {}

    @staticmethod
    def _collate(items: list[dict[str, Any]], bad: dict[str, str]) -> dict[str, Any]:
        return collate(items) | {"ids": [it["id"] for it in items], "bad": dict(bad)}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        if workers != self.readers:
            raise ValueError(f"ShardStream made for {self.readers} readers runs under {workers} DataLoader workers")
        # DataLoader worker d yields this rank's steps start+d, start+d+K, ...; within one epoch those are the
        # batches of a single reader, so each worker streams one reader per epoch.
        step = self.start_step + worker
        while True:
            epoch, batch = divmod(step, self.steps_per_epoch)
            reader = batch % self.readers
            skip = (batch - reader) // self.readers
            for out in self.reader_stream(epoch, reader, skip):
                yield out
                step += self.readers
            if step < (epoch + 1) * self.steps_per_epoch:  # reader_stream yields its full count
                raise CorpusError(f"reader {reader} of epoch {epoch} ended early at step {step}")
