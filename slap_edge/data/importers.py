"""Read real speech corpora into the corpus manifest (``slap_edge.data.manifest``).

Supported layouts (SRC is the folder a user unpacked):

- ``commonvoice``: one Common Voice language folder: ``validated.tsv`` (else ``train/dev/test.tsv``; never the
  unvalidated ``other.tsv``) with the columns client_id, path, sentence, age, gender, accent or accents, locale;
  audio under ``clips/``.
- ``vctk``: ``speaker-info.txt`` (ID AGE GENDER ACCENTS REGION) with ``wav48/pXXX/*.wav`` (version 0.80) or
  ``wav48_silence_trimmed/pXXX/*_mic1.flac`` (version 0.92); transcripts from ``txt/pXXX/*.txt`` where present.
- ``librispeech``: ``SPEAKERS.TXT`` (ID | SEX | SUBSET | MINUTES | NAME) with ``SUBSET/SPEAKER/CHAPTER/*.flac`` and
  ``SPEAKER-CHAPTER.trans.txt``; SRC may be the LibriSpeech folder or one subset inside it.
- ``asterisk``, ``hedgewars``, ``klettres``: the real speech in Debian's asterisk-core-sounds-*-wav, hedgewars-data
  and klettres-data packages, unpacked with ``dpkg -x`` (``slap_edge.data.debian_sources``); their splits come from
  the committed dev-speaker list of ``slap_edge.data.real_voices``, not from a hash.
- ``csv``: a CSV (or ``.tsv``) file with a ``path`` column (relative to the file's folder, or absolute), a
  ``speaker`` column and any of: id, text, split, engine, voice, licence and the manifest attributes.

Values are mapped to the manifest vocabulary only through the explicit tables below. A row whose value is not in a
table, a malformed line, or a clip whose audio is missing or unreadable is skipped, counted and listed (file and
line) in ``OUT/import_report.json``; nothing is dropped silently. Splits are assigned by a hash of the speaker, so
they are disjoint by speaker and stable across runs. Without ``copy`` the manifest points at the audio in SRC by
absolute path; with ``copy`` the audio is converted to 16 kHz mono PCM16 WAV under ``OUT/audio/``.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from slap_edge.data.languages import LANGUAGE_NAMES, language_name
from slap_edge.data.manifest import ATTRIBUTE_VALUES, MANIFEST_NAME, SPLITS, ClipRecord, write_manifest

KINDS = ("commonvoice", "vctk", "librispeech", "csv", "asterisk", "hedgewars", "klettres")
REPORT_NAME = "import_report.json"
LICENCES = {"commonvoice": "CC0-1.0", "vctk": "CC-BY-4.0", "librispeech": "CC-BY-4.0"}

# Values that mean "not known" in any column; they map to None (never guessed).
UNKNOWN_SPELLINGS = frozenset({"", "unknown", "na", "n/a", "none", "null", "nan", "-", "?", "other", "not_given"})

# Common Voice "gender": only the voice-relevant poles become sex; self-descriptions that do not state it are
# unknown, never guessed.
CV_GENDER = {
    "male": "male",
    "male_masculine": "male",
    "female": "female",
    "female_feminine": "female",
    "other": None,
    "intersex": None,
    "transgender": None,
    "non-binary": None,
    "do_not_wish_to_say": None,
}
# Common Voice "age" is a decade. Teens straddle child and adult, so their age group stays unknown.
CV_AGE = {
    "teens": None,
    "twenties": "adult",
    "thirties": "adult",
    "fourties": "adult",  # Common Voice's spelling
    "forties": "adult",
    "fifties": "adult",
    "sixties": "elderly",
    "seventies": "elderly",
    "eighties": "elderly",
    "nineties": "elderly",
}
# Common Voice's older closed "accent" column (v1-v6).
CV_ACCENT = {
    "us": "american",
    "england": "english",
    "canada": "canadian",
    "australia": "australian",
    "scotland": "scottish",
    "ireland": "irish",
    "wales": "welsh",
    "newzealand": "new zealand",
    "indian": "indian",
    "african": "african",
    "malaysia": "malaysian",
    "philippines": "filipino",
    "singapore": "singaporean",
    "hongkong": "hong kong",
    "bermuda": "bermudian",
    "southatlandtic": "south atlantic",  # Common Voice's spelling
    "other": None,
}
# Common Voice locales whose manifest language differs from the part before the hyphen (language, accent).
CV_LOCALE = {
    "zh-hk": ("yue", None),
    "zh-tw": ("zh", "taiwanese"),
    "zh-cn": ("zh", None),
    "rm-sursilv": ("rm", "sursilvan"),
    "rm-vallader": ("rm", "vallader"),
    "es-419": ("es", "latin american"),
}
VCTK_GENDER = {"f": "female", "m": "male"}
VCTK_ACCENT = {
    "english": "english",
    "scottish": "scottish",
    "northernirish": "northern irish",
    "irish": "irish",
    "indian": "indian",
    "welsh": "welsh",
    "american": "american",
    "canadian": "canadian",
    "southafrican": "south african",
    "australian": "australian",
    "newzealand": "new zealand",
    "british": "british",
    "unknown": None,
}
LIBRISPEECH_SEX = {"f": "female", "m": "male"}

# The plain CSV importer: accepted column names (aliases map to manifest keys) and value spellings per attribute.
CSV_COLUMNS = {
    "path": "path",
    "file": "path",
    "speaker": "speaker",
    "speaker_id": "speaker",
    "id": "id",
    "text": "text",
    "transcript": "text",
    "split": "split",
    "engine": "engine",
    "voice": "voice",
    "licence": "licence",
    "license": "licence",
    "sex": "sex",
    "gender": "sex",
    "age_group": "age_group",
    "age": "age",
    "language": "language",
    "lang": "language",
    "accent": "accent",
    "pitch": "pitch",
    "rate": "rate",
    "quality": "quality",
    "voice_quality": "quality",
    "loudness": "loudness",
    "channel": "channel",
    "health": "health",
}
CSV_VALUES: dict[str, dict[str, str]] = {
    "sex": {"female": "female", "f": "female", "woman": "female", "male": "male", "m": "male", "man": "male"},
    "age_group": {"child": "child", "kid": "child", "adult": "adult", "elderly": "elderly", "senior": "elderly"},
    "pitch": {"low": "low", "mid": "mid", "medium": "mid", "average": "mid", "high": "high"},
    "rate": {"slow": "slow", "normal": "normal", "medium": "normal", "average": "normal", "fast": "fast"},
    "quality": {
        "modal": "modal",
        "normal": "modal",
        "breathy": "breathy",
        "whisper": "whisper",
        "whispered": "whisper",
        "creaky": "creaky",
        "vocal fry": "creaky",
        "hoarse": "hoarse",
        "rough": "hoarse",
        "tremor": "tremor",
        "tremulous": "tremor",
    },
    "loudness": {"quiet": "quiet", "soft": "quiet", "normal": "normal", "loud": "loud"},
    "channel": {
        "clean": "clean",
        "studio": "clean",
        "telephone": "telephone",
        "phone": "telephone",
        "noise": "noise",
        "noisy": "noise",
        "reverberant": "reverberant",
        "reverb": "reverberant",
    },
}
# English language names accepted for a CSV language column, besides the codes themselves.
LANGUAGE_BY_NAME = {name.lower(): code for code, name in reversed(LANGUAGE_NAMES.items())}


class ImporterError(ValueError):
    """A corpus that cannot be imported at all (missing index file, missing columns); names the file."""


@dataclasses.dataclass(frozen=True)
class ImportProblem:
    file: str
    line: int | None
    reason: str
    # "malformed line", "unknown value", "missing audio", "unreadable audio", "duplicate", "no speaker", and for the
    # Debian sources "not speech" (tones, silence, grunts) and "not human speech" (text-to-speech the package names)
    kind: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.kind}: {self.reason}"


@dataclasses.dataclass
class ImportReport:
    kind: str
    source: str
    out: str
    imported: int = 0
    problems: list[ImportProblem] = dataclasses.field(default_factory=list)
    splits: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def skipped(self) -> int:
        return len(self.problems)

    def by_kind(self) -> dict[str, int]:
        return dict(Counter(p.kind for p in self.problems).most_common())

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "out": self.out,
            "imported": self.imported,
            "skipped": self.skipped,
            "skipped_by_kind": self.by_kind(),
            "splits": self.splits,
            "problems": [dataclasses.asdict(p) for p in self.problems],
        }


@dataclasses.dataclass(frozen=True)
class _Candidate:
    """A clip read from the corpus index, before its audio is checked."""

    id: str
    audio: Path
    speaker: str
    attributes: dict[str, Any]
    where: tuple[str, int | None]
    text: str | None = None
    split: str | None = None
    engine: str | None = None
    voice: str | None = None
    licence: str | None = None


_Item = _Candidate | ImportProblem


def speaker_split(source: str, speaker: str, val_fraction: float = 0.1, test_fraction: float = 0.1) -> str:
    """The split of ``speaker``: a stable hash, so every clip of a speaker lands in one split on every run."""
    digest = hashlib.sha256(f"{source}\0{speaker}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < test_fraction:
        return "test"
    if u < test_fraction + val_fraction:
        return "val"
    return "train"


def age_group_of(age: float) -> str | None:
    """Age group of an age in years; teenagers stay unknown because they are neither child nor adult voices."""
    if age < 13:
        return "child"
    if age < 18:
        return None
    return "adult" if age < 60 else "elderly"


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _unknown(value: str) -> bool:
    return value.strip().lower() in UNKNOWN_SPELLINGS


def _attributes(**values: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = dict.fromkeys(ATTRIBUTE_VALUES)
    attrs.update(values)
    if attrs.get("age") is not None and attrs.get("age_group") is None:
        attrs["age_group"] = age_group_of(attrs["age"])
    return attrs


def _map(table: dict[str, Any], raw: str, column: str) -> tuple[bool, Any, str]:
    """(ok, value, reason): ``raw`` through ``table`` (case-insensitive); unknown spellings are not ok."""
    key = raw.strip().lower()
    if key in table:
        return True, table[key], ""
    if key in UNKNOWN_SPELLINGS:
        return True, None, ""
    accepted = ", ".join(sorted(k for k in table if k))
    return False, None, f"{column}={raw!r} is not in the table of accepted spellings ({accepted})"


def _field(fields: dict[str, str], name: str) -> str:
    return fields.get(name, "")


# --- Common Voice --------------------------------------------------------------------------------------------------


def _cv_language(locale: str) -> tuple[bool, str | None, str | None, str]:
    key = locale.strip().lower().replace("_", "-")
    if key in CV_LOCALE:
        language, accent = CV_LOCALE[key]
        return True, language, accent, ""
    base = key.split("-", 1)[0]
    if language_name(base) is not None:
        return True, base, None, ""
    return False, None, None, f"locale={locale!r} has no entry in the language table (slap_edge.data.languages)"


def _read_commonvoice(src: Path) -> Iterator[_Item]:
    tsvs = [src / "validated.tsv"] if (src / "validated.tsv").is_file() else []
    if not tsvs:
        tsvs = [src / f"{name}.tsv" for name in ("train", "dev", "test") if (src / f"{name}.tsv").is_file()]
    if not tsvs:
        raise ImporterError(f"{src}: no validated.tsv (or train/dev/test.tsv); is this a Common Voice language folder?")
    seen: set[str] = set()
    for tsv in tsvs:
        with tsv.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            header = next(reader, None)
            if header is None:
                continue
            missing = [c for c in ("client_id", "path") if c not in header]
            if missing:
                raise ImporterError(f"{tsv}:1: header lacks column {missing[0]!r}; found: {', '.join(header)}")
            for row in reader:
                lineno = reader.line_num
                where = (str(tsv), lineno)
                if not any(field.strip() for field in row):
                    continue
                if len(row) != len(header):
                    reason = f"{len(row)} fields, the header has {len(header)}"
                    yield ImportProblem(str(tsv), lineno, reason, "malformed line")
                    continue

                fields = dict(zip(header, row, strict=True))
                get = functools.partial(_field, fields)

                client, rel = get("client_id").strip(), get("path").strip()
                if not client or not rel:
                    yield ImportProblem(str(tsv), lineno, "empty client_id or path", "malformed line")
                    continue
                if rel in seen:  # train/dev/test.tsv never overlap; validated.tsv repeats nothing either
                    yield ImportProblem(str(tsv), lineno, f"clip {rel!r} listed again", "duplicate")
                    continue
                seen.add(rel)
                problems = []
                ok, sex, why = _map(CV_GENDER, get("gender"), "gender")
                if not ok:
                    problems.append(why)
                ok, age_group, why = _map(CV_AGE, get("age"), "age")
                if not ok:
                    problems.append(why)
                accent = None
                if "accents" in fields:  # v7+: free text written by the speaker
                    accent = get("accents").strip() or None
                elif "accent" in fields:
                    ok, accent, why = _map(CV_ACCENT, get("accent"), "accent")
                    if not ok:
                        problems.append(why)
                locale = get("locale") or src.name
                ok, language, locale_accent, why = _cv_language(locale)
                if not ok:
                    problems.append(why)
                if problems:
                    yield ImportProblem(str(tsv), lineno, "; ".join(problems), "unknown value")
                    continue
                clip = rel if rel.endswith((".mp3", ".wav", ".flac", ".ogg")) else rel + ".mp3"
                yield _Candidate(
                    id=f"cv-{_safe_id(Path(clip).stem)}",
                    audio=src / "clips" / clip,
                    speaker=f"cv-{client[:24]}",
                    attributes=_attributes(
                        sex=sex, age_group=age_group, language=language, accent=accent or locale_accent
                    ),
                    where=where,
                    text=get("sentence").strip() or None,
                    licence=LICENCES["commonvoice"],
                )


# --- VCTK ----------------------------------------------------------------------------------------------------------


def _read_vctk(src: Path, mic: str = "mic1") -> Iterator[_Item]:
    info = src / "speaker-info.txt"
    if not info.is_file():
        raise ImporterError(
            f"{info}: missing; a VCTK folder holds speaker-info.txt and wav48/ (or wav48_silence_trimmed/)"
        )
    speakers: dict[str, dict[str, Any]] = {}
    with info.open(encoding="utf-8", errors="replace") as handle:
        for lineno, line in enumerate(handle, 1):
            fields = line.split()
            if not fields or fields[0].upper() == "ID":
                continue
            if len(fields) < 4:
                reason = f"expected ID AGE GENDER ACCENTS [REGION], got {line.strip()!r}"
                yield ImportProblem(str(info), lineno, reason, "malformed line")
                continue
            sid = fields[0] if not fields[0].isdigit() else f"p{fields[0]}"  # 0.80 writes 225, 0.92 p225
            try:
                age = int(fields[1])
            except ValueError:
                yield ImportProblem(str(info), lineno, f"AGE={fields[1]!r} is not a whole number", "malformed line")
                continue
            ok_sex, sex, why_sex = _map(VCTK_GENDER, fields[2], "GENDER")
            ok_acc, accent, why_acc = _map(VCTK_ACCENT, fields[3], "ACCENTS")
            if not (ok_sex and ok_acc):
                reason = "; ".join(w for w in (why_sex, why_acc) if w)
                yield ImportProblem(str(info), lineno, reason, "unknown value")
                continue
            speakers[sid] = {"attrs": _attributes(sex=sex, age=age, language="en", accent=accent), "line": lineno}
    if (src / "wav48").is_dir():
        audio_root, pattern = src / "wav48", "*.wav"
    elif (src / "wav48_silence_trimmed").is_dir():
        audio_root, pattern = src / "wav48_silence_trimmed", f"*_{mic}.flac"
    else:
        raise ImporterError(f"{src}: no wav48/ or wav48_silence_trimmed/ folder with the audio")
    for speaker_dir in sorted(p for p in audio_root.iterdir() if p.is_dir()):
        sid = speaker_dir.name
        for audio in sorted(speaker_dir.glob(pattern)):
            utt = audio.stem.removesuffix(f"_{mic}")
            if sid not in speakers:
                reason = f"speaker {sid!r} has no usable line in speaker-info.txt"
                yield ImportProblem(str(audio), None, reason, "no speaker")
                continue
            txt = src / "txt" / sid / f"{utt}.txt"
            text = txt.read_text(encoding="utf-8", errors="replace").strip() if txt.is_file() else None
            yield _Candidate(
                id=f"vctk-{_safe_id(utt)}",
                audio=audio,
                speaker=f"vctk-{sid}",
                attributes=dict(speakers[sid]["attrs"]),
                where=(str(audio), None),
                text=text or None,
                licence=LICENCES["vctk"],
            )


# --- LibriSpeech ---------------------------------------------------------------------------------------------------


def _read_librispeech(src: Path) -> Iterator[_Item]:
    index = next((p for p in (src / "SPEAKERS.TXT", src.parent / "SPEAKERS.TXT") if p.is_file()), None)
    if index is None:
        raise ImporterError(f"{src}: no SPEAKERS.TXT here or in the parent folder; is this a LibriSpeech folder?")
    speakers: dict[str, str | None] = {}
    with index.open(encoding="utf-8", errors="replace") as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip() or line.lstrip().startswith(";"):
                continue
            fields = [f.strip() for f in line.split("|", 4)]  # names may contain "|"
            if len(fields) < 5 or not fields[0].isdigit():
                reason = f"expected ID | SEX | SUBSET | MINUTES | NAME, got {line.strip()!r}"
                yield ImportProblem(str(index), lineno, reason, "malformed line")
                continue
            ok, sex, why = _map(LIBRISPEECH_SEX, fields[1], "SEX")
            if not ok:
                yield ImportProblem(str(index), lineno, why, "unknown value")
                continue
            speakers[fields[0]] = sex
    # SRC is LibriSpeech/ (subsets inside) or one subset (speakers inside).
    subset_level = (src / "SPEAKERS.TXT").is_file()
    files = sorted(src.glob("*/*/*/*.flac" if subset_level else "*/*/*.flac"))
    transcripts: dict[Path, dict[str, str]] = {}
    for audio in files:
        chapter_dir = audio.parent
        sid = chapter_dir.parent.name
        if chapter_dir not in transcripts:
            transcripts[chapter_dir] = {}
            for trans in chapter_dir.glob("*.trans.txt"):
                for line in trans.read_text(encoding="utf-8", errors="replace").splitlines():
                    key, _, text = line.partition(" ")
                    transcripts[chapter_dir][key] = text.strip()
        if sid not in speakers:
            yield ImportProblem(str(audio), None, f"speaker {sid!r} has no usable line in {index}", "no speaker")
            continue
        yield _Candidate(
            id=f"ls-{_safe_id(audio.stem)}",
            audio=audio,
            speaker=f"ls-{sid}",
            attributes=_attributes(sex=speakers[sid], language="en"),
            where=(str(audio), None),
            text=transcripts[chapter_dir].get(audio.stem) or None,
            licence=LICENCES["librispeech"],
        )


# --- plain CSV -----------------------------------------------------------------------------------------------------


def _csv_value(key: str, raw: str) -> tuple[bool, Any, str]:
    if key in CSV_VALUES:
        return _map(CSV_VALUES[key], raw, key)
    if _unknown(raw):
        return True, None, ""
    text = raw.strip()
    if key == "age":
        try:
            age = float(text)
        except ValueError:
            return False, None, f"age={raw!r} is not a number of years"
        if not 0 <= age <= 120:
            return False, None, f"age={raw!r} is outside [0, 120] years"
        return True, int(age) if age.is_integer() else age, ""
    if key == "language":
        code = text.lower().replace("_", "-")
        if language_name(code) is not None:
            return True, code, ""
        if code in LANGUAGE_BY_NAME:
            return True, LANGUAGE_BY_NAME[code], ""
        return False, None, f"language={raw!r} is neither a known language code nor an English language name"
    if key == "split":
        if text.lower() in SPLITS:
            return True, text.lower(), ""
        aliases = {"dev": "val", "validation": "val", "valid": "val", "eval": "test"}
        if text.lower() in aliases:
            return True, aliases[text.lower()], ""
        return False, None, f"split={raw!r} is not accepted; use {', '.join(SPLITS)}, dev or validation"
    return True, text, ""  # free text: accent, health, engine, voice, licence, text, id


def _read_csv(src: Path) -> Iterator[_Item]:
    if not src.is_file():
        raise ImporterError(f"{src}: not a file; the csv importer takes the CSV file itself")
    delimiter = "\t" if src.suffix.lower() == ".tsv" else ","
    base = src.parent
    with src.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise ImporterError(f"{src}: empty file; expected a header with path and speaker columns")
        keys = []
        for name in header:
            key = CSV_COLUMNS.get(name.strip().lower())
            if key is None:
                accepted = ", ".join(CSV_COLUMNS)
                raise ImporterError(f"{src}:1: unknown column {name!r}; accepted columns: {accepted}")
            keys.append(key)
        for required in ("path", "speaker"):
            if required not in keys:
                raise ImporterError(f"{src}:1: header lacks the {required!r} column; found: {', '.join(header)}")
        if len(set(keys)) != len(keys):
            dup = next(k for k in keys if keys.count(k) > 1)
            raise ImporterError(f"{src}:1: two columns both mean {dup!r}; keep one")
        for row in reader:
            lineno = reader.line_num
            if not any(field.strip() for field in row):
                continue
            if len(row) != len(keys):
                reason = f"{len(row)} fields, the header has {len(keys)}"
                yield ImportProblem(str(src), lineno, reason, "malformed line")
                continue
            values: dict[str, Any] = {}
            problems = []
            for key, raw in zip(keys, row, strict=True):
                ok, value, why = _csv_value(key, raw)
                if not ok:
                    problems.append(why)
                values[key] = value
            if problems:
                yield ImportProblem(str(src), lineno, "; ".join(problems), "unknown value")
                continue
            if not values.get("path") or not values.get("speaker"):
                yield ImportProblem(str(src), lineno, "empty path or speaker", "malformed line")
                continue
            audio = Path(values["path"])
            audio = audio if audio.is_absolute() else base / audio
            attrs = _attributes(**{k: values.get(k) for k in ATTRIBUTE_VALUES})
            yield _Candidate(
                id=_safe_id(values.get("id") or f"csv-{Path(values['path']).with_suffix('')}"),
                audio=audio,
                speaker=values["speaker"],
                attributes=attrs,
                where=(str(src), lineno),
                text=values.get("text"),
                split=values.get("split"),
                engine=values.get("engine"),
                voice=values.get("voice"),
                licence=values.get("licence"),
            )


def _read_debian(kind: str) -> Callable[[Path], Iterator[_Item]]:
    def read(src: Path) -> Iterator[_Item]:
        from slap_edge.data import debian_sources  # it builds on this module's types

        return getattr(debian_sources, f"read_{kind}")(src)

    return read


_READERS: dict[str, Callable[[Path], Iterator[_Item]]] = {
    "commonvoice": _read_commonvoice,
    "vctk": _read_vctk,
    "librispeech": _read_librispeech,
    "csv": _read_csv,
    "asterisk": _read_debian("asterisk"),
    "hedgewars": _read_debian("hedgewars"),
    "klettres": _read_debian("klettres"),
}


def _convert(src: Path, dst: Path, sample_rate: int) -> tuple[float, int]:
    """Write ``src`` as mono PCM16 WAV at ``sample_rate`` to ``dst`` atomically; returns (duration, rate)."""
    import soundfile as sf

    from slap_edge.eval.suite import read_audio

    wave = read_audio(src, sample_rate)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".partial")
    sf.write(str(tmp), wave, sample_rate, subtype="PCM_16", format="WAV")
    os.replace(tmp, dst)
    return len(wave) / sample_rate, sample_rate


def import_corpus(
    kind: str,
    src: str | Path,
    out: str | Path,
    *,
    copy: bool = False,
    sample_rate: int = 16000,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a corpus of ``kind`` from ``src`` into ``out/manifest.jsonl`` and write ``out/import_report.json``.

    ``limit`` stops after that many imported clips (for a quick look at a large corpus). The manifest is written
    atomically, so an interrupted import leaves the previous manifest (or none).
    """
    import soundfile as sf

    if kind not in _READERS:
        raise ImporterError(f"unknown corpus kind {kind!r}; accepted: {', '.join(KINDS)}")
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(f"val_fraction={val_fraction} and test_fraction={test_fraction} must be >= 0, sum < 1")
    src, out = Path(src), Path(out)
    if not src.exists():
        raise ImporterError(f"{src}: does not exist")
    out.mkdir(parents=True, exist_ok=True)
    report = ImportReport(kind=kind, source=str(src.resolve()), out=str(out.resolve()))
    records: list[ClipRecord] = []
    ids: dict[str, str] = {}
    source = "import" if kind == "csv" else kind
    for item in _READERS[kind](src):
        if isinstance(item, ImportProblem):
            report.problems.append(item)
            continue
        file, line = item.where
        if item.id in ids:
            reason = f"clip id {item.id!r} already came from {ids[item.id]}"
            report.problems.append(ImportProblem(file, line, reason, "duplicate"))
            continue
        if not item.audio.is_file():
            report.problems.append(ImportProblem(file, line, f"{item.audio} does not exist", "missing audio"))
            continue
        try:
            info = sf.info(str(item.audio))
            if info.frames <= 0:
                raise RuntimeError("no samples")
            duration, rate = info.frames / info.samplerate, int(info.samplerate)
            if copy:
                rel = Path("audio") / _safe_id(item.speaker) / f"{item.id}.wav"
                duration, rate = _convert(item.audio, out / rel, sample_rate)
                path = rel.as_posix()
            else:
                path = str(item.audio.resolve())
        except (RuntimeError, OSError) as exc:  # soundfile's LibsndfileError is a RuntimeError
            report.problems.append(ImportProblem(file, line, f"{item.audio}: {exc}", "unreadable audio"))
            continue
        ids[item.id] = f"{file}:{line}" if line is not None else file
        split = item.split or speaker_split(source, item.speaker, val_fraction, test_fraction)
        records.append(
            ClipRecord(
                id=item.id,
                path=path,
                duration=round(duration, 4),
                sample_rate=rate,
                speaker=item.speaker,
                source=source,
                split=split,
                attributes=item.attributes,
                engine=item.engine,
                voice=item.voice,
                licence=item.licence,
                text=item.text,
            )
        )
        if progress is not None:
            progress(len(records))
        if limit is not None and len(records) >= limit:
            break
    _check_split_disjoint(records, src)
    report.imported = write_manifest(records, out / MANIFEST_NAME)
    report.splits = dict(sorted(Counter(r.split for r in records).items()))
    tmp = out / (REPORT_NAME + ".partial")
    tmp.write_text(json.dumps(report.to_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, out / REPORT_NAME)
    return report


def _check_split_disjoint(records: list[ClipRecord], src: Path) -> None:
    """A CSV may give splits itself; one speaker in two splits would leak speakers between train and test."""
    split_of: dict[str, str] = {}
    for record in records:
        first = split_of.setdefault(record.speaker, record.split)
        if first != record.split:
            raise ImporterError(
                f"{src}: speaker {record.speaker!r} appears in split {first!r} and {record.split!r}; "
                "splits must be disjoint by speaker (leave the split column empty to assign splits by speaker hash)"
            )
