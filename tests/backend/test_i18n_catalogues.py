"""The server's message catalogues: every message the code and the templates use (Babel's own
extraction with babel.cfg) is translated in French, Spanish and Portuguese, with the same
placeholders, nothing fuzzy or empty, and the compiled .mo files say what the .po files say."""

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from backend.i18n import LANGUAGES

REPO = Path(__file__).resolve().parents[2]
TRANSLATIONS = REPO / "backend" / "translations"
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
TRANSLATED = sorted(set(LANGUAGES) - {"en"})

pytestmark = pytest.mark.database_free


@pytest.fixture(scope="module")
def used_messages() -> dict[str | tuple, str]:
    """msgid (a tuple for a plural) -> where it is used."""
    with open(REPO / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = {}
    for path, line, message, _comments, _context in extract_from_dir(
        REPO, method_map, options_map, keywords=KEYWORDS
    ):
        found.setdefault(message, f"{path}:{line}")
    assert len(found) > 300, "the extraction found too little: is babel.cfg still right?"
    return found


def catalogue(language: str):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=language)


def _forms(value) -> list[str]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _key(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _formats_alike(msgid: str, msgstr: str) -> bool:
    """Same named placeholders; and where the msgid works as a %-format, so does the msgstr."""
    if set(PLACEHOLDER.findall(msgid)) != set(PLACEHOLDER.findall(msgstr)):
        return False
    values = {name: "x" for name in PLACEHOLDER.findall(msgid)}
    try:
        msgid % values
    except (TypeError, ValueError, KeyError):
        return True  # not a format string (e.g. "95 % ..." used without variables)
    try:
        msgstr % values
    except (TypeError, ValueError, KeyError):
        return False
    return True


def catalogue_problems(po, used_messages: dict) -> list[str]:
    problems = []
    for msgid, where in used_messages.items():
        key = msgid[0] if isinstance(msgid, tuple) else msgid
        message = po.get(key)
        if message is None:
            problems.append(f"missing ({where}): {msgid!r}")
            continue
        if message.fuzzy:
            problems.append(f"fuzzy: {key!r}")
        strings = _forms(message.string)
        if isinstance(msgid, tuple) and len(strings) != po.num_plurals:
            problems.append(f"wrong number of plural forms: {key!r}")
        if not all(strings):
            problems.append(f"empty translation: {key!r}")
        sources = _forms(msgid)
        for n, text in enumerate(strings):
            source = sources[min(n, len(sources) - 1)]
            if text and not _formats_alike(source, text):
                problems.append(f"placeholders differ: {source!r} -> {text!r}")
    return problems


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_the_code_uses_is_translated(used_messages, language):
    problems = catalogue_problems(catalogue(language), used_messages)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalogue_is_current(language):
    """make setup (translations) compiles each .po; a stale .mo would show old texts."""
    mo_path = TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo"
    assert mo_path.is_file(), f"{mo_path} is missing: run `make translations`"
    with open(mo_path, "rb") as f:
        compiled = {_key(m.id): _key(m.string) for m in read_mo(f) if m.id}
    written = {_key(m.id): _key(m.string) for m in catalogue(language) if m.id and not m.fuzzy}
    assert compiled == written, "the .mo is older than the .po: run `make translations`"


def test_a_missing_fuzzy_or_mismatched_translation_is_caught(used_messages):
    """The check above can fail: each kind of fault in a catalogue is reported."""
    po = catalogue("fr")
    assert catalogue_problems(po, used_messages) == []
    po.delete("Sign in")
    po["Overview"].flags.add("fuzzy")
    po["Slides"].string = ""
    po["Page %(number)s of %(pages)s"].string = "Page %(numero)s sur %(pages)s"
    problems = "\n".join(catalogue_problems(po, used_messages))
    for fault in ("missing", "fuzzy: 'Overview'", "empty translation: 'Slides'", "%(numero)s"):
        assert fault in problems
    assert not _formats_alike("%(counted)s of %(target)s", "%(counted)s sur %(target)s %")
    assert _formats_alike("95 %% confidence", "à 95 %%")
