"""Translations: one API for pages (``t``, ``tn``) and for Python code (``tr``, ``trn``).

Interim core (the catalogs, Babel extraction, the language switcher and ``?lang`` land with the
i18n work): today every function returns English, but pages and handlers already call the same
functions they will call then, so no user-visible string has to be found again.

Rules for callers:
- In components: ``t("Submit vote")`` or ``t("Closes %(when)s", when=SomeState.closes_text)``.
  The result is a string Var that follows the viewer's language: pass it as a child or a prop;
  never concatenate or format it in Python (write the whole sentence as one msgid instead).
- Plurals: ``tn("%(n)s ballot", "%(n)s ballots", n=SomeState.count)``.
- In state handlers and services (toasts, errors, summaries): ``tr(lang, "msgid", **params)``
  and ``trn(lang, singular, plural, n, **params)`` return plain ``str``; in a page state
  ``lang`` is ``self.lang`` (``SessionState.lang``).
- Placeholders are ``%(name)s`` (gettext's Python format), so translators may reorder them.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

DEFAULT_LANGUAGE = "en"


def _fill(text: str, params: dict[str, Any]) -> str:
    return text % params if params else text


def tr(lang: str, msgid: str, /, **params: Any) -> str:
    """``msgid`` in ``lang`` with its ``%(name)s`` placeholders filled (Python side)."""
    del lang
    return _fill(msgid, params)


def trn(lang: str, singular: str, plural: str, n: int, /, **params: Any) -> str:
    """The plural form of a message for ``n`` (``n`` is also available as ``%(n)s``)."""
    del lang
    return _fill(singular if n == 1 else plural, {"n": n, **params})


def _var_fill(text: rx.Var, params: dict[str, Any]) -> rx.Var:
    for name, value in params.items():
        value_var = value if isinstance(value, rx.Var) else rx.Var.create(str(value))
        # String(x ?? ""): no JSON quotes around strings, and 0 stays "0"
        as_text = rx.Var(
            _js_expr=f"String({value_var!s} ?? '')", _var_type=str, _var_data=value_var._get_all_var_data()
        ).to(str)
        text = text.to(str).replace(f"%({name})s", as_text)
    return text.to(str)


def t(msgid: str, /, **params: Any) -> rx.Var:
    """A string Var for ``msgid`` in the viewer's language; params may be Vars or plain values."""
    return _var_fill(rx.Var.create(msgid), params)


def tn(singular: str, plural: str, /, *, n: rx.Var | int, **params: Any) -> rx.Var:
    """A plural-aware string Var; ``n`` (a Var or an int) picks the form and fills ``%(n)s``."""
    n_var = n if isinstance(n, rx.Var) else rx.Var.create(n)
    chosen = rx.cond(n_var == 1, singular, plural)
    return _var_fill(chosen, {"n": n_var, **params})
