"""The synthetic corpus: determinism, resumability, splits disjoint by speaker, coverage, clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from slap_edge.data import engines as engines_mod
from slap_edge.data.engines import installed_mbrola_voices
from slap_edge.data.languages import LANGUAGES
from slap_edge.data.manifest import read_manifest, write_manifest
from slap_edge.data.speakers import (
    INTONATION_RANGE,
    INTONATION_SPREAD_ST,
    TIMBRE_FORMANT_RANGE,
    create_speaker,
)
from slap_edge.data.synth import SynthConfig, SynthError, plan_corpus, run_synth

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "audio").rglob("*.wav"))}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[SynthConfig, Path]:
    out = tmp_path_factory.mktemp("corpus")
    config = SynthConfig(out=out, clips=8, seed=11, jobs=1, speakers=8)
    report = run_synth(config)
    assert report.rendered == 8 and not report.failed
    return config, out


def test_clips_follow_the_format(corpus: tuple[SynthConfig, Path]) -> None:
    _, out = corpus
    records = read_manifest(out)
    assert [r.id for r in records] == [f"syn-{i:06d}" for i in range(8)]
    for record in records:
        wave, rate = sf.read(out / record.path, dtype="float32")
        info = sf.info(out / record.path)
        assert rate == 16000 and wave.ndim == 1 and info.subtype == "PCM_16"
        assert 2.0 <= len(wave) / rate <= 6.0
        assert record.duration == pytest.approx(len(wave) / rate, abs=1e-3)
        assert record.engine in ("espeak-ng", "mbrola") and record.voice and record.licence
        assert record.source == "synth" and record.text
        assert record.attributes["age"] is None and record.attributes["health"] is None
        assert np.max(np.abs(wave)) > 0.01


def test_same_seed_gives_the_same_corpus_at_any_job_count(corpus: tuple[SynthConfig, Path], tmp_path: Path) -> None:
    config, out = corpus
    again = SynthConfig(out=tmp_path / "again", clips=8, seed=11, jobs=2, speakers=8)
    run_synth(again)
    assert (tmp_path / "again" / "manifest.jsonl").read_text() == (out / "manifest.jsonl").read_text()
    assert _files(tmp_path / "again") == _files(out)
    other = plan_corpus(SynthConfig(out=tmp_path / "x", clips=8, seed=12, speakers=8))
    assert [p.speaker.id for p in other] != [p.speaker.id for p in plan_corpus(config)]


def test_rerun_skips_finished_clips_and_repairs_half_written_ones(
    corpus: tuple[SynthConfig, Path], tmp_path: Path
) -> None:
    _, out = corpus
    work = tmp_path / "work"
    shutil.copytree(out, work)
    reference = _files(out)
    records = read_manifest(work)
    # An interrupted run: the manifest knows four clips, clip 2's WAV is gone, a temp file is left half-written.
    write_manifest(records[:4], work / "manifest.jsonl")
    (work / records[2].path).unlink()
    (work / records[6].path).unlink()
    partial = work / "audio" / "000" / "syn-000006.wav.partial"
    partial.write_bytes(b"RIFF\x00\x00")
    report = run_synth(SynthConfig(out=work, clips=8, seed=11, jobs=1, speakers=8))
    assert report.skipped == 3 and report.rendered == 5
    assert not partial.exists()
    assert _files(work) == reference
    assert (work / "manifest.jsonl").read_text() == (out / "manifest.jsonl").read_text()
    assert run_synth(SynthConfig(out=work, clips=8, seed=11, jobs=1, speakers=8)).rendered == 0


def test_other_settings_in_the_same_folder_are_refused(corpus: tuple[SynthConfig, Path], tmp_path: Path) -> None:
    _, out = corpus
    work = tmp_path / "work"
    shutil.copytree(out, work)
    with pytest.raises(SynthError, match="seed"):
        run_synth(SynthConfig(out=work, clips=8, seed=99, jobs=1, speakers=8))


def test_splits_are_disjoint_by_speaker_and_all_present(tmp_path: Path) -> None:
    plans = plan_corpus(SynthConfig(out=tmp_path, clips=2000, seed=3))
    by_split: dict[str, set[str]] = {"train": set(), "val": set(), "test": set()}
    for plan in plans:
        by_split[plan.speaker.split].add(plan.speaker.id)
    assert all(by_split.values())
    assert not (by_split["train"] & by_split["val"]) and not (by_split["train"] & by_split["test"])
    assert not (by_split["val"] & by_split["test"])
    assert len(by_split["train"]) > 5 * len(by_split["test"])


def test_enough_speakers_languages_and_voice_kinds() -> None:
    mbrola = installed_mbrola_voices()
    speakers = [create_speaker(0, k, "all", mbrola) for k in range(2000)]
    assert len({s.id for s in speakers}) >= 300
    assert len({s.language for s in speakers}) >= 12 and len(LANGUAGES) >= 12
    variants = {s.voice.split("+")[-1] for s in speakers if s.engine == "espeak-ng"}
    for custom in ("slap-child-f", "slap-elderly-m", "slap-breathy-f", "slap-rough-m", "slap-tremor-f"):
        assert custom in variants
    assert {s.quality for s in speakers} == {"modal", "breathy", "whisper", "creaky", "hoarse", "tremor"}
    assert {s.age_group for s in speakers} == {"child", "adult", "elderly"}
    # Ids are stable: the same index and seed give the same speaker.
    assert create_speaker(0, 17, "all", mbrola) == speakers[17]
    if mbrola:
        assert any(s.engine == "mbrola" for s in speakers)
        assert all(s.licence.startswith("MBROLA") for s in speakers if s.engine == "mbrola")
    assert not any(s.engine == "mbrola" for s in (create_speaker(0, k, "espeak", mbrola) for k in range(300)))


def test_old_mbrola_voices_get_markers_of_age_and_every_tremor_goes_through_the_vocoder() -> None:
    mbrola = installed_mbrola_voices()
    speakers = [create_speaker(0, k, "all", mbrola) for k in range(1500)]
    for s in speakers:
        # espeak-ng's elderly variants carry their own flutter, roughness and breath; a recorded voice needs them added.
        assert (s.age_markers > 0) == (s.engine == "mbrola" and s.age_group == "elderly")
        if s.quality == "tremor":
            assert s.quality_by in ("vocoder", "vocoder+variant") and s.needs_vocoder()
    if mbrola:
        assert any(s.age_markers > 0 for s in speakers)
    assert any(s.quality_by == "vocoder+variant" for s in speakers)


def test_timbre_settings_change_only_the_vocal_tract_and_leave_some_unchanged() -> None:
    mbrola = installed_mbrola_voices()
    some = [create_speaker(0, k, "all", mbrola) for k in range(400)]
    every = [create_speaker(0, k, "all", mbrola, timbre="every") for k in range(400)]
    # The default is the original generator: the same speakers as before the option existed.
    assert some == [create_speaker(0, k, "all", mbrola, timbre="some") for k in range(400)]
    assert 0.2 < np.mean([s.formant_scale != 1.0 for s in some]) < 0.5
    lo, hi = TIMBRE_FORMANT_RANGE
    for a, b in zip(some, every, strict=True):
        # Everything the label depends on is drawn before the timbre: only the vocal tract (and so the id) moves.
        assert (a.engine, a.voice, a.language, a.sex, a.age_group, a.quality, a.rate, a.split) == (
            b.engine, b.voice, b.language, b.sex, b.age_group, b.quality, b.rate, b.split
        )  # fmt: skip
        if b.engine == "mbrola" and b.age_group == "child":
            assert b.formant_scale >= 1.08  # a child's shorter vocal tract still wins
        else:
            assert lo <= b.formant_scale <= hi
    # Every speaker goes through the vocoder but for the rare draw that rounds to 1.000.
    assert np.mean([s.needs_vocoder() for s in every]) > 0.98
    assert len({round(s.formant_scale, 2) for s in every}) > 15
    # "mbrola": the recorded voices get the warp, espeak-ng's synthetic ones stay exactly as in "some".
    only = [create_speaker(0, k, "all", mbrola, timbre="mbrola") for k in range(400)]
    for a, b, c in zip(some, every, only, strict=True):
        if c.engine == "espeak-ng":
            assert c.formant_scale == a.formant_scale and c.f0_range == a.f0_range
        else:
            assert c.formant_scale == b.formant_scale
    with pytest.raises(ValueError, match="timbre='all' is not accepted; use one of some, every, mbrola"):
        create_speaker(0, 0, "all", mbrola, timbre="all")
    with pytest.raises(SynthError, match="--timbre 'most' is not accepted"):
        SynthConfig(out=Path("x"), clips=10, timbre="most")


def test_intonation_changes_only_the_f0_excursion_and_off_leaves_speakers_unchanged() -> None:
    mbrola = installed_mbrola_voices()
    off = [create_speaker(3, k, "all", mbrola) for k in range(400)]
    assert off == [create_speaker(3, k, "all", mbrola, intonation="off") for k in range(400)]
    assert all(s.intonation is None for s in off)
    drawn = [create_speaker(3, k, "all", mbrola, intonation="vocoder") for k in range(400)]
    labels = [s.intonation for s in drawn]
    for value in ("monotone", "neutral", "expressive"):
        assert 0.15 < labels.count(value) / len(labels) < 0.45, value  # 0.3, 0.4, 0.3 of the 78 % with a contour
    for a, b in zip(off, drawn, strict=True):
        assert (a.engine, a.voice, a.sex, a.age_group, a.quality, a.rate, a.formant_scale, a.split) == (
            b.engine, b.voice, b.sex, b.age_group, b.quality, b.rate, b.formant_scale, b.split
        )  # fmt: skip
        if b.quality in ("whisper", "creaky"):
            # No F0 contour to speak of: no label, and nothing changed.
            assert b.intonation is None and b.f0_range == a.f0_range and b.id == a.id
        elif b.intonation == "neutral":
            assert b.f0_range == a.f0_range
        else:
            lo, hi = INTONATION_RANGE[b.intonation]
            assert lo <= b.f0_range <= hi and b.needs_vocoder() and b.id != a.id
    with pytest.raises(ValueError, match="intonation='lively' is not accepted; use one of off, vocoder"):
        create_speaker(0, 0, "all", mbrola, intonation="lively")
    with pytest.raises(SynthError, match="--intonation 'on' is not accepted"):
        SynthConfig(out=Path("x"), clips=10, intonation="on")


def test_spread_intonation_keeps_the_labels_and_sets_a_human_scale_spread_for_every_labelled_speaker() -> None:
    mbrola = installed_mbrola_voices()
    off = [create_speaker(3, k, "all", mbrola) for k in range(300)]
    vocoder = [create_speaker(3, k, "all", mbrola, intonation="vocoder") for k in range(300)]
    spread = [create_speaker(3, k, "all", mbrola, intonation="spread") for k in range(300)]
    for a, v, s in zip(off, vocoder, spread, strict=True):
        # The same speaker and the same label as with "vocoder"; only how the contour is set differs.
        assert (s.voice, s.sex, s.age_group, s.quality, s.formant_scale, s.intonation) == (
            v.voice, v.sex, v.age_group, v.quality, v.formant_scale, v.intonation
        )  # fmt: skip
        if s.intonation is None:
            assert s.f0_spread == 0.0 and s.id == a.id and s.quality in ("whisper", "creaky")
        else:
            lo, hi = INTONATION_SPREAD_ST[s.intonation]
            # Neutral speakers go through the vocoder too, so its sound does not tell them apart.
            assert lo <= s.f0_spread <= hi and s.needs_vocoder() and s.f0_range == a.f0_range and s.id != v.id
    assert all(s.f0_spread == 0.0 for s in vocoder + off)


def test_a_spread_target_sets_the_contour_in_semitones() -> None:
    from slap_edge.data.vocoder import VoiceTransform, estimate_f0, f0_spread_semitones, transform_voice

    sr = 16000
    t = np.arange(int(2.5 * sr)) / sr
    # A voiced tone whose F0 glides +-2 semitones around 150 Hz: a spread of about 1.4 semitones.
    f0 = 150.0 * 2 ** (2.0 * np.sin(2 * np.pi * 0.8 * t) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    wave = 0.3 * sum(np.sin(k * phase) / k for k in range(1, 25)) / 2.0
    rng = np.random.default_rng(0)
    measured = {}
    for target in (0.5, 2.5, 5.0):
        out, _ = transform_voice(wave, sr, VoiceTransform(f0_spread_st=target), rng)
        track, _ = estimate_f0(out.astype(np.float64), sr)
        measured[target] = f0_spread_semitones(np.log(track[track > 0]))
    assert abs(measured[2.5] - 2.5) < 0.6 and abs(measured[5.0] - 5.0) < 1.0 and measured[0.5] < 1.0, measured
    assert f0_spread_semitones(np.log(np.full(10, 150.0))) == 0.0


def test_an_intonation_corpus_labels_its_clips_and_the_contours_differ(tmp_path: Path) -> None:
    from slap_edge.data.vocoder import estimate_f0

    config = SynthConfig(out=tmp_path / "c", clips=24, seed=12, jobs=2, speakers=24, intonation="vocoder")
    assert not run_synth(config).failed
    assert json.loads((tmp_path / "c" / "synth.json").read_text())["intonation"] == "vocoder"
    spread: dict[str, list[float]] = {"monotone": [], "expressive": []}
    for record in read_manifest(tmp_path / "c" / "manifest.jsonl"):
        label = record.attributes["intonation"]
        assert label in ("monotone", "neutral", "expressive", None)
        if label in spread and record.attributes["quality"] in ("modal", "breathy"):
            wave, sr = sf.read(tmp_path / "c" / record.path)
            f0, _ = estimate_f0(wave.astype(np.float64), sr)
            voiced = f0[f0 > 0]
            spread[label].append(float(np.std(12 * np.log2(voiced / np.median(voiced)))))
    assert spread["monotone"] and spread["expressive"]
    # Semitones of F0 spread: a squeezed contour is flat, a stretched one wide.
    assert max(spread["monotone"]) < min(spread["expressive"])


def test_every_variant_file_is_found_by_espeak() -> None:
    # espeak-ng silently falls back to its default voice for an unknown variant, so check the files are in place.
    data = engines_mod.espeak_data_path() / "espeak-ng-data" / "voices" / "!v"
    for variant in engines_mod.ESPEAK_VARIANTS:
        assert (data / variant.name).exists(), variant.name


@pytest.mark.skipif(not installed_mbrola_voices(), reason="no MBROLA voice installed")
def test_spanish_mbrola_keeps_unstressed_vowels() -> None:
    spanish = [v for v in installed_mbrola_voices() if v.language == "es"]
    if not spanish:
        pytest.skip("no Spanish MBROLA voice installed")
    speaker = next(
        s
        for k in range(5000)
        if (s := create_speaker(1, k, "all", installed_mbrola_voices())).voice == f"mb-{spanish[0].name}"
    )
    pho = engines_mod.espeak_phonemes(speaker.voice, "como todo lo bueno", "test")
    fixed = engines_mod._fix_phonemes(pho, engines_mod.MBROLA_RENAMES["es"])
    database = str(engines_mod.MBROLA_DIR / spanish[0].name / spanish[0].name)
    result = engines_mod._run(["mbrola", "-e", database, "-", "-.wav"], fixed.encode(), "test")
    assert b"unknown" not in result.stderr
    assert len(engines_mod.synthesize_base(speaker, "como todo lo bueno")) > 8000


def test_missing_espeak_names_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(engines_mod.shutil, "which", lambda name: None)
    with pytest.raises(engines_mod.VoiceError, match="apt-get install -y espeak-ng"):
        run_synth(SynthConfig(out=tmp_path, clips=1))
    with pytest.raises(engines_mod.VoiceError, match="apt-get install -y sox"):
        engines_mod.require_sox()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"clips": 0}, "--clips"),
        ({"jobs": 0}, "--jobs"),
        ({"voices": "festival"}, "espeak"),
        ({"speakers": 0}, "speak"),
    ],
)
def test_bad_settings_are_named(kwargs: dict, message: str, tmp_path: Path) -> None:
    settings = {"out": tmp_path, "clips": 4, **kwargs}
    with pytest.raises(SynthError, match=message):
        SynthConfig(**settings)


def test_stats_counts_everything(corpus: tuple[SynthConfig, Path]) -> None:
    from slap_edge.data.stats import corpus_stats

    _, out = corpus
    stats = corpus_stats(out)
    assert stats.clips == 8 and stats.speakers == 8
    assert sum(stats.attributes["sex"].values()) == 8
    assert sum(row["clips"] for row in stats.splits.values()) == 8
    assert sum(stats.licences.values()) == 8
    assert json.loads(json.dumps(stats.to_dict()))["clips"] == 8


def test_cli_synth_and_stats(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from slap_edge.data.cli import app

    runner = CliRunner()
    out = tmp_path / "c"
    result = runner.invoke(app, ["synth", "--out", str(out), "--clips", "2", "--seed", "1", "--voices", "espeak"])
    assert result.exit_code == 0, result.output
    assert all(r.engine == "espeak-ng" for r in read_manifest(out))
    result = runner.invoke(app, ["stats", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["clips"] == 2
    result = runner.invoke(app, ["synth", "--out", str(out), "--clips", "2", "--voices", "bad"])
    assert result.exit_code == 2 and "bad" in result.output


@pytest.mark.parametrize("locale", [lang.faker_locale for lang in LANGUAGES])
def test_sentences_come_from_the_locale(locale: str) -> None:
    from slap_edge.data.sentences import make_sentence

    first = make_sentence(locale, 7, np.random.default_rng(5))
    assert first == make_sentence(locale, 7, np.random.default_rng(5))
    assert first != make_sentence(locale, 7, np.random.default_rng(6))
    words = first.rstrip(".").split()
    assert len(words) >= 7 and not any(c.isdigit() for c in first)
    # Faker's Latin lorem is its fallback for locales without a word list; it must never be spoken.
    assert not {"lorem", "ipsum", "dolor", "amet", "necessitatibus"} & {w.lower() for w in words}
