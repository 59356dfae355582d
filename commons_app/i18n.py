"""Translations: one API for pages (``t``, ``tn``) and for Python code (``tr``, ``trn``).

The messages live in gettext catalogs, ``commons_app/locales/<lang>/LC_MESSAGES/messages.po``,
extracted from the code with Babel (``python -m commons_app i18n-update``, docs/I18N.md).
Python code reads the ``.po`` files once, at start-up; pages read the same translations from
``assets/i18n/catalogs.js``, a module generated from them that the browser loads once with
the app's scripts, so a language change re-renders the page without sending any catalog over
the websocket.

Rules for callers:
- In components: ``t("Submit vote")`` or ``t("Closes %(when)s", when=SomeState.closes_text)``.
  The result is a string Var that follows the viewer's language: pass it as a child or a prop;
  never concatenate or format it in Python (write the whole sentence as one msgid instead).
- Plurals: ``tn("%(n)s ballot", "%(n)s ballots", n=SomeState.count)``.
- In state handlers and services (toasts, errors, summaries): ``tr(lang, "msgid", **params)``
  and ``trn(lang, singular, plural, n, **params)`` return plain ``str``; in a page state
  ``lang`` is ``self.lang`` (``SessionState.lang``).
- A message defined away from where it is shown (a constant, a service's error): wrap the
  literal in ``N_("...")`` so extraction finds it, and translate it where it is shown.
- Placeholders are ``%(name)s`` (gettext's Python format), so translators may reorder them.
"""

from __future__ import annotations

import gettext
import json
import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babel import Locale, negotiate_locale
from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

if TYPE_CHECKING:
    import reflex as rx
# Reflex is imported only by the functions pages use (t, tn, t_value, document_sync): services
# call tr/trn/N_ and never import Reflex.

DEFAULT_LANGUAGE = "en"
LOCALES_DIR = Path(__file__).parent / "locales"
# The generated module the pages import (under assets/, served from /i18n/catalogs.js).
CATALOG_JS = Path(__file__).parent.parent / "assets" / "i18n" / "catalogs.js"
_CATALOG_IMPORT = "$/public/i18n/catalogs.js"
# Each language's own name, as the switcher shows it.
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch", "es": "Español"}


def N_(msgid: str, /) -> str:
    """Mark ``msgid`` for extraction without translating it (translated where it is shown)."""
    return msgid


# --------------------------------------------------------------------------- catalogs


@cache
def catalogs() -> dict[str, Catalog]:
    """Every translated language's catalog, read from its ``.po`` file (once per process)."""
    found: dict[str, Catalog] = {}
    for po in sorted(LOCALES_DIR.glob("*/LC_MESSAGES/messages.po")):
        with po.open("rb") as handle:
            found[po.parent.parent.name] = read_po(handle)
    return found


def languages() -> list[str]:
    """The language codes the app can show, English first."""
    return [DEFAULT_LANGUAGE, *sorted(catalogs())]


@cache
def _translations(lang: str) -> tuple[dict[str, str | tuple[str, ...]], Callable[[int], int]]:
    """``lang``'s usable translations (no empty or fuzzy ones) and its plural rule."""
    catalog = catalogs().get(lang)
    if catalog is None:
        return {}, lambda n: 0 if n == 1 else 1
    table: dict[str, str | tuple[str, ...]] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, tuple):
            forms = tuple(message.string or ())
            if forms and all(forms):
                table[message.id[0]] = forms
        elif message.string:
            table[message.id] = message.string
    return table, gettext.c2py(catalog.plural_expr)


def _fill(text: str, params: dict[str, Any]) -> str:
    return text % params if params else text


def tr(lang: str, msgid: str, /, **params: Any) -> str:
    """``msgid`` in ``lang`` with its ``%(name)s`` placeholders filled (Python side)."""
    found = _translations(lang)[0].get(msgid)
    return _fill(found if isinstance(found, str) else msgid, params)


def trn(lang: str, singular: str, plural: str, n: int, /, **params: Any) -> str:
    """The plural form of a message for ``n`` (``n`` is also available as ``%(n)s``)."""
    table, rule = _translations(lang)
    forms = table.get(singular)
    if isinstance(forms, tuple):
        text = forms[min(rule(n), len(forms) - 1)]
    else:
        text = singular if n == 1 else plural
    return _fill(text, {"n": n, **params})


# --------------------------------------------------------------------------- choosing a language


def normalize(code: str | None) -> str | None:
    """``code`` ("de", "de-AT", "ES") as one of the app's languages, or None."""
    if not code:
        return None
    primary = code.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in languages() else None


def from_accept_language(header: str | None) -> str:
    """The language an ``Accept-Language`` header prefers among ours (English if none)."""
    preferred: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        match = re.search(r"q=([^;\s]*)", params)
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:  # a malformed weight: ignore that language
                continue
        if tag and tag != "*" and quality > 0:
            preferred.append((-quality, index, tag))
    tags = [tag for _, _, tag in sorted(preferred)]
    return negotiate_locale(tags, languages(), sep="-") or normalize(next(iter(tags), None)) or DEFAULT_LANGUAGE


# --------------------------------------------------------------------------- dates and numbers


def _locale(lang: str) -> Locale:
    return Locale.parse(normalize(lang) or DEFAULT_LANGUAGE)


def format_number(lang: str, value: float, /) -> str:
    """``value`` with ``lang``'s digit grouping and decimal sign (1,234.5 / 1.234,5)."""
    return format_decimal(value, locale=_locale(lang))


def format_ratio(lang: str, value: float, /, *, digits: int = 1) -> str:
    """A ratio (0.5) as ``lang`` writes a percentage ("50.0%", "50,0 %")."""
    locale = _locale(lang)
    pattern = locale.percent_formats[None].pattern  # "#,##0%", "#,##0 %": the language's spacing
    if digits:
        pattern = pattern.replace("0", "0." + "0" * digits, 1)
    return format_percent(value, format=pattern, locale=locale)


def format_when(lang: str, value: datetime, /, *, seconds: bool = False) -> str:
    """A date and time in ``lang``'s medium format (times are UTC unless ``value`` says)."""
    pattern = "medium" if seconds else _locale(lang).datetime_formats["medium"].format(
        _locale(lang).time_formats["short"].pattern, _locale(lang).date_formats["medium"].pattern
    )
    return _babel_datetime(value, pattern, tzinfo=value.tzinfo, locale=_locale(lang))


def format_when_utc(lang: str, value: datetime, /, *, seconds: bool = False) -> str:
    """A UTC time as :func:`format_when` writes it, saying its zone ("Dec 2, 2026, 2:05 PM UTC")."""
    return tr(lang, N_("%(when)s UTC"), when=format_when(lang, value, seconds=seconds))


def format_day(lang: str, value: datetime, /) -> str:
    """A date without its time in ``lang``'s medium format ("Dec 2, 2026", "02.12.2026")."""
    return _babel_date(value, "medium", locale=_locale(lang))


# --------------------------------------------------------------------------- pages


def _lang_var() -> rx.Var:
    from commons_app.state.session import SessionState  # the state imports services, which import this

    return SessionState.lang


def _js_call(function: str, args: list[str], deps: list[rx.Var]) -> rx.Var:
    """A string Var calling one of the catalog module's functions."""
    import reflex as rx
    from reflex.vars.base import VarData
    from reflex_base.utils.imports import ImportVar

    data = VarData.merge(
        VarData(imports={_CATALOG_IMPORT: [ImportVar(tag=function)]}),
        *(dep._get_all_var_data() for dep in deps),
    )
    return rx.Var(_js_expr=f"{function}({', '.join(args)})", _var_type=str, _var_data=data).to(str)


def _var_fill(text: rx.Var, params: dict[str, Any]) -> rx.Var:
    import reflex as rx

    if not params:
        return text
    values = {name: value if isinstance(value, rx.Var) else rx.Var.create(str(value)) for name, value in params.items()}
    # String(x ?? ""): no JSON quotes around strings, and 0 stays "0"
    args = ", ".join(f"{json.dumps(name)}: String({value!s} ?? '')" for name, value in values.items())
    return _js_call("i18nFill", [str(text), "{" + args + "}"], [text, *values.values()])


def t(msgid: str, /, **params: Any) -> rx.Var:
    """A string Var for ``msgid`` in the viewer's language; params may be Vars or plain values."""
    lang = _lang_var()
    return _var_fill(_js_call("i18nText", [str(lang), json.dumps(msgid)], [lang]), params)


def tn(singular: str, plural: str, /, *, n: rx.Var | int, **params: Any) -> rx.Var:
    """A plural-aware string Var; ``n`` (a Var or an int) picks the form and fills ``%(n)s``."""
    import reflex as rx

    lang = _lang_var()
    n_var = n if isinstance(n, rx.Var) else rx.Var.create(n)
    chosen = _js_call("i18nPlural", [str(lang), json.dumps(singular), json.dumps(plural), f"Number({n_var!s})"],
                      [lang, n_var])
    return _var_fill(chosen, {"n": n_var, **params})


def number_text(value: rx.Var, /) -> rx.Var:
    """A number (or a number the server wrote as text) as the reader writes it (Intl in the browser)."""
    lang = _lang_var()
    return _js_call("i18nNumber", [str(lang), str(value)], [lang, value])


def document_sync() -> rx.Component:
    """An invisible component that keeps ``<html lang>`` and the document's title in the viewer's
    language (Reflex writes both once, in English, when it builds the page)."""
    return _document_sync_class().create()


@cache
def _document_sync_class() -> type:
    import reflex as rx

    class DocumentSync(rx.Fragment):
        def add_hooks(self) -> list[str | rx.Var]:
            lang = _lang_var()
            hook = _js_call("useI18nDocument", [str(lang)], [lang])
            return [rx.Var(_js_expr=str(hook), _var_data=hook._get_all_var_data())]

    return DocumentSync


# --------------------------------------------------------------------------- the generated module

_JS_FUNCTIONS = """
const msgids = new Set(Object.keys(catalogs[Object.keys(catalogs)[0]] ?? {}));

export function i18nText(lang, msgid) {
  const found = catalogs[lang]?.[msgid];
  return typeof found === "string" && found ? found : msgid;
}

export function i18nPlural(lang, singular, plural, n) {
  const forms = catalogs[lang]?.[singular];
  if (Array.isArray(forms) && plurals[lang]) {
    const form = forms[Math.min(Number(plurals[lang](n)), forms.length - 1)];
    if (form) return form;
  }
  return n === 1 ? singular : plural;
}

const numberFormats = {};
export function i18nNumber(lang, value) {
  // a number the server sent as text ("1234.5") written the reader's way ("1.234,5")
  const number = typeof value === "number" ? value : Number(value);
  if (value === "" || value === null || value === undefined || !Number.isFinite(number)) return String(value ?? "");
  numberFormats[lang] ??= new Intl.NumberFormat(lang, { maximumFractionDigits: 4 });
  return numberFormats[lang].format(number);
}

export function i18nFill(text, params) {
  // a function as the replacement: no "$&" patterns taken from the values
  return text.replace(/%\\((\\w+)\\)s|%%/g, (match, name) =>
    name === undefined ? "%" : (name in params ? params[name] : match));
}

let englishTitle = "";
export function useI18nDocument(lang) {
  useEffect(() => {
    const sync = () => {
      const shown = document.title;
      if (msgids.has(shown) || !englishTitle) englishTitle = shown;
      const wanted = i18nText(lang, englishTitle);
      if (shown !== wanted) document.title = wanted;
      if (document.documentElement.lang !== lang) document.documentElement.lang = lang;
    };
    sync();
    // client-side navigation replaces the <title> element: translate the new one too
    const observer = new MutationObserver(sync);
    observer.observe(document.head, { childList: true, subtree: true, characterData: true });
    return () => observer.disconnect();
  }, [lang]);
}
"""


def catalog_module() -> str:
    """The JavaScript module of every catalog (what ``assets/i18n/catalogs.js`` must hold)."""
    tables: dict[str, dict[str, str | list[str]]] = {}
    rules: list[str] = []
    for lang, catalog in catalogs().items():
        table, _ = _translations(lang)
        tables[lang] = {msgid: list(text) if isinstance(text, tuple) else text for msgid, text in sorted(table.items())}
        rules.append(f"  {json.dumps(lang)}: (n) => Number({catalog.plural_expr}),")
    return (
        "// Generated by `python -m commons_app i18n-update` from commons_app/locales: do not edit.\n"
        'import { useEffect } from "react";\n\n'
        f"const catalogs = {json.dumps(tables, ensure_ascii=False, indent=0, sort_keys=True)};\n\n"
        "const plurals = {\n" + "\n".join(rules) + "\n};\n" + _JS_FUNCTIONS
    )


def t_value(value: rx.Var | str, /, **params: Any) -> rx.Var:
    """A string Var translating a msgid known only at run time (a status, a method's name, a
    sentence a service chose): its possible msgids must be marked with ``N_`` where they are
    defined. ``params`` fill its placeholders as in :func:`t`."""
    import reflex as rx

    lang = _lang_var()
    value_var = value if isinstance(value, rx.Var) else rx.Var.create(value)
    text = _js_call("i18nText", [str(lang), f"String({value_var!s} ?? '')"], [lang, value_var])
    return _var_fill(text, params)
