"""The outbox section of ``/admin``: every mail the app has queued, with its status and body.

Without ``SMTP_URL`` mails stay in the outbox: this is where an admin (or a newcomer trying the
app on one machine) reads them and follows their links. The service checks the admin role.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from sqlmodel import Session

from commons_app import routes
from commons_app.components.layout import data_table
from commons_app.components.pager import clamp_page, page_count, page_text, pager, showing_text
from commons_app.i18n import N_, format_when_utc, t
from commons_app.models import User, as_utc
from commons_app.services import outbox
from commons_app.services.errors import Forbidden, NotAuthenticated
from commons_app.state.session import SessionState, login_redirect, private_state

OUTBOX_PAGE_SIZE = 20


def _when(lang: str, value: Any) -> str:
    return "" if value is None else format_when_utc(lang, as_utc(value) or value, seconds=True)


def outbox_page(*, session: Session, user: User, page: int = 0, lang: str = "en") -> dict[str, Any]:
    """One page of outbox mails, newest first (admins only); past the end gives the last page."""
    page = max(0, page)
    rows, total = outbox.list_mails(session=session, actor=user, skip=page * OUTBOX_PAGE_SIZE, limit=OUTBOX_PAGE_SIZE)
    if not rows and page > 0:
        page = clamp_page(page, total, OUTBOX_PAGE_SIZE)
        rows, total = outbox.list_mails(session=session, actor=user, skip=page * OUTBOX_PAGE_SIZE, limit=OUTBOX_PAGE_SIZE)
    return {
        "page": page,
        "total": total,
        "mails": [
            {
                "id": m.id,
                "to": m.to_address,
                "subject": m.subject,
                "kind": m.kind,
                "status": m.status,
                "attempts": m.attempts,
                "last_error": m.last_error or "",
                "body": m.body,
                "created": _when(lang, m.created_at),
                "sent": _when(lang, m.sent_at),
            }
            for m in rows
        ],
    }


@private_state
class OutboxAdminState(SessionState):
    """The outbox list on ``/admin``; a member gets nothing (the admin page shows the refusal)."""

    mails: list[dict[str, Any]] = []
    mails_total: int = 0
    mails_at: int = 0

    @rx.var
    def mails_showing(self) -> str:
        """"Showing 1–20 of 45 mails"."""
        return showing_text(self.mails_at, self.mails_total, OUTBOX_PAGE_SIZE, N_("mails"), lang=self.lang)

    @rx.var
    def mails_label(self) -> str:
        """"Page 1 of 3" of the outbox."""
        return page_text(self.mails_at, self.mails_total, OUTBOX_PAGE_SIZE, lang=self.lang)

    @rx.var
    def mails_has_next(self) -> bool:
        """Whether older mails exist."""
        return self.mails_at + 1 < page_count(self.mails_total, OUTBOX_PAGE_SIZE)

    async def _load(self) -> Any:
        try:
            data = await self._call(outbox_page, page=self.mails_at, lang=self.lang)
        except NotAuthenticated:
            return login_redirect(routes.ADMIN)
        except Forbidden:
            self.mails, self.mails_total = [], 0
            return None
        self.mails, self.mails_total, self.mails_at = data["mails"], data["total"], data["page"]
        return None

    @rx.event
    async def on_load(self):  # noqa: ANN201 - Reflex event return
        """Load the newest outbox mails (admins only)."""
        self.mails_at = 0
        return await self._load()

    @rx.event
    async def refresh(self):  # noqa: ANN201 - Reflex event return
        """Reload the current page (statuses change as the sender works)."""
        return await self._load()

    @rx.event
    async def next_mails(self):  # noqa: ANN201 - Reflex event return
        """Show older mails."""
        self.mails_at += 1
        return await self._load()

    @rx.event
    async def previous_mails(self):  # noqa: ANN201 - Reflex event return
        """Show newer mails."""
        self.mails_at = max(0, self.mails_at - 1)
        return await self._load()


def _status_badge(status: rx.Var) -> rx.Component:
    return rx.badge(
        status,
        color_scheme=rx.match(status, ("sent", "green"), ("failed", "red"), "amber"),
        data_testid="outbox-status",
    )


def _mail_row(mail: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(mail["created"]),
        rx.table.cell(mail["to"], data_testid="outbox-to"),
        rx.table.cell(
            rx.el.details(
                rx.el.summary(mail["subject"], data_testid="outbox-subject"),
                rx.el.pre(mail["body"], data_testid="outbox-body", white_space="pre-wrap", word_break="break-word",
                          margin="0.5rem 0 0 0", font_size="var(--font-size-1)"),
                open=True,
            ),
        ),
        rx.table.cell(_status_badge(mail["status"])),
        rx.table.cell(mail["attempts"], data_testid="outbox-attempts"),
        rx.table.cell(mail["last_error"], data_testid="outbox-last-error"),
        data_testid="outbox-mail",
    )


def outbox_section() -> rx.Component:
    """The outbox heading, table and pager for ``/admin``."""
    return rx.vstack(
        rx.hstack(
            rx.heading(t("Mail outbox"), size="5", as_="h2"),
            rx.button(t("Refresh"), on_click=OutboxAdminState.refresh, variant="soft", size="1"),
            align="center",
            spacing="3",
        ),
        rx.text(
            t("Every mail the app has promised. Without SMTP_URL nothing is sent: mails stay here, queued, "
              "and the server log prints each one."),
            size="2",
            color_scheme="gray",
        ),
        rx.cond(
            OutboxAdminState.mails_total == 0,
            rx.text(t("No mails yet."), size="2", data_testid="outbox-empty"),
            data_table(
                [t("Queued (UTC)"), t("To"), t("Subject and text"), t("Status"), t("Attempts"), t("Last error")],
                rx.foreach(OutboxAdminState.mails, _mail_row),
                size="1",
            ),
        ),
        pager(
            name="Mail outbox",
            showing=OutboxAdminState.mails_showing,
            label=OutboxAdminState.mails_label,
            on_previous=OutboxAdminState.previous_mails,
            on_next=OutboxAdminState.next_mails,
            has_previous=OutboxAdminState.mails_at > 0,
            has_next=OutboxAdminState.mails_has_next,
        ),
        spacing="3",
        width="100%",
        align="stretch",
        id="admin-outbox",
    )
