"""The roll editor: the voters of one poll and their weights, edited by its creator (or an admin)
on the poll's page and on the dashboard. Every rule is the service's (``services.rolls`` and
``services.polls.set_roll``); a refusal is shown beside the field it is about, and changes nothing."""

from __future__ import annotations

from typing import Any

import reflex as rx
from sqlmodel import Session

from commons_app.components.a11y import field_attrs, focus_on
from commons_app.components.confirm import confirm_dialog
from commons_app.components.layout import data_table
from commons_app.i18n import N_, t, t_value, tr, trn
from commons_app.models import User
from commons_app.services import invitations, polls, rolls
from commons_app.services.errors import NotAuthenticated, ServiceError
from commons_app.state.session import SessionState, login_redirect, private_state

ROWS_SHOWN = 500


def roll_context(*, session: Session, user: User, poll_id: str, lang: str = "en") -> dict[str, Any]:
    """The roll and what the editor says about it (owner or admin)."""
    poll = polls.get_managed_poll(session=session, poll_id=poll_id, user=user)
    rows = rolls.roll_rows(session=session, user=user, poll_id=poll_id)
    reasons = invitations.failure_reasons(session=session, user=user, poll_id=poll_id)
    for row in rows:
        row["invite_text"] = _invite_text(row, reasons, lang)
    return {
        "total": len(rows),
        "poll_id": poll.id,
        "title": poll.title,
        "private": poll.visibility == "private",
        "anonymous": poll.anonymous,
        "closed": polls.poll_status(poll) == "closed",
        "rows": rows[:ROWS_SHOWN],  # a long roll is edited by name or as CSV, not scrolled through
        "voted": sum(1 for r in rows if r["has_voted"]),
    }


# The outbox's statuses as the invitation column shows them (models.OUTBOX_STATUSES), for extraction.
INVITATION_STATUSES = (N_("queued"), N_("sent"), N_("failed"))


def _invite_text(row: dict[str, Any], reasons: dict[str, str], lang: str = "en") -> str:
    """The invitation column of one roll row ("" for an entry without an address); a status is a
    msgid the page translates, a failure a sentence in ``lang``."""
    if not row["email"]:
        return ""
    status = row["invitation"]
    if not status:
        return N_("not invited")
    if status == "failed":
        reason = reasons.get(row["email"].lower()) or tr(lang, N_("no reason recorded"))
        return tr(lang, N_("failed: %(reason)s"), reason=reason)
    return status


def _mails(lang: str, count: int, what: str) -> str:
    """"2 invitations queued for sending." (whole sentences, so each language plurals its own way)."""
    if what == "invitation":
        return trn(lang, "%(n)s invitation queued for sending.", "%(n)s invitations queued for sending.", count)
    return trn(lang, "%(n)s reminder queued for sending.", "%(n)s reminders queued for sending.", count)


@private_state
class RollEditorState(SessionState):
    """The roll of the poll being edited (``poll_id``; "": none)."""

    poll_id: str = ""
    info: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    voter_error: str = ""
    csv_error: str = ""
    csv_lines: list[str] = []
    csv_text: str = ""
    busy: bool = False
    form_key: int = 0
    mail_message: str = ""
    mail_error: str = ""

    async def _reload(self) -> Any:
        try:
            ctx = await self._call(roll_context, poll_id=self.poll_id, lang=self.lang)
        except NotAuthenticated:
            return login_redirect(self.router.url.path)
        except ServiceError as exc:
            self.poll_id, self.rows, self.info = "", [], {}
            self.voter_error = exc.in_language(self.lang)
            return None
        self.rows = ctx.pop("rows")
        self.info = ctx
        self.form_key += 1  # the weight fields show the stored weights again
        return None

    @rx.event
    async def load(self, poll_id: str):  # noqa: ANN201 - Reflex event return
        """Open the roll of ``poll_id`` (the service checks that the user manages it)."""
        self.poll_id = str(poll_id)[:64]
        self.voter_error, self.csv_error, self.csv_lines, self.csv_text = "", "", [], ""
        self.mail_message, self.mail_error = "", ""
        return await self._reload()

    @rx.event
    def close(self) -> None:
        """Hide the editor."""
        self.poll_id, self.rows, self.info = "", [], {}

    async def _edit(self, fn: Any, done: str, **kwargs: Any) -> Any:
        """Run one roll change; on refusal show why beside the voter field (nothing changed)."""
        self.voter_error = ""
        self.busy = True
        try:
            await self._call(fn, poll_id=self.poll_id, **kwargs)
        except NotAuthenticated:
            self.busy = False
            return login_redirect(self.router.url.path)
        except ServiceError as exc:
            self.busy = False
            self.voter_error = exc.in_language(self.lang)
            await self._reload()
            return focus_on("roll-voter")  # the field at fault, described by the message
        self.busy = False
        await self._reload()
        return [rx.toast.success(done), *self._page_refresh()]

    def _page_refresh(self) -> list[Any]:
        """The poll's own page shows whether its viewer may vote: read it again after a change."""
        if not str(self.router.url.path).startswith("/polls/"):
            return []
        from commons_app.pages.vote import VoteState  # the vote page embeds this editor

        return [VoteState.reload]

    @rx.event
    async def add(self, form: dict[str, Any]):  # noqa: ANN201 - Reflex event return
        """Add a voter by username (or email) with a weight, or change a listed voter's weight."""
        who = str(form.get("voter", "")).strip()[:320]
        weight = str(form.get("weight", "")).strip()[:40] or "1"
        return await self._edit(rolls.add_voter, tr(self.lang, "%(who)s is on the roll.", who=who), who=who, weight=weight)

    @rx.event
    async def remove(self, key: str):  # noqa: ANN201 - Reflex event return
        """Take a voter (by username, or address) off the roll."""
        key = str(key)[:320]
        return await self._edit(rolls.remove_voter, tr(self.lang, "%(who)s was removed.", who=key), key=key)

    @rx.event
    async def reweigh(self, form: dict[str, Any]):  # noqa: ANN201 - Reflex event return
        """Set one voter's weight (the row's form names the voter)."""
        key = str(form.get("key", ""))[:320]
        return await self._edit(rolls.set_weight, tr(self.lang, "Weight of %(who)s saved.", who=key), key=key, weight=str(form.get("weight", ""))[:40])

    @rx.event
    async def import_csv(self, form: dict[str, Any]):  # noqa: ANN201 - Reflex event return
        """Import a roll CSV (email,name,weight): all lines or none."""
        self.csv_error, self.csv_lines = "", []
        text = str(form.get("csv", ""))
        self.csv_text = text[: rolls.CSV_MAX_BYTES + 1]
        replace = bool(form.get("replace"))
        self.busy = True
        yield
        try:
            count = await self._call(rolls.import_csv, poll_id=self.poll_id, text=self.csv_text, replace=replace)
        except NotAuthenticated:
            self.busy = False
            yield login_redirect(self.router.url.path)
            return
        except rolls.RollCsvError as exc:
            self.busy = False
            self.csv_error, self.csv_lines = exc.in_language(self.lang), exc.lines
            yield focus_on("roll-csv")  # the field at fault, described by the message
            return
        except ServiceError as exc:
            self.busy = False
            self.csv_error = tr(self.lang, "Nothing was imported: %(reason)s", reason=exc.in_language(self.lang))
            await self._reload()
            yield focus_on("roll-csv")
            return
        self.busy = False
        self.csv_text = ""
        await self._reload()
        yield [rx.toast.success(trn(self.lang, "Roll imported: %(n)s voter.", "Roll imported: %(n)s voters.", count)), *self._page_refresh()]

    async def _mail(self, fn: Any, what: str, nothing: str) -> Any:
        """Queue invitations or reminders through the service (which checks the user manages
        the poll and that it is open); report how many were queued, or why none."""
        self.mail_message, self.mail_error = "", ""
        self.busy = True
        try:
            count = await self._call(fn, poll_id=self.poll_id)
        except NotAuthenticated:
            self.busy = False
            return login_redirect(self.router.url.path)
        except ServiceError as exc:
            self.busy = False
            self.mail_error = exc.in_language(self.lang)
            return None
        self.busy = False
        self.mail_message = _mails(self.lang, count, what) if count else tr(self.lang, nothing)
        return await self._reload()  # the invitation column shows the new mails

    @rx.event
    async def send_invitations(self):  # noqa: ANN201 - Reflex event return
        """Invite each voter with an address who has not been invited yet."""
        return await self._mail(invitations.send_invitations, "invitation",
                                N_("Nothing to send: every voter with an email address has already been invited."))

    @rx.event
    async def send_reminders(self):  # noqa: ANN201 - Reflex event return
        """Remind each invited voter who has not voted."""
        return await self._mail(invitations.send_reminders, "reminder",
                                N_("Nothing to send: every invited voter has voted (or nobody has been invited yet)."))

    @rx.event
    async def export_csv(self):  # noqa: ANN201 - Reflex event return
        """Download the roll as CSV."""
        try:
            text = await self._call(rolls.export_csv, poll_id=self.poll_id)
        except NotAuthenticated:
            return login_redirect(self.router.url.path)
        except ServiceError as exc:
            self.csv_error = exc.in_language(self.lang)
            return None
        return rx.download(data=text.encode("utf-8"), filename=f"roll-{self.poll_id}.csv", mime_type="text/csv")


def _label(text: rx.Var | str, html_for: str) -> rx.Component:
    return rx.el.label(text, html_for=html_for, style={"fontWeight": 500, "fontSize": "var(--font-size-2)"})


def _row(row: rx.Var) -> rx.Component:
    key = row["key"].to(str)  # the username, or the address of a voter without an account
    field_id = "roll-weight-" + key
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.text(key, style={"wordBreak": "break-all"}),
                rx.hstack(
                    rx.el.span(
                        rx.cond(row["has_voted"].to(bool), rx.badge(t("voted"), color_scheme="green"), rx.badge(t("not yet"), color_scheme="gray")),
                        custom_attrs={"data-testid": "roll-voted-" + key},
                    ),
                    spacing="1",
                    wrap="wrap",
                ),
                # On a phone the invitation column is hidden (see roll_editor): its status shows here.
                rx.cond(
                    row["invite_text"].to(str) != "",
                    rx.text(t("Invitation: %(status)s", status=t_value(row["invite_text"].to(str))), size="1", style={"@media (min-width: 768px)": {"display": "none"}}),
                ),
                spacing="1",
                align="start",
            ),
        ),
        rx.table.cell(
            rx.text(
                rx.cond(row["invite_text"].to(str) != "", t_value(row["invite_text"].to(str)), t("no email")),
                size="1",
                color=rx.cond(row["invitation"].to(str) == "failed", "var(--red-11)", "inherit"),
                style={"wordBreak": "break-word"},
            ),
            custom_attrs={"data-testid": "roll-invitation-" + key},
        ),
        rx.table.cell(
            rx.form(
                rx.hstack(
                    rx.el.input(type="hidden", name="key", value=key),
                    rx.el.label(t("Weight of %(who)s", who=key), html_for=field_id, style={"position": "absolute", "left": "-9999px"}),
                    rx.input(id=field_id, name="weight", default_value=row["weight_text"].to(str), width="4.5rem", size="2", input_mode="decimal"),
                    rx.button(t("Set"), type="submit", variant="soft", size="1", aria_label=t("Set weight of %(who)s", who=key)),
                    spacing="2",
                    align="center",
                ),
                on_submit=RollEditorState.reweigh,
                key=RollEditorState.form_key.to_string() + key,
            ),
        ),
        rx.table.cell(
            confirm_dialog(
                rx.button(t("Remove"), variant="soft", color_scheme="red", size="1",
                          aria_label=t("Remove %(who)s", who=key), disabled=RollEditorState.busy),
                title=t("Remove %(voter)s from the roll?", voter=key),
                description=t("%(voter)s will no longer be able to vote in this poll.", voter=key),
                confirm_label=t("Remove voter"),
                on_confirm=RollEditorState.remove(key),
            ),
        ),
    )


def _add_form() -> rx.Component:
    return rx.form(
        rx.flex(
            rx.vstack(
                _label(t("Username or email"), "roll-voter"),
                rx.input(id="roll-voter", name="voter", placeholder=t("username"), auto_complete="off", width="100%",
                         custom_attrs=field_attrs("roll-voter", invalid=RollEditorState.voter_error != "")),
                spacing="1",
                flex="1 1 12rem",
            ),
            rx.vstack(
                _label(t("Weight"), "roll-weight"),
                rx.input(id="roll-weight", name="weight", default_value="1", width="6rem", input_mode="decimal"),
                spacing="1",
            ),
            rx.button(t("Add voter"), type="submit", loading=RollEditorState.busy),
            gap="3",
            wrap="wrap",
            align="end",
            width="100%",
        ),
        rx.cond(
            RollEditorState.voter_error != "",
            rx.text(RollEditorState.voter_error, color_scheme="red", size="2", role="alert", id="roll-voter-error", margin_top="0.5rem"),
        ),
        on_submit=RollEditorState.add,
        reset_on_submit=False,
        width="100%",
    )


# Reads the chosen file into the CSV box in the browser: the file goes to the server with the
# form, through the same checks as pasted text (and the same size limit).
_READ_CSV_FILE = """(() => {
  const input = document.getElementById("roll-csv-file");
  const file = input && input.files && input.files[0];
  if (!file) return;
  file.text().then((text) => { document.getElementById("roll-csv").value = text; });
})()"""


def _csv_form() -> rx.Component:
    # The file picker stays outside the form: only the CSV box is submitted.
    picker = rx.hstack(
        _label(t("CSV file"), "roll-csv-file"),
        rx.el.input(type="file", id="roll-csv-file", accept=".csv,text/csv,text/plain",
                    on_change=rx.call_script(_READ_CSV_FILE), style={"maxWidth": "100%", "fontSize": "var(--font-size-2)"}),
        spacing="2",
        align="center",
        wrap="wrap",
    )
    return rx.vstack(picker, _csv_fields(), spacing="2", width="100%")


def _csv_fields() -> rx.Component:
    return rx.form(
        rx.vstack(
            _label(t("Roll CSV"), "roll-csv"),
            rx.text(t("Choose a file or paste it: one voter a line under the header email,name,weight (name: a username). "
                      "All lines are checked first: nothing is saved while one is wrong."), size="1", color_scheme="gray",
                    id="roll-csv-hint"),
            rx.text_area(id="roll-csv", name="csv", default_value=RollEditorState.csv_text, rows="5", width="100%",
                         placeholder="email,name,weight\n,alice,1\n,bob,2", style={"fontFamily": "var(--code-font-family)"},
                         custom_attrs=field_attrs("roll-csv", invalid=RollEditorState.csv_error != "", hint=True)),
            rx.hstack(
                rx.el.input(type="checkbox", name="replace", id="roll-csv-replace"),
                rx.el.label(t("Replace the whole roll (otherwise add and update)"), html_for="roll-csv-replace",
                            style={"fontSize": "var(--font-size-2)"}),
                align="center",
                spacing="2",
            ),
            rx.hstack(
                rx.button(t("Import CSV"), type="submit", loading=RollEditorState.busy, variant="soft"),
                rx.button(t("Export CSV"), type="button", on_click=RollEditorState.export_csv, variant="outline"),
                spacing="3",
                wrap="wrap",
            ),
            rx.cond(
                RollEditorState.csv_error != "",
                rx.box(
                    rx.text(RollEditorState.csv_error, weight="medium"),
                    rx.el.ul(rx.foreach(RollEditorState.csv_lines, lambda line: rx.el.li(line)), style={"margin": "0.25rem 0 0 1.25rem"}),
                    role="alert",
                    id="roll-csv-error",
                    color="var(--red-11)",
                    font_size="var(--font-size-2)",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        on_submit=RollEditorState.import_csv,
        key=RollEditorState.form_key.to_string(),
        width="100%",
    )


def _mail_panel() -> rx.Component:
    return rx.vstack(
        rx.text(t("Voters added by email get a personal voting link by mail; reminders go to invited voters "
                  "who have not voted yet."), size="2", color_scheme="gray"),
        rx.hstack(
            rx.button(t("Send invitations"), type="button", on_click=RollEditorState.send_invitations,
                      loading=RollEditorState.busy, variant="soft"),
            rx.button(t("Send reminders"), type="button", on_click=RollEditorState.send_reminders,
                      loading=RollEditorState.busy, variant="outline"),
            spacing="3",
            wrap="wrap",
        ),
        rx.el.p(RollEditorState.mail_message, role="status", id="roll-mail-status",
                style={"fontSize": "var(--font-size-2)", "margin": 0}),
        rx.cond(
            RollEditorState.mail_error != "",
            rx.text(RollEditorState.mail_error, color_scheme="red", size="2", role="alert", id="roll-mail-error"),
        ),
        spacing="2",
        width="100%",
    )


def roll_editor() -> rx.Component:
    """The editor of ``RollEditorState``'s poll (nothing while none is open)."""
    info = RollEditorState.info
    return rx.cond(
        RollEditorState.poll_id != "",
        rx.card(
            rx.vstack(
                rx.heading(t("Voters: %(title)s", title=info["title"]), size="4", as_="h2"),
                rx.text(
                    rx.cond(
                        info["private"].to(bool),
                        t("This poll is private: only the voters listed here may see it and vote (you manage it, so you see it; "
                          "add yourself to vote)."),
                        t("Anyone signed in may vote here with weight 1; the roll gives listed voters another weight."),
                    ),
                    size="2",
                    color_scheme="gray",
                ),
                rx.cond(
                    info["anonymous"].to(bool),
                    rx.text(t("Anonymous poll: all weights equal, or each weight held by enough voters; weights are fixed once it opens."),
                            size="2", color_scheme="gray"),
                ),
                rx.text(
                    t("%(total)s on the roll, %(voted)s have voted.", total=info["total"], voted=info["voted"]),
                    size="2",
                    custom_attrs={"data-testid": "roll-count"},
                ),
                rx.cond(info["closed"].to(bool), rx.text(t("The poll is closed: its roll can no longer change."), size="2", color_scheme="amber")),
                _add_form(),
                rx.cond(
                    info["total"].to(int) > RollEditorState.rows.length(),
                    rx.text(t("Showing the first %(n)s voters by name; export the CSV "
                              "for all of them. Adding a listed voter again changes their weight.", n=RollEditorState.rows.length()), size="2", color_scheme="gray"),
                ),
                rx.cond(
                    RollEditorState.rows.length() > 0,
                    rx.box(
                        data_table([t("Voter"), t("Invitation"), t("Weight"), ""], rx.foreach(RollEditorState.rows, _row), size="1"),
                        # Four columns do not fit a phone: the status moves under the voter's name.
                        style={"@media (max-width: 767px)": {"& th:nth-child(2), & td:nth-child(2)": {"display": "none"}}},
                        width="100%",
                    ),
                    rx.text(t("Nobody is on the roll yet."), size="2"),
                ),
                _mail_panel(),
                _csv_form(),
                spacing="3",
                width="100%",
                align="stretch",
            ),
            width="100%",
            id="roll-editor",
        ),
    )
