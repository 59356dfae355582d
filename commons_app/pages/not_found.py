"""The in-app page for unknown routes: the layout (landmarks, navigation) and a heading."""

from __future__ import annotations

import reflex as rx

from commons_app import routes
from commons_app.components.layout import page
from commons_app.i18n import t


def not_found_page() -> rx.Component:
    """Page not found: say so, and offer the ways on."""
    return page(
        rx.text(t("There is no page at this address. It may have moved, or the link may be mistyped.")),
        rx.hstack(
            rx.link(t("Go to the home page"), href=routes.INDEX),
            rx.link(t("See the polls"), href=routes.POLLS),
            spacing="5",
            wrap="wrap",
        ),
        title=t("Page not found"),
    )
