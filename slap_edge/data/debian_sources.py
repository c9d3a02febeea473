"""Readers of the real human speech that Debian packages carry, for ``slap_edge.data.importers``.

SRC is a folder into which the packages were unpacked (``dpkg -x PKG.deb SRC`` or ``dpkg -x PKG.deb SRC/PKG``, one
or several packages), or ``/`` where they are installed:

- ``asterisk``: ``asterisk-core-sounds-{en,es,fr,it,ru}-wav``: ``usr/share/asterisk/sounds/<ll>_<CC>_<f|m>_<Name>/``
  (8 kHz telephone prompts). Language, country, sex and voice name come from the folder name the package gives
  each voice; the licence from the ``Files:`` stanza of the package's ``usr/share/doc/<pkg>/copyright`` that
  matches the language (``fr-*``, ``ru-*``, ``it-*``, else ``*``).
- ``hedgewars``: ``hedgewars-data``: ``usr/share/games/hedgewars/Data/Sounds/voices/<Pack>/*.ogg``. A pack's
  language and accent come from :data:`HEDGEWARS_PACKS`, a table written from the package's own changelog
  (``usr/share/doc/hedgewars-data/changelog.gz``) and pack names; sex and age are never stated, so they stay null.
- ``klettres``: ``klettres-data``: ``usr/share/klettres/<code>/sounds.xml`` lists every letter and syllable
  recording with its text. The language is the ``<language code>``; the few speaker facts the package states
  (:data:`KLETTRES_SPEAKERS`) come from comments in ``sounds.xml`` and the handbook's credits.

Non-speech files (tones, silence, grunts, coughs) and recordings the package itself says are synthetic are skipped
and listed in the import report, like any other row that cannot be used. docs/real-voices.md tells, per source,
what the metadata says about each speaker and in which file.
"""

from __future__ import annotations

import fnmatch
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from slap_edge.data.importers import ImporterError, ImportProblem, _attributes, _Candidate, _safe_id
from slap_edge.data.languages import language_name
from slap_edge.data.real_voices import dev_split

# --- debian/copyright (DEP-5) --------------------------------------------------------------------------------------


def read_copyright(path: Path) -> list[tuple[tuple[str, ...], str]]:
    """The ``Files:`` stanzas of a machine-readable debian/copyright as (patterns, licence short name), in file
    order. Raises ImporterError naming the file when it has none."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ImporterError(f"{path}: cannot read the package's copyright file ({exc})") from exc
    stanzas: list[tuple[tuple[str, ...], str]] = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, list[str]] = {}
        key = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key is not None:
                fields[key].append(line.strip())
            elif ":" in line:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                fields[key] = [value.strip()]
        if "files" in fields and "license" in fields:
            patterns = tuple(p for part in fields["files"] for p in part.split() if p)
            stanzas.append((patterns, fields["license"][0]))
    if not stanzas:
        raise ImporterError(f"{path}: no 'Files:' stanza with a 'License:' (expected a DEP-5 debian/copyright)")
    return stanzas


def licence_of(stanzas: list[tuple[tuple[str, ...], str]], name: str) -> str | None:
    """The licence of the last stanza whose pattern matches ``name`` (DEP-5: the last match wins), else None."""
    found = None
    for patterns, licence in stanzas:
        if any(fnmatch.fnmatchcase(name, p) for p in patterns):
            found = licence
    return found


def _package_roots(src: Path, marker: str, package: str, folder: str) -> list[Path]:
    """Package roots under SRC that hold ``marker`` (a relative path): SRC itself or its immediate subfolders.
    None is an `ImporterError` saying how to unpack ``package`` (into ``folder`` under SRC)."""
    roots = [src] if (src / marker).exists() else []
    roots += sorted(p for p in src.iterdir() if p.is_dir() and (p / marker).exists()) if src.is_dir() else []
    if not roots:
        raise ImporterError(
            f"{src}: no {marker}/ here or in a subfolder; unpack {package} with "
            f"'dpkg -x PKG.deb {src}' (or into {src}/{folder})"
        )
    return roots


def _copyright(root: Path, package_glob: str) -> tuple[Path, list[tuple[tuple[str, ...], str]]]:
    found = sorted((root / "usr/share/doc").glob(f"{package_glob}/copyright"))
    if not found:
        raise ImporterError(
            f"{root}/usr/share/doc/{package_glob}/copyright: missing; unpack the whole package (dpkg -x), not only "
            "its audio, so each clip's licence can be read"
        )
    return found[0], read_copyright(found[0])


# --- asterisk-core-sounds-*-wav ------------------------------------------------------------------------------------

ASTERISK_SOUNDS = "usr/share/asterisk/sounds"
# <language>_<COUNTRY>_<sex>_<Name>, as the packages name each voice's folder.
ASTERISK_VOICE = re.compile(r"^(?P<lang>[a-z]{2,3})_(?P<country>[A-Z]{2})_(?P<sex>[a-z])_(?P<name>[A-Za-z0-9]+)$")
ASTERISK_SEX = {"f": "female", "m": "male"}
# The country in the folder name is the accent where it is not the language's home country.
ASTERISK_ACCENT = {("en", "US"): "american", ("es", "MX"): "mexican", ("fr", "CA"): "canadian"}
# Files that hold no speech: beeps and tones (by name) and the silence/ folder.
ASTERISK_NOT_SPEECH = frozenset({"beep", "beeperr", "ascending-2tone", "descending-2tone"})


def read_asterisk(src: Path) -> Iterator[_Candidate | ImportProblem]:
    roots = _package_roots(src, ASTERISK_SOUNDS, "asterisk-core-sounds-LL-wav", "PKG")
    for root in roots:
        copyright_path, stanzas = _copyright(root, "asterisk-core-sounds-*")
        for voice_dir in sorted(p for p in (root / ASTERISK_SOUNDS).iterdir() if p.is_dir()):
            match = ASTERISK_VOICE.match(voice_dir.name)
            where = str(voice_dir)
            if match is None:
                reason = f"voice folder {voice_dir.name!r} is not <language>_<COUNTRY>_<f|m>_<Name>"
                yield ImportProblem(where, None, reason, "unknown value")
                continue
            lang, country = match["lang"], match["country"]
            problems = []
            if match["sex"] not in ASTERISK_SEX:
                problems.append(f"sex {match['sex']!r} in the folder name is not f or m")
            if language_name(lang) is None:
                problems.append(f"language {lang!r} has no entry in the language table (slap_edge.data.languages)")
            licence = licence_of(stanzas, f"{lang}-core-sounds")
            if licence is None:
                problems.append(f"no Files: stanza of {copyright_path} covers language {lang!r}")
            if problems:
                yield ImportProblem(where, None, "; ".join(problems), "unknown value")
                continue
            speaker = f"asterisk-{match['name'].lower()}"
            attrs = _attributes(
                sex=ASTERISK_SEX[match["sex"]],
                language=lang,
                accent=ASTERISK_ACCENT.get((lang, country)),
                channel="telephone",  # telephony prompts, recorded and shipped at 8 kHz
            )
            for audio in sorted(voice_dir.rglob("*.wav")):
                rel = audio.relative_to(voice_dir)
                if rel.parts[0] == "silence" or audio.stem in ASTERISK_NOT_SPEECH:
                    yield ImportProblem(str(audio), None, "a tone or silence, not speech", "not speech")
                    continue
                yield _Candidate(
                    id=f"asterisk-{voice_dir.name}-{_safe_id(rel.with_suffix('').as_posix())}",
                    audio=audio,
                    speaker=speaker,
                    attributes=dict(attrs),
                    where=(str(audio), None),
                    split=dev_split(speaker),
                    voice=f"asterisk/{voice_dir.name}",
                    licence=licence,
                )


# --- hedgewars-data ------------------------------------------------------------------------------------------------

HEDGEWARS_VOICES = "usr/share/games/hedgewars/Data/Sounds/voices"
# Pack -> (language, accent). The changelog (usr/share/doc/hedgewars-data/changelog.gz) says "New voice: Default_pl
# (Polish)", "New voice: Russian_pl (Polish with a Russian accent)", "Russian localisation of Default voice",
# "Ukranian localization of Default voice", "Append _qau to voicepack name to enable automatic selection of voicepack
# language" and "Fix English voicepack selection": a _xx suffix is the xx-language version of a pack, and a pack
# without one is English. The accent is named only where a pack's name or its changelog line states it.
HEDGEWARS_PACKS: dict[str, tuple[str, str | None]] = {
    "Default": ("en", None),
    "British": ("en", "british"),
    "Classic": ("en", None),
    "HillBilly": ("en", None),
    "Mobster": ("en", None),
    "Pirate": ("en", None),
    "Robot": ("en", None),
    "Russian": ("en", "russian"),
    "Singer": ("en", None),
    "Surfer": ("en", None),
    "Default_es": ("es", None),
    "Default_pl": ("pl", None),
    "Default_ru": ("ru", None),
    "Default_uk": ("uk", None),
    "Russian_pl": ("pl", "russian"),
}
# Taunts that are sounds, not words (the file names say so): grunts, jumps, pain, laughter, coughs, hums.
HEDGEWARS_NOT_SPEECH = re.compile(r"^(Firepunch\d|Jump\d|Ooff\d|Ow\d|Laugh|PoisonCough|PoisonMoan|Hmm)$", re.I)
HEDGEWARS_LICENCE_PATH = "share/hedgewars/Data/Sounds/voices"  # how debian/copyright names the folder


def read_hedgewars(src: Path) -> Iterator[_Candidate | ImportProblem]:
    roots = _package_roots(src, HEDGEWARS_VOICES, "hedgewars-data", "hedgewars-data")
    for root in roots:
        copyright_path, stanzas = _copyright(root, "hedgewars-data")
        for pack_dir in sorted(p for p in (root / HEDGEWARS_VOICES).iterdir() if p.is_dir()):
            pack = pack_dir.name
            if pack not in HEDGEWARS_PACKS:
                accepted = ", ".join(HEDGEWARS_PACKS)
                reason = f"voice pack {pack!r} is not in the table of packs whose language is documented ({accepted})"
                yield ImportProblem(str(pack_dir), None, reason, "unknown value")
                continue
            language, accent = HEDGEWARS_PACKS[pack]
            speaker = f"hedgewars-{pack.lower()}"
            for audio in sorted(pack_dir.glob("*.ogg")):
                if HEDGEWARS_NOT_SPEECH.match(audio.stem):
                    yield ImportProblem(str(audio), None, "a non-verbal sound (by its file name)", "not speech")
                    continue
                licence = licence_of(stanzas, f"{HEDGEWARS_LICENCE_PATH}/{pack}/{audio.name}")
                if licence is None:
                    reason = f"no Files: stanza of {copyright_path} covers it"
                    yield ImportProblem(str(audio), None, reason, "unknown value")
                    continue
                yield _Candidate(
                    id=f"hedgewars-{_safe_id(pack)}-{_safe_id(audio.stem)}",
                    audio=audio,
                    speaker=speaker,
                    attributes=_attributes(language=language, accent=accent),
                    where=(str(audio), None),
                    split=dev_split(speaker),
                    voice=f"hedgewars/{pack}",
                    licence=licence,
                )


# --- klettres-data -------------------------------------------------------------------------------------------------

KLETTRES_ROOT = "usr/share/klettres"
# Facts the package states about a folder's speaker; every other attribute stays null.
KLETTRES_SPEAKERS: dict[str, dict[str, Any]] = {
    # ar/sounds.xml: "Staring Rafik, my little nephew's voice. :)"
    "ar": {"sex": "male", "age_group": "child"},
}
# Folders whose sounds.xml says the recordings are not a person's voice.
KLETTRES_SYNTHETIC = {
    "nn": "sounds.xml says the files were generated with the CereVoice Cloud text-to-speech service",
}
# Region in a folder code -> accent (the manifest's language is the part before '_').
KLETTRES_ACCENT = {"en_GB": "british", "pt_BR": "brazilian"}


def _klettres_language(code: str) -> tuple[str | None, str | None, str]:
    base = code.split("_", 1)[0].lower()
    if language_name(base) is None:
        return None, None, f"language code {code!r} has no entry in the language table (slap_edge.data.languages)"
    return base, KLETTRES_ACCENT.get(code), ""


def read_klettres(src: Path) -> Iterator[_Candidate | ImportProblem]:
    roots = _package_roots(src, KLETTRES_ROOT, "klettres-data", "klettres-data")
    for root in roots:
        copyright_path, stanzas = _copyright(root, "klettres-data")
        base = root / KLETTRES_ROOT
        for xml_path in sorted(base.glob("*/sounds.xml")):
            folder = xml_path.parent.name
            try:
                tree = ET.parse(xml_path)
            except ET.ParseError as exc:
                line = exc.position[0] if exc.position else None
                yield ImportProblem(str(xml_path), line, f"not well-formed XML ({exc})", "malformed line")
                continue
            language_el = tree.getroot().find("language")
            code = (language_el.get("code") if language_el is not None else None) or folder
            language, accent, why = _klettres_language(code)
            sounds = tree.getroot().iter("sound")
            speaker = f"klettres-{code.lower()}"
            attrs = _attributes(language=language, accent=accent, **KLETTRES_SPEAKERS.get(code, {}))
            licence = licence_of(stanzas, f"data/{code}/sounds.xml")
            # ElementTree keeps no line numbers, so a problem names the <sound> by its position and file.
            for number, sound in enumerate(sounds, 1):
                rel, text = sound.get("file"), sound.get("name")
                which = f"<sound> #{number} (file={rel!r}, name={text!r})"
                problem = None
                if not rel:
                    problem = ImportProblem(str(xml_path), None, f"{which} has no file attribute", "malformed line")
                elif code in KLETTRES_SYNTHETIC:
                    problem = ImportProblem(
                        str(xml_path), None, f"{which}: {KLETTRES_SYNTHETIC[code]}", "not human speech"
                    )
                elif why:
                    problem = ImportProblem(str(xml_path), None, f"{which}: {why}", "unknown value")
                elif licence is None:
                    reason = f"{which}: no Files: stanza of {copyright_path} covers it"
                    problem = ImportProblem(str(xml_path), None, reason, "unknown value")
                if problem is not None:
                    yield problem
                    continue
                rel_path = Path(rel)
                yield _Candidate(
                    id=f"klettres-{_safe_id(code)}-{_safe_id(rel_path.with_suffix('').as_posix())}",
                    audio=base / rel_path,
                    speaker=speaker,
                    attributes=dict(attrs),
                    where=(str(xml_path), None),  # missing or unreadable audio is named by its path
                    text=text or None,
                    split=dev_split(speaker),
                    voice=f"klettres/{code}",
                    licence=licence,
                )
