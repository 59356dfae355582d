"""The share panel: a poll's link with a copy button, its join code and a QR code of the link."""

from __future__ import annotations

import reflex as rx

from commons_app import routes
from commons_app.i18n import t


def share_panel(share: rx.Var, *, heading: rx.Var | str | None = None) -> rx.Component:
    """The panel for ``share`` (a dict var with ``link``, ``join_code`` and ``qr``, see
    ``services.share``). Stacks on a phone, sits side by side on a wide screen."""
    link = share["link"].to(str)
    return rx.card(
        rx.flex(
            rx.vstack(
                rx.heading(heading if heading is not None else t("Share this poll"), size="4", as_="h2"),
                rx.text(t("Link"), size="2", weight="medium"),
                rx.code(link, custom_attrs={"data-testid": "share-link"}, style={"wordBreak": "break-all"}),
                rx.button(
                    rx.icon("copy", size=16), t("Copy link"),
                    on_click=[rx.set_clipboard(link), rx.toast.info(t("Link copied."))],
                    variant="soft", size="2",
                ),
                rx.text(t("Join code"), size="2", weight="medium"),
                rx.hstack(
                    rx.text(
                        share["join_code"].to(str), size="6", weight="bold",
                        custom_attrs={"data-testid": "join-code"}, style={"letterSpacing": "0.08em"},
                    ),
                    rx.text(t("at"), " ", rx.link(routes.JOIN, href=routes.JOIN), size="2", color_scheme="gray"),
                    align="baseline",
                    spacing="3",
                    wrap="wrap",
                ),
                spacing="2",
                align="start",
                min_width="0",
                flex="1 1 16rem",
            ),
            rx.image(
                src=share["qr"].to(str),
                alt=t("QR code of the poll's link"),
                custom_attrs={"data-testid": "share-qr"},
                width="10rem",
                height="10rem",
                style={"imageRendering": "pixelated", "background": "#fff"},
            ),
            gap="4",
            wrap="wrap",
            align="center",
            width="100%",
        ),
        width="100%",
        id="share-panel",
    )
