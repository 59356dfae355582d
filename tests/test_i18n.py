"""The message catalogs: complete, current with the code, and read the way pages and handlers use them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from commons_app import i18n, i18n_tools
from commons_app.services.errors import InvalidInput

TRANSLATED = i18n.languages()[1:]


def test_german_and_spanish_are_shipped():
    assert i18n.languages() == ["en", "de", "es"]


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_message_is_translated(lang):
    """Every msgid of the template translated, none fuzzy, placeholders kept. The failure names
    each message (``python -m commons_app i18n-update`` prints the same list)."""
    problems = i18n_tools.problems(lang)
    assert not problems, "\n".join(problems)


def test_the_template_is_current_with_the_code(tmp_path: Path):
    """A t("...") added (or removed) without running ``python -m commons_app i18n-update`` fails here."""
    fresh = tmp_path / "messages.pot"
    i18n_tools.extract(fresh)
    in_code = i18n_tools.msgids(i18n_tools.read(fresh))
    assert len(in_code) > 300  # the extraction found the app's messages (keywords, babel.cfg)
    committed = i18n_tools.msgids(i18n_tools.read(i18n_tools.TEMPLATE))
    assert not in_code - committed, f"not extracted yet (run i18n-update): {sorted(in_code - committed)}"
    assert not committed - in_code, f"gone from the code (run i18n-update): {sorted(committed - in_code)}"
    for lang in TRANSLATED:
        catalog = i18n_tools.msgids(i18n_tools.read(i18n.LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po"))
        assert in_code <= catalog, f"{lang} lacks (run i18n-update): {sorted(in_code - catalog)}"


def test_the_pages_catalog_module_matches_the_po_files():
    """assets/i18n/catalogs.js is generated from the .po files; a stale copy shows old translations."""
    assert i18n.CATALOG_JS.read_text(encoding="utf-8") == i18n.catalog_module(), "run python -m commons_app i18n-update"


def test_tr_translates_and_fills_placeholders():
    assert i18n.tr("de", "Log in") == "Anmelden"
    assert i18n.tr("es", "Log in") == "Iniciar sesión"
    assert i18n.tr("en", "Log in") == "Log in"
    assert i18n.tr("de", "Turnout: %(title)s", title="Lunch") == "Beteiligung: Lunch"
    assert i18n.tr("de", "Share %(title)s", title="50%") == "„50%“ teilen"  # values are not formats


def test_tr_falls_back_to_english():
    assert i18n.tr("fr", "Log in") == "Log in"
    assert i18n.tr("de", "A sentence nobody wrote") == "A sentence nobody wrote"
    assert i18n.tr("de", "Hello %(name)s", name="Ana") == "Hello Ana"


@pytest.mark.parametrize(
    ("lang", "n", "expected"),
    [
        ("en", 1, "Roll imported: 1 voter."),
        ("en", 3, "Roll imported: 3 voters."),
        ("de", 1, "Verzeichnis importiert: 1 Person."),
        ("de", 0, "Verzeichnis importiert: 0 Personen."),
        ("es", 1, "Censo importado: 1 votante."),
        ("es", 2, "Censo importado: 2 votantes."),
    ],
)
def test_trn_picks_the_languages_plural_form(lang, n, expected):
    assert i18n.trn(lang, "Roll imported: %(n)s voter.", "Roll imported: %(n)s voters.", n) == expected


def test_a_fuzzy_or_empty_translation_is_not_shown(monkeypatch):
    catalog = i18n.catalogs()["de"]
    message = catalog.get("Log in")
    i18n._translations.cache_clear()
    monkeypatch.setattr(message, "flags", {"fuzzy"})
    try:
        assert i18n.tr("de", "Log in") == "Log in"
    finally:
        i18n._translations.cache_clear()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("es-ES", "es"),
        ("fr-CH, fr;q=0.9, es;q=0.5, de;q=0.7", "de"),  # by quality, not by order
        ("en-US,en;q=0.9", "en"),
        ("fr", "en"),
        ("", "en"),
        (None, "en"),
        ("de;q=0, es", "es"),
        ("*", "en"),
        ("de;q=abc, es", "es"),
    ],
)
def test_the_browsers_language_decides_among_ours(header, expected):
    assert i18n.from_accept_language(header) == expected


def test_normalize_accepts_only_our_languages():
    assert i18n.normalize("DE-at") == "de"
    assert i18n.normalize("es_MX") == "es"
    assert i18n.normalize("fr") is None
    assert i18n.normalize("") is None
    assert i18n.normalize("../de") is None


def test_numbers_and_dates_follow_the_language():
    assert i18n.format_number("en", 1234.5) == "1,234.5"
    assert i18n.format_number("de", 1234.5) == "1.234,5"
    assert i18n.format_ratio("es", 0.5) == "50,0\xa0%"
    when = datetime(2026, 3, 1, 14, 5, tzinfo=UTC)
    assert i18n.format_when("de", when) == "01.03.2026, 14:05"
    assert i18n.format_when("es", when) == "1 mar 2026, 14:05"
    assert i18n.format_when("en", when) == "Mar 1, 2026, 2:05\u202fPM"


def test_a_service_error_is_shown_in_the_readers_language():
    error = InvalidInput(i18n.N_("Enter a whole number."), field="seats")
    assert error.message == "Enter a whole number."  # the API answers in English
    assert error.in_language("de") == "Geben Sie eine ganze Zahl ein."
    assert error.in_language("es") == "Introduce un número entero."


def test_page_strings_compile_to_catalog_lookups_that_follow_the_language():
    """t() is a lookup in the browser's catalog module keyed by SessionState.lang (no catalog in
    the state), so the page re-renders when the language changes."""
    import reflex as rx

    text = i18n.t("Turnout: %(title)s", title=rx.Var.create("Lunch"))
    js = str(text)
    assert 'i18nText(' in js and '"Turnout: %(title)s"' in js and ".lang" in js
    data = text._get_all_var_data()
    assert "$/public/i18n/catalogs.js" in dict(data.imports)
    assert any("lang" in fields for fields in data.field_dependencies.values())
    plural = str(i18n.tn("%(n)s ballot", "%(n)s ballots", n=2))
    assert "i18nPlural(" in plural and "Number(2)" in plural


def test_the_switcher_names_each_language_in_itself():
    assert [i18n.LANGUAGE_NAMES[code] for code in i18n.languages()] == ["English", "Deutsch", "Español"]
