"""Ballot receipts in the browser: kept in localStorage under ``commons:receipt:<poll_id>`` and
shown through React-only state, so that an anonymous ballot's receipt never enters Reflex state.

Reflex pickles page states to Redis (or ``.states`` files) beside the user's session; a receipt
there would link the voter to their ballot for whoever reads that store. So handlers pass a
receipt only as an event argument or in an ``rx.call_script`` answer, and the page shows it from
a :class:`ClientStateVar` (a React ``useState`` that the server never sees).
"""

from __future__ import annotations

import json

import reflex as rx
from reflex.experimental.client_state import ClientStateVar

from commons_app.i18n import N_, t, t_value

RECEIPT_KEY_PREFIX = "commons:receipt:"

# The key of the poll in the page's path (/polls/<id> and /polls/<id>/results): for values read
# while rendering, before any handler has said which poll this is.
_PATH_KEY_JS = "('" + RECEIPT_KEY_PREFIX + "' + window.location.pathname.split('/').filter(Boolean)[1])"

# The receipt this browser holds for the poll of the page ("" when none); read where it is used.
STORED_RECEIPT = rx.Var(
    f"((typeof window === 'undefined') ? '' : (window.localStorage.getItem({_PATH_KEY_JS}) ?? ''))",
    _var_type=str,
)

# What the vote page shows in ``ballot-receipt`` (browser only).
shown_receipt = ClientStateVar.create("commonsReceipt", default="")
# The results page's answer to "Check your receipt" (browser only).
receipt_answer = ClientStateVar.create("commonsReceiptAnswer", default="")


def storage_key(poll_id: str) -> str:
    """The localStorage key of a poll's receipt."""
    return f"{RECEIPT_KEY_PREFIX}{poll_id}"


def remember_receipt(poll_id: str, receipt: str) -> list[rx.event.EventSpec]:
    """Browser events: store the receipt and show it."""
    key, value = json.dumps(storage_key(poll_id)), json.dumps(receipt)
    return [rx.call_script(f"window.localStorage.setItem({key}, {value})"), shown_receipt.push(receipt)]


def forget_receipt(poll_id: str) -> list[rx.event.EventSpec]:
    """Browser events: drop the stored receipt (retracted, or it names no ballot) and hide it."""
    return [rx.call_script(f"window.localStorage.removeItem({json.dumps(storage_key(poll_id))})"), shown_receipt.push("")]


def show_stored_receipt(poll_id: str) -> rx.event.EventSpec:
    """Browser event: show the receipt this browser holds for the poll, if any."""
    key = json.dumps(storage_key(poll_id))
    return shown_receipt.push(rx.Var(f"(window.localStorage.getItem({key}) ?? '')", _var_type=str))


def element_value(element_id: str) -> rx.Var:
    """The current value of an input, read in the browser when the event fires (an event
    argument reaches the handler without being kept in its state)."""
    return rx.Var(f"(document.getElementById({json.dumps(element_id)})?.value ?? '')", _var_type=str)


RECEIPT_EXPLANATION = N_(
    "Keep this code: it names your ballot in the published record when the poll closes; "
    "in an anonymous poll it is the only way to change or retract your ballot."
)


def receipt_panel(receipt: rx.Var) -> rx.Component:
    """The receipt of the user's ballot, with why to keep it and a copy button."""
    return rx.card(
        rx.vstack(
            rx.hstack(rx.icon("ticket", size=18), rx.text(t("Your ballot's receipt"), weight="bold"), align="center", spacing="2"),
            rx.flex(
                rx.code(
                    receipt,
                    size="4",
                    variant="soft",
                    custom_attrs={"data-testid": "ballot-receipt"},
                    style={"wordBreak": "break-all", "padding": "0.25rem 0.5rem"},
                ),
                rx.button(
                    rx.icon("copy", size=16),
                    t("Copy"),
                    type="button",
                    variant="soft",
                    size="2",
                    on_click=[rx.set_clipboard(receipt), rx.toast.info(t("Receipt copied."))],
                    aria_label=t("Copy the receipt"),
                ),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.text(t_value(RECEIPT_EXPLANATION), size="2", color_scheme="gray"),
            spacing="2",
            align="start",
            width="100%",
        ),
        width="100%",
        id="receipt-panel",
    )
