"""A confirmation before a destructive action: an alert dialog (Radix moves focus into it, keeps
it there, gives it back to the trigger on close, and Escape cancels)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from commons_app.i18n import t


def confirm_dialog(
    trigger: rx.Component,
    *,
    title: rx.Var | str,
    description: rx.Var | str,
    confirm_label: rx.Var | str,
    on_confirm: Any,
    color_scheme: str = "red",
    dialog_id: str = "",
) -> rx.Component:
    """``trigger`` opens the dialog; Cancel (focused first, the safe choice) or Escape keep
    everything, ``confirm_label`` runs ``on_confirm``."""
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(trigger),
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(description),
            rx.flex(
                rx.alert_dialog.cancel(rx.button(t("Cancel"), variant="soft", color_scheme="gray", size="3")),
                # high_contrast: Radix's solid red (white on red-9) is 3.9:1, under AA's 4.5:1.
                rx.alert_dialog.action(
                    rx.button(confirm_label, color_scheme=color_scheme, high_contrast=True, on_click=on_confirm, size="3")
                ),
                spacing="3",
                justify="end",
                wrap="wrap",
                margin_top="1rem",
            ),
            id=dialog_id or None,
            max_width="28rem",
        ),
    )
