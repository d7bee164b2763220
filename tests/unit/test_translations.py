"""The catalogues are complete, so that no page half-translates.

For the portal and the dev IdP alike:

* every text marked for translation (what ``pybabel extract`` finds with babel.cfg, as
  scripts/translations.sh runs it) has a French translation, every plural form filled, none
  left fuzzy, and the catalogue holds nothing that is no longer used;
* each translation keeps its original's placeholders and markup, so no name, time or link is
  lost on the way;
* no template has text outside ``_()`` / ``{% trans %}``: a sentence added to a page without
  marking it would be English in the middle of a French page;
* the compiled ``.mo`` files (what Flask-Babel reads) match the ``.po`` files (what people
  edit): a catalogue changed without compiling is caught before a page serves the old text.

When one of these fails: ``scripts/translations.sh`` brings the new texts into the catalogues,
then translate the empty entries in the ``.po`` file and run it again to compile.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment

from tests.support.processes import REPO_ROOT

PACKAGES = ("portal", "devidp")
#: The languages each package must have a catalogue for (English is the source language).
TRANSLATED = {"portal": ("fr",), "devidp": ("fr",)}
#: The keywords scripts/translations.sh adds to Babel's defaults.
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "_l": None}
FIX = "run scripts/translations.sh, then translate the empty entries of the .po file"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)")
#: Words a template may show untranslated: names, not text ("Example Business Auth").
NAMES = {"Auth"}


def extracted(package: str) -> dict[str | tuple[str, ...], list[str]]:
    """The msgids the package marks for translation, with where each comes from."""
    with (REPO_ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[str | tuple[str, ...], list[str]] = {}
    root = REPO_ROOT / package
    for filename, lineno, message, _comments, _context in extract_from_dir(
        root, method_map, options_map, keywords=KEYWORDS
    ):
        found.setdefault(message, []).append(f"{package}/{filename}:{lineno}")
    return found


def catalogue(package: str, language: str) -> Catalog:
    path = REPO_ROOT / package / "translations" / language / "LC_MESSAGES" / "messages.po"
    assert path.is_file(), f"{path.relative_to(REPO_ROOT)} is missing: {FIX}"
    with path.open("rb") as fh:
        return read_po(fh, locale=language)


CASES = [(package, language) for package in PACKAGES for language in TRANSLATED[package]]


@pytest.mark.parametrize(("package", "language"), CASES)
def test_every_marked_text_is_translated(package, language):
    wanted = extracted(package)
    assert wanted, f"nothing extracted from {package}: is babel.cfg right?"
    po = catalogue(package, language)
    missing = [f"{where[0]}: {msgid!r}" for msgid, where in wanted.items() if msgid not in po]
    assert not missing, f"not in {package}'s {language} catalogue ({FIX}):\n" + "\n".join(missing)
    untranslated = [
        repr(message.id)
        for message in po
        if message.id
        and (
            message.fuzzy
            or not (all(message.string) if isinstance(message.string, tuple) else message.string)
        )
    ]
    assert not untranslated, f"empty or fuzzy in {package}'s {language} catalogue:\n" + (
        "\n".join(untranslated)
    )
    unused = [repr(message.id) for message in po if message.id and message.id not in wanted]
    assert not unused, f"no longer used, still in the catalogue ({FIX}):\n" + "\n".join(unused)


@pytest.mark.parametrize(("package", "language"), CASES)
def test_translations_keep_their_placeholders_and_markup(package, language):
    po = catalogue(package, language)
    assert po.num_plurals >= 2 and not po.fuzzy
    wrong = []
    for message in po:
        if not message.id:
            continue
        originals = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        names = {name for text in originals for name in PLACEHOLDER.findall(text)}
        tags = sorted(TAG.findall(originals[0]))
        for text in strings:
            if set(PLACEHOLDER.findall(text)) != names or sorted(TAG.findall(text)) != tags:
                wrong.append(f"{message.id!r} -> {text!r}")
        wrong.extend(f"{message.id!r}: {error}" for error in message.check(po))
    assert not wrong, "translations that lose or add a placeholder or a tag:\n" + "\n".join(wrong)


@pytest.mark.parametrize(("package", "language"), CASES)
def test_the_compiled_catalogue_is_the_current_one(package, language):
    folder = REPO_ROOT / package / "translations"
    mo = folder / language / "LC_MESSAGES" / "messages.mo"
    assert mo.is_file(), f"{mo.relative_to(REPO_ROOT)} is not compiled: {FIX}"
    compiled = Translations.load(str(folder), [language])
    stale = []
    for message in catalogue(package, language):
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            for n, text in zip((1, 2, 1_000_000), message.string, strict=False):
                if compiled.ngettext(*message.id[:2], n) != text:
                    stale.append(repr(message.id))
        elif message.context is not None:
            if compiled.pgettext(message.context, message.id) != message.string:
                stale.append(repr(message.id))
        elif compiled.gettext(message.id) != message.string:
            stale.append(repr(message.id))
    assert not stale, f"{mo.relative_to(REPO_ROOT)} is older than the .po file ({FIX}):\n" + (
        "\n".join(stale)
    )


class VisibleText(HTMLParser):
    """The text and the readable attributes of a page whose Jinja parts were blanked."""

    READ_ALOUD = ("title", "alt", "aria-label", "placeholder")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in self.READ_ALOUD and value and has_words(value):
                self.found.append(f'{tag} {name}="{value}"')

    def handle_data(self, data):
        # a macro that writes attributes (_fields.html's described_by) is not text
        data = ATTRIBUTE.sub(" ", data)
        if has_words(data):
            self.found.append(" ".join(data.replace(BLANK, " ").split()))


ATTRIBUTE = re.compile(r'[\w-]+="[^"]*"')
#: What stands for a Jinja part of the template (an expression, a tag, a translated text).
BLANK = "\x00"


def has_words(text: str) -> bool:
    words = re.findall(r"[^\W\d_]+", text.replace(BLANK, " "))
    return any(word not in NAMES for word in words)


def unmarked_text(source: str) -> list[str]:
    """Words of a template that are neither in a ``{{ ... }}`` (``_()`` and values) nor in a
    ``{% trans %}`` block: they would stay English on a French page."""
    kept: list[str] = []
    in_trans = False
    previous = ""
    environment = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    for _line, kind, value in environment.lex(source):
        if kind == "whitespace":
            continue
        if kind == "name" and previous == "block_begin":
            in_trans = value == "trans" or (in_trans and value != "endtrans")
        kept.append(value if kind == "data" and not in_trans else BLANK)
        previous = kind
    parser = VisibleText()
    parser.feed("".join(kept))
    parser.close()
    return parser.found


TEMPLATES = sorted(
    path.relative_to(REPO_ROOT)
    for package in PACKAGES
    for path in (REPO_ROOT / package / "templates").glob("*.html")
)


@pytest.mark.parametrize("template", TEMPLATES, ids=str)
def test_no_template_text_escapes_translation(template):
    words = unmarked_text((REPO_ROOT / template).read_text())
    assert not words, f"{template}: text outside _() or {{% trans %}}:\n" + "\n".join(words)


def test_the_template_check_sees_unmarked_text():
    """It is not vacuous: plain text and readable attributes are found, marked text is not."""
    assert unmarked_text("<p>Hello {{ name }}</p>") == ["Hello"]
    assert unmarked_text('<nav aria-label="Menu"></nav>') == ['nav aria-label="Menu"']
    assert unmarked_text("<p>{{ _('Hello') }}</p>{# a comment #}") == []
    assert unmarked_text("<p>{% trans %}Hello <b>{{ x }}</b>{% endtrans %}</p>") == []
    assert unmarked_text('<a href="/x" class="button">{{ _("Go") }}</a> · —') == []
    assert unmarked_text('{% if x %} aria-invalid="true"{% endif %}') == []


def test_the_portal_offers_the_languages_it_has_catalogues_for():
    from devidp.i18n import LANGUAGES
    from portal.settings import translated_languages

    assert translated_languages() == ("en", *TRANSLATED["portal"])
    assert tuple(LANGUAGES) == ("en", *TRANSLATED["devidp"])


def test_scripts_and_build_agree_on_the_keywords():
    """The keywords above are the ones scripts/translations.sh gives ``pybabel extract``."""
    script = (REPO_ROOT / "scripts" / "translations.sh").read_text()
    assert "-k lazy_gettext -k _l" in script
    assert Path(REPO_ROOT / "babel.cfg").is_file()
