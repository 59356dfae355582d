"""Maintainer tooling for the catalogs: extract, update, check (``python -m commons_app i18n-update``).

Kept apart from ``commons_app.i18n`` so that the app never imports Babel's command line.
"""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from commons_app import i18n

ROOT = Path(__file__).parent.parent
TEMPLATE = i18n.LOCALES_DIR / "messages.pot"
# t("msgid"), tn("singular", "plural"), tr(lang, "msgid"), trn(lang, "singular", "plural", n), N_("msgid")
KEYWORDS = ["t", "tn:1,2", "tr:2", "trn:2,3", "N_"]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def extract(output: Path) -> None:
    """Extract every message of the app into the template ``output`` (a ``.pot`` file)."""
    args = ["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "--no-default-keywords"]
    for keyword in KEYWORDS:
        args += ["-k", keyword]
    args += ["--add-location=file", "--sort-output", "--no-wrap", "--project=The Commons",
             "--copyright-holder=The Commons", "-c", "Translators:", "-o", str(output), str(ROOT / "commons_app")]
    CommandLineInterface().run(args)


def read(path: Path) -> Catalog:
    """A ``.po`` or ``.pot`` file as a Babel catalog."""
    with path.open("rb") as handle:
        return read_po(handle)


def msgids(catalog: Catalog) -> set[str]:
    """The messages of a catalog, plural ones by their singular."""
    return {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog if m.id}


def problems(lang: str) -> list[str]:
    """What keeps ``lang``'s catalog from being complete, one line per message (empty if none)."""
    template = read(TEMPLATE)
    catalog = read(i18n.LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po")
    found: list[str] = []
    for wanted in template:
        if not wanted.id:
            continue
        message = catalog.get(wanted.id)
        key = wanted.id[0] if isinstance(wanted.id, tuple) else wanted.id
        if message is None:
            found.append(f"{lang}: missing {key!r}")
            continue
        strings = list(message.string) if isinstance(message.string, tuple) else [message.string]
        if message.fuzzy:
            found.append(f"{lang}: fuzzy {key!r}")
        elif not all(strings) or (isinstance(wanted.id, tuple) and len(strings) != catalog.num_plurals):
            found.append(f"{lang}: untranslated {key!r}")
        else:
            ids = wanted.id if isinstance(wanted.id, tuple) else (wanted.id,)
            expected = set().union(*(PLACEHOLDER.findall(i) for i in ids))
            for text in strings:
                if set(PLACEHOLDER.findall(text)) != expected and not (
                    isinstance(wanted.id, tuple) and set(PLACEHOLDER.findall(text)) <= expected
                ):
                    found.append(f"{lang}: placeholders of {key!r} differ: {text!r}")
    return found


def update() -> list[str]:
    """Re-extract the template, merge it into every language's catalog (new messages come in
    untranslated, gone ones leave) and regenerate the pages' catalog module. Returns the
    problems left for translators."""
    TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
    extract(TEMPLATE)
    for lang in i18n.languages()[1:]:
        CommandLineInterface().run(
            ["pybabel", "-q", "update", "-i", str(TEMPLATE), "-d", str(i18n.LOCALES_DIR), "-l", lang,
             "--no-fuzzy-matching", "--ignore-obsolete", "--no-wrap"]
        )
    write_catalog_module()
    return [line for lang in i18n.languages()[1:] for line in problems(lang)]


def write_catalog_module() -> None:
    """Regenerate ``assets/i18n/catalogs.js`` from the ``.po`` files."""
    i18n.catalogs.cache_clear()
    i18n._translations.cache_clear()
    i18n.CATALOG_JS.parent.mkdir(parents=True, exist_ok=True)
    i18n.CATALOG_JS.write_text(i18n.catalog_module(), encoding="utf-8")


def add_language(lang: str) -> None:
    """Start a catalog for a new language (then translate it and run ``i18n-update``)."""
    CommandLineInterface().run(
        ["pybabel", "-q", "init", "-i", str(TEMPLATE), "-d", str(i18n.LOCALES_DIR), "-l", lang, "--no-wrap"]
    )


def main(new_language: str | None = None) -> int:
    """``i18n-update``: update everything and list what is left to translate (exit 1 if any)."""
    if new_language:
        extract(TEMPLATE)
        add_language(new_language)
    left = update()
    for line in left:
        print(line)
    print(f"{len(left)} message(s) to translate" if left else "catalogs complete")
    return 1 if left else 0
