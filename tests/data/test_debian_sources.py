"""Importers of the Debian packages' real speech (asterisk, hedgewars, klettres) on small trees laid out as
``dpkg -x`` leaves them, with copyright files and sounds.xml written here and tiny tones as audio; and the
real-voice dev suite built from such a tree."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from slap_edge.data.debian_sources import licence_of, read_copyright
from slap_edge.data.importers import ImporterError, import_corpus
from slap_edge.data.manifest import read_manifest
from slap_edge.data.real_voices import DEV_SPEAKERS, dev_split

ASTERISK_COPYRIGHT = """Format: http://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: asterisk-core-sounds

Files: *
Copyright: 2003-2010, Allison Smith
Comment: The CREDITS file:
 Recorded by:
 Allison Smith (http://www.theivrvoice.com)
 License: CC-BY-SA-3.0
License: CC-BY-SA-3.0

Files: fr-*
Copyright: 2006-2008, June Wallack
License: CC-BY-SA-3.0

Files: ru-*
Copyright: 2010, Maxim
License: CC-BY-3.0

Files: it-*
Copyright: 2012 Carlo Flora
License: CC-BY-3.0

Files: debian/*
Copyright: 2010, Tzafrir Cohen
License: GPL-2+
"""
HEDGEWARS_COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 2004-2018 Andrey Korotaev
License: GPL-2

Files: share/hedgewars/Data/Sounds/*
Copyright:
	2004, 2005, 2006 Andrey Korotaev
License: GFDL-1.3

Files: share/hedgewars/Data/Sounds/Droplet*.ogg
Copyright: saugox (found on freesound.org)
License: CC-BY-SA-3.0
"""
KLETTRES_COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 2001-2011, Anne-Marie Mahfouf
License: GPL-2+

Files: doc/*
Copyright: 2001-2007, Anne-Marie Mahfouf
License: GFDL-NIV-1.2+
"""


def _tone(path: Path, rate: int = 8000, seconds: float = 0.4, f0: float = 200.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(rate * seconds)) / rate
    wave = (0.2 * np.sin(2 * np.pi * f0 * t)).astype(np.float32)
    fmt, subtype = ("OGG", "VORBIS") if path.suffix == ".ogg" else ("WAV", "PCM_16")
    sf.write(str(path), wave, rate, format=fmt, subtype=subtype)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _asterisk(src: Path, lang: str, voice: str, files: list[str]) -> Path:
    root = src / f"asterisk-core-sounds-{lang}-wav"
    _write(root / f"usr/share/doc/asterisk-core-sounds-{lang}-wav/copyright", ASTERISK_COPYRIGHT)
    for name in files:
        _tone(root / "usr/share/asterisk/sounds" / voice / name)
    return root


def _hedgewars(src: Path, packs: dict[str, list[str]]) -> Path:
    root = src / "hedgewars-data"
    _write(root / "usr/share/doc/hedgewars-data/copyright", HEDGEWARS_COPYRIGHT)
    for pack, files in packs.items():
        for name in files:
            _tone(root / "usr/share/games/hedgewars/Data/Sounds/voices" / pack / name, rate=44100)
    return root


def _sounds_xml(code: str, sounds: list[tuple[str, str]], comment: str = "") -> str:
    items = "\n".join(f'    <sound name="{name}" file="{file}" />' for name, file in sounds)
    return (
        f'<!--\n  {comment}\n-->\n<klettres>\n  <language code="{code}">\n'
        f"    <menuitem><label>x</label></menuitem>\n    <alphabet>\n{items}\n"
        "    </alphabet>\n  </language>\n</klettres>\n"
    )


def _klettres(src: Path, folders: dict[str, list[tuple[str, str]]], audio: bool = True) -> Path:
    root = src / "klettres-data"
    _write(root / "usr/share/doc/klettres-data/copyright", KLETTRES_COPYRIGHT)
    base = root / "usr/share/klettres"
    for code, sounds in folders.items():
        _write(base / code / "sounds.xml", _sounds_xml(code, sounds))
        if audio:
            for _, file in sounds:
                _tone(base / file, rate=22050)
    return root


def _problems(out: Path) -> list[tuple[str, str]]:
    report = json.loads((out / "import_report.json").read_text())
    return sorted((Path(p["file"]).name, p["kind"]) for p in report["problems"])


def test_copyright_stanzas_last_match_wins(tmp_path: Path) -> None:
    path = tmp_path / "copyright"
    _write(path, ASTERISK_COPYRIGHT)
    stanzas = read_copyright(path)
    assert stanzas[0] == (("*",), "CC-BY-SA-3.0") and len(stanzas) == 5
    assert licence_of(stanzas, "en-core-sounds") == "CC-BY-SA-3.0"
    assert licence_of(stanzas, "ru-core-sounds") == "CC-BY-3.0"
    assert licence_of(stanzas, "debian/rules") == "GPL-2+"
    _write(path, "Format: x\n\nUpstream-Name: y\n")
    with pytest.raises(ImporterError, match="no 'Files:' stanza"):
        read_copyright(path)


def test_asterisk_labels_from_folder_names_and_licence_per_language(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _asterisk(src, "fr", "fr_CA_f_June", ["bonjour.wav", "digits/1.wav", "beep.wav", "silence/1.wav"])
    ru = _asterisk(src, "ru", "ru_RU_f_IvrvoiceRU", ["privet.wav"])
    sf.write(str(ru / "usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU/empty.wav"), np.zeros(0, np.float32), 8000)
    (ru / "usr/share/asterisk/sounds/notavoice").mkdir()
    out = tmp_path / "out"
    report = import_corpus("asterisk", src, out)
    records = {r.id: r for r in read_manifest(out)}
    assert sorted(records) == [
        "asterisk-fr_CA_f_June-bonjour",
        "asterisk-fr_CA_f_June-digits_1",
        "asterisk-ru_RU_f_IvrvoiceRU-privet",
    ]
    june = records["asterisk-fr_CA_f_June-bonjour"]
    assert june.speaker == "asterisk-june" and june.split == "test" and june.voice == "asterisk/fr_CA_f_June"
    assert june.licence == "CC-BY-SA-3.0" and june.sample_rate == 8000
    assert june.attributes["sex"] == "female" and june.attributes["language"] == "fr"
    assert june.attributes["accent"] == "canadian" and june.attributes["channel"] == "telephone"
    assert june.attributes["age_group"] is None and june.attributes["pitch"] is None
    ivr = records["asterisk-ru_RU_f_IvrvoiceRU-privet"]
    assert ivr.licence == "CC-BY-3.0" and ivr.attributes["accent"] is None and ivr.attributes["language"] == "ru"
    assert report.imported == 3 and _problems(out) == [
        ("1.wav", "not speech"),
        ("beep.wav", "not speech"),
        ("empty.wav", "unreadable audio"),
        ("notavoice", "unknown value"),
    ]


def test_asterisk_needs_the_copyright_file_and_the_sounds_folder(tmp_path: Path) -> None:
    root = _asterisk(tmp_path / "src", "it", "it_IT_m_Carlo", ["ciao.wav"])
    (root / "usr/share/doc/asterisk-core-sounds-it-wav/copyright").unlink()
    with pytest.raises(ImporterError, match="copyright: missing"):
        import_corpus("asterisk", tmp_path / "src", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImporterError, match="no usr/share/asterisk/sounds/"):
        import_corpus("asterisk", tmp_path / "empty", tmp_path / "out")


def test_hedgewars_packs_from_the_documented_table(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _hedgewars(
        src,
        {
            "Default": ["Hello.ogg", "Ow1.ogg", "Firepunch3.ogg"],
            "Russian_pl": ["Hello.ogg"],
            "British": ["Amazing.ogg"],
            "Klingon": ["Hello.ogg"],
        },
    )
    out = tmp_path / "out"
    import_corpus("hedgewars", src, out)
    records = {r.id: r for r in read_manifest(out)}
    assert sorted(records) == ["hedgewars-British-Amazing", "hedgewars-Default-Hello", "hedgewars-Russian_pl-Hello"]
    default = records["hedgewars-Default-Hello"]
    assert default.attributes["language"] == "en" and default.attributes["sex"] is None
    assert default.licence == "GFDL-1.3" and default.split == "test" and default.speaker == "hedgewars-default"
    polish = records["hedgewars-Russian_pl-Hello"]
    assert polish.attributes["language"] == "pl" and polish.attributes["accent"] == "russian"
    assert polish.split == "test"
    british = records["hedgewars-British-Amazing"]
    assert british.attributes["accent"] == "british" and british.split == "train"
    assert _problems(out) == [("Firepunch3.ogg", "not speech"), ("Klingon", "unknown value"), ("Ow1.ogg", "not speech")]


def test_klettres_reads_sounds_xml_and_the_stated_speaker_facts(tmp_path: Path) -> None:
    src = tmp_path / "src"
    root = _klettres(
        src,
        {
            "fr": [("A", "fr/alpha/a.ogg"), ("BA", "fr/syllab/ba.ogg")],
            "ar": [("ا", "ar/alpha/a-01.ogg")],
            "en_GB": [("B", "en_GB/alpha/b.ogg")],
            "nn": [("A", "nn/alpha/U0061.ogg")],
            "nds": [("A", "nds/alpha/a.ogg")],
        },
    )
    (root / "usr/share/klettres/fr/syllab/ba.ogg").unlink()
    _write(root / "usr/share/klettres/xx/sounds.xml", "<klettres><language code='xx'>")
    out = tmp_path / "out"
    import_corpus("klettres", src, out)
    records = {r.id: r for r in read_manifest(out)}
    assert sorted(records) == ["klettres-ar-ar_alpha_a-01", "klettres-en_GB-en_GB_alpha_b", "klettres-fr-fr_alpha_a"]
    letter = records["klettres-fr-fr_alpha_a"]
    assert letter.text == "A" and letter.licence == "GPL-2+" and letter.attributes["language"] == "fr"
    assert letter.split == "test" and letter.speaker == "klettres-fr" and letter.attributes["sex"] is None
    child = records["klettres-ar-ar_alpha_a-01"]
    assert child.attributes["sex"] == "male" and child.attributes["age_group"] == "child" and child.split == "train"
    assert records["klettres-en_GB-en_GB_alpha_b"].attributes["accent"] == "british"
    assert _problems(out) == [
        ("sounds.xml", "malformed line"),
        ("sounds.xml", "missing audio"),
        ("sounds.xml", "not human speech"),
        ("sounds.xml", "unknown value"),
    ]
    report = json.loads((out / "import_report.json").read_text())
    reasons = {p["kind"]: p["reason"] for p in report["problems"]}
    assert "CereVoice" in reasons["not human speech"] and "'nds'" in reasons["unknown value"]
    assert "ba.ogg" in reasons["missing audio"]


def test_dev_split_is_the_committed_list() -> None:
    assert dev_split("asterisk-allison") == "test" and dev_split("hedgewars-british") == "train"
    assert all(dev_split(s) == "test" for s in DEV_SPEAKERS)


def test_real_voice_dev_cli_builds_a_valid_suite(tmp_path: Path) -> None:
    from slap_edge.cli import app

    src = tmp_path / "src"
    _asterisk(src, "fr", "fr_CA_f_June", [f"fr{i}.wav" for i in range(3)])
    _asterisk(src, "it", "it_IT_m_Carlo", [f"it{i}.wav" for i in range(3)])
    codes = ("fr", "it", "de", "ru", "uk")
    sounds = {code: [(f"S{i}", f"{code}/alpha/{i}.ogg") for i in range(3)] for code in codes}
    _klettres(src, sounds)
    _hedgewars(src, {"Pirate": ["Hello.ogg"]})
    out = tmp_path / "dev"
    result = CliRunner().invoke(app, ["data", "real-voice-dev", str(src), "--out", str(out), "--clips-per-class", "4"])
    assert result.exit_code == 0, result.output
    assert "task language_fr_vs_it: fr 4 clips/2 spk, it 4 clips/2 spk" in result.output
    assert "validator ok" in result.output
    suite = json.loads((out / "suite" / "suite.json").read_text())
    assert [t["name"] for t in suite["tasks"]] == ["language_fr_vs_it", "romance_vs_slavic"]
    pooled = [json.loads(line) for line in (out / "suite" / "clips.jsonl").read_text().splitlines()]
    pooled = [c for c in pooled if c["task"] == "romance_vs_slavic"]
    # Wideband only: the 8 kHz Asterisk voices would tell the class by their channel.
    assert {c["speaker"] for c in pooled} == {"klettres-fr", "klettres-it", "klettres-ru", "klettres-uk"}
    record = json.loads((out / "real_voice_dev.json").read_text())
    assert record["train"] == {
        "clips": 4,
        "speakers": 2,
        "by_language": {"de": 3, "en": 1},
        "by_licence": {"GFDL-1.3": 1, "GPL-2+": 3},
    }
    assert "too few speakers" in record["skipped"]["sex"]
    assert len(read_manifest(out / "corpus" / "all")) == 22
