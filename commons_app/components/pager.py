"""Paging of long lists: the arithmetic the page states share, and the previous/next control."""

from __future__ import annotations

from typing import Any

import reflex as rx

from commons_app.i18n import t, t_value, tr


def page_count(total: int, size: int) -> int:
    """How many pages ``total`` rows fill (at least one, so an empty list reads "page 1 of 1")."""
    return max(1, (max(total, 0) + size - 1) // size)


def clamp_page(index: int, total: int, size: int) -> int:
    """``index`` moved onto an existing page (the last one when rows went away under it)."""
    return min(max(index, 0), page_count(total, size) - 1)


def page_text(index: int, total: int, size: int, *, lang: str = "en") -> str:
    """"Page 2 of 5"."""
    return tr(lang, "Page %(page)s of %(pages)s", page=index + 1, pages=page_count(total, size))


def showing_text(index: int, total: int, size: int, noun: str, *, lang: str = "en") -> str:
    """"Showing 21–40 of 57 users" (or "No users")."""
    if total <= 0:
        return tr(lang, "No %(things)s", things=tr(lang, noun))
    first = index * size + 1
    return tr(lang, "Showing %(first)s–%(last)s of %(total)s %(things)s", first=first, last=min(first + size - 1, total),
              total=total, things=tr(lang, noun))


def pager(
    *,
    name: str,
    showing: rx.Var | str,
    label: rx.Var | str,
    on_previous: Any,
    on_next: Any,
    has_previous: rx.Var,
    has_next: rx.Var,
) -> rx.Component:
    """Previous/next buttons with "Page X of Y" and "Showing a–b of n", as a labelled navigation
    region ("<name> pages") so that tests and screen readers can tell several lists apart."""
    return rx.el.nav(
        rx.flex(
            rx.text(showing, size="2", color_scheme="gray", class_name="pager-showing"),
            rx.spacer(),
            rx.hstack(
                rx.button(t("Previous"), on_click=on_previous, disabled=~has_previous, variant="soft", size="2", type="button"),
                rx.text(label, size="2", white_space="nowrap", class_name="pager-label", aria_live="polite"),
                rx.button(t("Next"), on_click=on_next, disabled=~has_next, variant="soft", size="2", type="button"),
                align="center",
                spacing="3",
            ),
            align="center",
            gap="2",
            wrap="wrap",
            width="100%",
        ),
        aria_label=t("%(list)s pages", list=t_value(name)),
        width="100%",
    )
