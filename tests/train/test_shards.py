"""Shards (`slap-edge data shard`) and the streaming loader: round trip, exact splitting, resume, corrupt members."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from slap_edge.config import load_config
from slap_edge.data.manifest import read_manifest, resolve_audio, write_manifest
from slap_edge.data.shards import (
    INDEX_NAME,
    ShardError,
    parse_size,
    read_index,
    read_shard_records,
    resolve_shard_source,
    write_shards,
)
from slap_edge.train.checkpoint import read_state
from slap_edge.train.config import TrainRecipe
from slap_edge.train.data import ClipDataset, CorpusError, build_audio_cache
from slap_edge.train.shards import ShardStream
from slap_edge.train.trainer import train

RECIPES = Path(__file__).resolve().parents[2] / "train" / "recipes"
SHARD_SIZE = 1_000_000  # about 20 tone clips a shard: 8 train shards, 2 val


@pytest.fixture(scope="module")
def tone_shards(tone_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tone-shards")
    write_shards(tone_corpus, out, SHARD_SIZE)
    return out


def tiny_recipe(**changes: object) -> TrainRecipe:
    return dataclasses.replace(load_config(TrainRecipe, RECIPES / "teacher-tiny.json"), **changes)


def losses(run: Path) -> dict[int, float]:
    with (run / "metrics.csv").open() as handle:
        return {int(r["step"]): float(r["loss"]) for r in csv.DictReader(handle)}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _stream(shards: Path, **kw: object) -> ShardStream:
    args = {"sample_rate": 16000, "window_samples": 16000, "seed": 3, "batch_size": 8} | kw
    return ShardStream(resolve_shard_source(shards, "train"), "train", **args)  # type: ignore[arg-type]


def _take(stream: ShardStream, n: int) -> list[dict]:
    it = iter(stream)
    return [next(it) for _ in range(n)]


def test_sharding_round_trips_every_clip_and_label(tone_corpus: Path, tone_shards: Path) -> None:
    records = read_manifest(tone_corpus)
    index = read_index(tone_shards)
    assert {s.split for s in index.shards} == {"train", "val"} and len(index.shards) > 4
    seen = {}
    for entry in index.shards:
        assert entry.name.startswith(entry.split + "-") and _sha(tone_shards / entry.name) == entry.sha256
        rows = read_shard_records(tone_shards / entry.name)
        assert len(rows) == entry.clips and all(r.split == entry.split for _, r, _, _ in rows)
        for key, record, ext, audio in rows:
            seen[record.id] = (key, record, ext, audio)
    assert sorted(seen) == sorted(r.id for r in records)
    numbers = {"train": 0, "val": 0}
    for record in records:  # manifest order gives each clip its number within its split
        key, copy, ext, audio = seen[record.id]
        assert copy == record and ext == "wav"
        assert audio == resolve_audio(tone_corpus / "manifest.jsonl", record).read_bytes()
        assert key == f"{record.split}/{numbers[record.split]:09d}"
        numbers[record.split] += 1
    splits = index.to_json()["splits"]
    assert splits["train"]["clips"] == 160 and splits["val"]["clips"] == 32
    total_h = sum(r.duration for r in records) / 3600
    assert splits["train"]["hours"] + splits["val"]["hours"] == pytest.approx(total_h, abs=1e-3)


def test_sharding_is_deterministic_and_resumes(tone_corpus: Path, tone_shards: Path, tmp_path: Path) -> None:
    out = tmp_path / "shards"
    report = write_shards(tone_corpus, out, SHARD_SIZE)
    names = sorted(p.name for p in tone_shards.glob("*.tar"))
    assert report.written == len(names) and sorted(p.name for p in out.glob("*.tar")) == names
    assert all(_sha(out / n) == _sha(tone_shards / n) for n in names)
    # An interrupted run: one shard never written, one left half-written; the index still lists the latter.
    (out / names[1]).unlink()
    data = (out / names[2]).read_bytes()
    (out / names[2]).write_bytes(data[: len(data) // 2])
    again = write_shards(tone_corpus, out, SHARD_SIZE)
    assert again.written == 2 and again.kept == len(names) - 2
    assert all(_sha(out / n) == _sha(tone_shards / n) for n in names)
    assert json.loads((out / INDEX_NAME).read_text()) == json.loads((tone_shards / INDEX_NAME).read_text()) | {
        "source": str(tone_corpus.resolve())
    }


def test_shard_size_and_sources_are_checked(tone_shards: Path) -> None:
    assert parse_size("1GB") == 10**9 and parse_size("256MiB") == 256 * 2**20 and parse_size("5000") == 5000
    for bad in ("1 parsec", "", "10"):
        with pytest.raises(ShardError, match="shard size"):
            parse_size(bad)
    with pytest.raises(ShardError, match="no shards of split 'test'"):
        resolve_shard_source(tone_shards, "test")
    with pytest.raises(ShardError, match="not in its index"):
        resolve_shard_source(str(tone_shards / "train-{000000..000001}.tar::") + str(tone_shards / "x-1.tar"), "train")


def test_brace_pattern_and_pipe_command_read_the_same_clips(tone_shards: Path) -> None:
    n = len(read_index(tone_shards).split_shards("train"))
    pattern = str(tone_shards / f"train-{{000000..{n - 1:06d}}}.tar")
    piped = resolve_shard_source(f"pipe:cat {pattern}", "train")
    assert piped.urls[0] == f"pipe:cat {tone_shards / 'train-000000.tar'}"
    a = _take(_stream(tone_shards), 3)
    b = _take(ShardStream(piped, "train", 16000, 16000, 3, 8), 3)
    for x, y in zip(a, b, strict=True):
        assert x["ids"] == y["ids"] and np.array_equal(x["audio"].numpy(), y["audio"].numpy())


@pytest.mark.parametrize("readers", [1, 3])
def test_ranks_and_readers_see_every_clip_exactly_once_per_epoch(tone_shards: Path, readers: int) -> None:
    world, steps = 2, 10  # 160 clips, global batch 16: 10 steps an epoch
    by_epoch: dict[int, list[int]] = {0: [], 1: []}
    for rank in range(world):
        stream = _stream(tone_shards, rank=rank, world=world, readers=readers)
        assert stream.steps_per_epoch == steps
        # The batches of step s, as a DataLoader with `readers` workers takes them: reader s % readers.
        for epoch in (0, 1):
            per_reader = [list(stream.reader_stream(epoch, r)) for r in range(readers)]
            for s in range(steps):
                batch = per_reader[s % readers][s // readers]
                by_epoch[epoch].extend(batch["index"].tolist())
    for epoch, seen in by_epoch.items():
        assert sorted(seen) == list(range(160)), epoch
    assert by_epoch[0] != by_epoch[1]  # a fresh order every epoch


def test_shard_items_are_the_folder_loaders_items(tone_corpus: Path, tone_shards: Path, tmp_path: Path) -> None:
    records = [r for r in read_manifest(tone_corpus) if r.split == "train"]
    cache = build_audio_cache(tone_corpus, records, 16000, tmp_path / "cache", progress=False)
    folder = ClipDataset(cache, records, 16000, seed=3)
    for batch in _take(_stream(tone_shards), 3):
        for j, n in enumerate(batch["index"].tolist()):
            item = folder[(0, n)]
            assert batch["ids"][j] == records[n].id
            assert np.array_equal(batch["audio"][j].numpy(), item["audio"])
            assert batch["captions"][j] == item["caption"]


def test_resumed_stream_rebuilds_the_same_batches(tone_shards: Path) -> None:
    import torch

    def loader(start: int) -> list[dict]:
        stream = _stream(tone_shards, readers=2, start_step=start)
        dl = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=2)
        it = iter(dl)
        return [next(it) for _ in range(25 - start)]

    whole, resumed = loader(0), loader(17)  # 20 steps an epoch with one rank: the resume crosses into epoch 1
    for a, b in zip(whole[17:], resumed, strict=True):
        assert a["ids"] == b["ids"] and a["captions"] == b["captions"]
        assert np.array_equal(a["audio"].numpy(), b["audio"].numpy())
    first = [i for b in whole[:20] for i in b["index"].tolist()]
    assert sorted(first) == list(range(160))


def _corrupt_member(shards: Path, out: Path, clip_id: str) -> str:
    """Copy ``shards`` to ``out`` with the audio of ``clip_id`` overwritten; returns the sample's name."""
    shutil.copytree(shards, out)
    for entry in read_index(out).shards:
        path = out / entry.name
        for key, record, _, audio in read_shard_records(path):
            if record.id == clip_id:
                data = bytearray(path.read_bytes())
                at = bytes(data).index(audio)
                data[at : at + 64] = b"\x00" * 64  # the RIFF header is gone: not a sound file any more
                path.write_bytes(bytes(data))
                return f"{entry.name}:{key}"
    raise AssertionError(f"{clip_id} is in no shard")


def test_corrupt_member_is_counted_and_skipped(tone_shards: Path, tmp_path: Path) -> None:
    victim = _take(_stream(tone_shards, seed=0), 1)[0]["ids"][0]  # the first clip seed 0 trains on
    where = _corrupt_member(tone_shards, tmp_path / "shards", victim)
    stream = _stream(tmp_path / "shards", seed=0)
    batches = _take(stream, stream.steps_per_epoch)
    bad = {k: v for b in batches for k, v in b["bad"].items()}
    assert list(bad) == [where] and "not readable as audio" in bad[where] and list(batches[0]["bad"]) == [where]
    assert all(len(b["ids"]) == 8 for b in batches) and victim not in {i for b in batches for i in b["ids"]}
    seen = [i for b in batches for i in b["index"].tolist()]
    assert len(seen) == 160 and len(set(seen)) == 159  # a readable clip stands in for the unreadable one

    recipe = tiny_recipe(steps=2, batch_size=8, checkpoint_every=2, max_bad_fraction=0.1)
    result = train(recipe, tmp_path / "shards", tmp_path / "run", device="cpu", progress=False)
    assert result.bad_clips == 1 and read_state(tmp_path / "run")["bad_clips"] == 1
    with pytest.raises(CorpusError, match=r"1 of 8 samples read .* more than the 10\.0% allowed"):
        train(dataclasses.replace(recipe, checkpoint_every=1), tmp_path / "shards", tmp_path / "run2", progress=False)


def test_resume_from_shards_repeats_the_uninterrupted_losses(tone_shards: Path, tmp_path: Path) -> None:
    recipe = tiny_recipe(steps=24, checkpoint_every=100, batch_size=8, warmup_steps=2, num_workers=2)
    train(recipe, tone_shards, tmp_path / "whole", device="cpu", progress=False, max_steps=23)
    train(recipe, tone_shards, tmp_path / "pieces", device="cpu", progress=False, max_steps=18)
    state = read_state(tmp_path / "pieces")
    assert state["step"] == 18 and state["shard_position"]["epoch"] == 0 and state["shard_position"]["batch"] == 18
    result = train(recipe, tone_shards, tmp_path / "pieces", device="cpu", progress=False, resume=True, max_steps=23)
    assert result.start_step == 18 and result.step == 23  # crosses into epoch 1 (20 steps an epoch)
    whole, pieces = losses(tmp_path / "whole"), losses(tmp_path / "pieces")
    for step in range(19, 24):
        assert pieces[step] == pytest.approx(whole[step], rel=1e-4, abs=1e-5), (step, whole, pieces)


def test_held_out_voices_are_skipped_exactly(tone_corpus: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(tone_corpus, corpus)
    records = read_manifest(corpus)
    # Two voices; the held-out one is every third speaker's, so it is spread over the shards.
    voiced = [
        dataclasses.replace(r, engine="espeak-ng", voice="en+m3" if int(r.speaker.rsplit("-", 1)[1]) % 3 == 0 else "de")
        for r in records
    ]
    write_manifest(voiced, corpus / "manifest.jsonl")
    write_shards(corpus, tmp_path / "shards", SHARD_SIZE)
    train_clips = [r for r in voiced if r.split == "train"]
    kept = [n for n, r in enumerate(train_clips) if r.voice != "en+m3"]
    stream = _stream(tmp_path / "shards", exclude=("voice=en+m3",), batch_size=4)
    assert stream.n_clips == len(kept) and stream.excluded == len(train_clips) - len(kept)
    seen = [i for b in stream.reader_stream(0, 0) for i in b["index"].tolist()]
    assert len(seen) == stream.steps_per_epoch * 4 and len(set(seen)) == len(seen) and set(seen) <= set(kept)
    assert len(kept) - len(seen) < 4  # all but the remainder of one batch


def test_data_shard_cli_names_what_it_wrote(tone_corpus: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from slap_edge.cli import app

    result = CliRunner().invoke(app, ["data", "shard", str(tone_corpus), "--out", str(tmp_path), "--shard-size", "1MB"])
    assert result.exit_code == 0, result.output
    assert "shards written" in result.output and "train:" in result.output and "160 clips" in result.output
    bad = CliRunner().invoke(app, ["data", "shard", str(tone_corpus), "--out", str(tmp_path), "--shard-size", "1 GB!"])
    assert bad.exit_code != 0 and "1GB, 500MB" in bad.output
