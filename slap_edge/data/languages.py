"""The language tables of slap-edge, in one place: the languages the synthetic corpus speaks (with the Faker locale
its sentences come from and the espeak-ng voice that reads them), and the English names of language codes that
captions, suite prompts and the importers use."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1, the manifest's language attribute
    faker_locale: str  # where the sentences come from
    espeak_voice: str  # espeak-ng voice name


LANGUAGES: tuple[Language, ...] = (
    Language("en", "en_US", "en-us"),
    Language("de", "de_DE", "de"),
    Language("fr", "fr_FR", "fr"),
    Language("es", "es_ES", "es"),
    Language("it", "it_IT", "it"),
    Language("nl", "nl_NL", "nl"),
    Language("pt", "pt_BR", "pt-br"),
    Language("sv", "sv_SE", "sv"),
    Language("pl", "pl_PL", "pl"),
    Language("cs", "cs_CZ", "cs"),
    Language("tr", "tr_TR", "tr"),
    Language("ro", "ro_RO", "ro"),
    Language("hu", "hu_HU", "hu"),
    Language("el", "el_GR", "el"),
    Language("hi", "hi_IN", "hi"),
    Language("ru", "ru_RU", "ru"),
    Language("da", "da_DK", "da"),
    Language("uk", "uk_UA", "uk"),
    Language("fa", "fa_IR", "fa"),
    Language("vi", "vi_VN", "vi"),
)
LANGUAGE_BY_CODE = {lang.code: lang for lang in LANGUAGES}


# ISO 639-1/639-3 codes (and the codes espeak-ng names its voices by) -> English names. Region variants
# ("en-us", "pt-br") fall back to their base code unless listed in REGIONAL_LANGUAGE_NAMES.
LANGUAGE_NAMES: dict[str, str] = {
    "af": "Afrikaans",
    "am": "Amharic",
    "an": "Aragonese",
    "ar": "Arabic",
    "as": "Assamese",
    "az": "Azerbaijani",
    "ba": "Bashkir",
    "be": "Belarusian",
    "bg": "Bulgarian",
    "bn": "Bengali",
    "bpy": "Bishnupriya Manipuri",
    "br": "Breton",
    "bs": "Bosnian",
    "ca": "Catalan",
    "ckb": "Central Kurdish",
    "cmn": "Mandarin Chinese",
    "cs": "Czech",
    "cv": "Chuvash",
    "cy": "Welsh",
    "da": "Danish",
    "de": "German",
    "dv": "Dhivehi",
    "el": "Greek",
    "en": "English",
    "eo": "Esperanto",
    "es": "Spanish",
    "et": "Estonian",
    "eu": "Basque",
    "fa": "Persian",
    "fi": "Finnish",
    "fil": "Filipino",
    "fr": "French",
    "fy": "Frisian",
    "ga": "Irish",
    "gd": "Scottish Gaelic",
    "gl": "Galician",
    "gn": "Guarani",
    "grc": "Ancient Greek",
    "gu": "Gujarati",
    "ha": "Hausa",
    "hak": "Hakka Chinese",
    "haw": "Hawaiian",
    "he": "Hebrew",
    "hi": "Hindi",
    "hr": "Croatian",
    "ht": "Haitian Creole",
    "hu": "Hungarian",
    "hy": "Armenian",
    "hyw": "Western Armenian",
    "ia": "Interlingua",
    "id": "Indonesian",
    "ig": "Igbo",
    "is": "Icelandic",
    "it": "Italian",
    "ja": "Japanese",
    "jbo": "Lojban",
    "ka": "Georgian",
    "kk": "Kazakh",
    "kl": "Greenlandic",
    "km": "Khmer",
    "kn": "Kannada",
    "ko": "Korean",
    "kok": "Konkani",
    "ku": "Kurdish",
    "ky": "Kyrgyz",
    "la": "Latin",
    "lb": "Luxembourgish",
    "lg": "Luganda",
    "lt": "Lithuanian",
    "lv": "Latvian",
    "mi": "Maori",
    "mk": "Macedonian",
    "ml": "Malayalam",
    "mn": "Mongolian",
    "mr": "Marathi",
    "ms": "Malay",
    "mt": "Maltese",
    "my": "Burmese",
    "nb": "Norwegian",
    "ne": "Nepali",
    "nl": "Dutch",
    "nn": "Norwegian",
    "no": "Norwegian",
    "om": "Oromo",
    "or": "Odia",
    "pa": "Punjabi",
    "pap": "Papiamento",
    "pl": "Polish",
    "ps": "Pashto",
    "pt": "Portuguese",
    "qu": "Quechua",
    "quc": "K'iche'",
    "rm": "Romansh",
    "ro": "Romanian",
    "ru": "Russian",
    "rw": "Kinyarwanda",
    "sd": "Sindhi",
    "si": "Sinhala",
    "sk": "Slovak",
    "sl": "Slovenian",
    "so": "Somali",
    "sq": "Albanian",
    "sr": "Serbian",
    "sv": "Swedish",
    "sw": "Swahili",
    "ta": "Tamil",
    "te": "Telugu",
    "th": "Thai",
    "tk": "Turkmen",
    "tl": "Tagalog",
    "tn": "Tswana",
    "tr": "Turkish",
    "tt": "Tatar",
    "ug": "Uyghur",
    "uk": "Ukrainian",
    "ur": "Urdu",
    "uz": "Uzbek",
    "vi": "Vietnamese",
    "yo": "Yoruba",
    "yue": "Cantonese",
    "zh": "Chinese",
    "zu": "Zulu",
}

# Region variants whose name differs from the base language's (espeak-ng and Common Voice spellings).
REGIONAL_LANGUAGE_NAMES: dict[str, str] = {
    "en-us": "American English",
    "en-gb": "British English",
    "en-gb-scotland": "Scottish English",
    "en-gb-x-rp": "British English",
    "en-029": "Caribbean English",
    "es-419": "Latin American Spanish",
    "es-mx": "Mexican Spanish",
    "pt-br": "Brazilian Portuguese",
    "pt-pt": "European Portuguese",
    "fr-be": "Belgian French",
    "fr-ch": "Swiss French",
    "fr-ca": "Canadian French",
    "zh-cn": "Mandarin Chinese",
    "zh-tw": "Taiwanese Mandarin",
    "zh-hk": "Cantonese",
}


def language_name(code: str) -> str | None:
    """The English name of a language code ("de" -> "German", "pt-br" -> "Brazilian Portuguese"), else None."""
    key = code.strip().lower().replace("_", "-")
    if key in REGIONAL_LANGUAGE_NAMES:
        return REGIONAL_LANGUAGE_NAMES[key]
    if key in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[key]
    return LANGUAGE_NAMES.get(key.split("-", 1)[0])
