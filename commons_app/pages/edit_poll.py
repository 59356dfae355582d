"""``/polls/[poll_id]/edit``: change a poll after creating it (owner or admin).

Which fields may change is decided once, by ``services.polls`` (``editable_fields`` for what the
page shows as locked, ``update_poll`` for what it accepts): every field before the first ballot;
then the title, description and closing time; nothing once the poll is closed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import reflex as rx
from sqlmodel import Session

from commons_app import routes
from commons_app.components.layout import error_callout, link_button, page, spinner_block
from commons_app.i18n import t, tr
from commons_app.models import User, as_utc
from commons_app.pages.new_poll import (
    RESULTS_LABELS,
    VISIBILITY_LABELS,
    _native_select,
    method_labels,
    parse_local_time,
)
from commons_app.services import polls
from commons_app.services.errors import InvalidInput, NotAuthenticated, ServiceError
from commons_app.state.session import SessionState, login_redirect, private_state


def _local(value: datetime | None, zone: ZoneInfo) -> str:
    """A stored time as a ``datetime-local`` value in the browser's zone ("" for none)."""
    aware = as_utc(value)
    return aware.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if aware else ""


def edit_context(*, session: Session, user: User, poll_id: str) -> dict[str, Any]:
    """What the edit form starts from; only a poll's managers get it (others: 403/404)."""
    poll = polls.get_managed_poll(session=session, poll_id=poll_id, user=user)
    return {
        "poll": poll,
        "options": [o.text for o in polls.options_of(session=session, poll_id=poll_id)],
        "status": polls.poll_status(poll),
        "editable": sorted(polls.editable_fields(session=session, poll=poll)),
    }


@private_state
class EditPollState(SessionState):
    """The edit form: loaded from the poll, saved through ``polls.update_poll``."""

    poll_id: str = ""
    loaded: bool = False
    title: str = ""
    description: str = ""
    options: list[str] = []
    method: str = "single"
    visibility: str = "public"
    results_visibility: str = "live"
    opens_at: str = ""
    closes_at: str = ""
    initial_opens_at: str = ""
    initial_closes_at: str = ""
    editable: list[str] = []
    status: str = ""
    time_zone: str = "UTC"
    error: str = ""
    field_error: str = ""
    saving: bool = False

    @rx.var
    def lock_reason(self) -> str:
        """Why some fields are read-only ("" when none is)."""
        if not self.loaded:
            return ""
        if self.status == "closed":
            return tr(self.lang, "This poll is closed: nothing about it can change any more.")
        if "options" not in self.editable:
            return tr(
                self.lang,
                "Ballots have been cast: only the title, description and closing time can change now. "
                "The other settings are what the voters voted under.",
            )
        return ""

    def _zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.time_zone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    @rx.event
    async def load(self, time_zone: str = "UTC"):  # noqa: ANN201 - Reflex event return
        """Load the poll (the form sends the browser's time zone when it mounts)."""
        self.time_zone = str(time_zone or "UTC")[:64]
        self.poll_id = routes.poll_id_from_path(self.router.url.path)
        self.error = self.field_error = ""
        self.loaded = False
        try:
            ctx = await self._call(edit_context, poll_id=self.poll_id)
        except NotAuthenticated:
            return login_redirect(routes.edit_url(self.poll_id))
        except ServiceError as exc:
            self.error = exc.message
            return None
        poll, zone = ctx["poll"], self._zone()
        self.title, self.description = poll.title, poll.description or ""
        self.options = ctx["options"]
        self.method, self.visibility, self.results_visibility = poll.method, poll.visibility, poll.results_visibility
        self.opens_at = self.initial_opens_at = _local(poll.opens_at, zone)
        self.closes_at = self.initial_closes_at = _local(poll.closes_at, zone)
        self.editable, self.status = ctx["editable"], ctx["status"]
        self.loaded = True
        return None

    @rx.event
    def set_title(self, value: str) -> None:
        """Title input."""
        self.title = value[:400]

    @rx.event
    def set_description(self, value: str) -> None:
        """Description input."""
        self.description = value[:10000]

    @rx.event
    def set_option(self, index: int, value: str) -> None:
        """One option's text."""
        if 0 <= index < len(self.options):
            self.options[index] = value[:400]

    @rx.event
    def add_option(self) -> None:
        """One more (empty) option."""
        if len(self.options) < polls.MAX_OPTIONS:
            self.options.append("")

    @rx.event
    def remove_option(self, index: int) -> None:
        """Drop an option (a poll keeps at least two)."""
        if len(self.options) > 2 and 0 <= index < len(self.options):
            self.options.pop(index)

    @rx.event
    def set_method(self, value: str) -> None:
        """Method select."""
        self.method = str(value)[:32]

    @rx.event
    def set_visibility(self, value: str) -> None:
        """Visibility select."""
        self.visibility = str(value)[:16]

    @rx.event
    def set_results_visibility(self, value: str) -> None:
        """Results visibility select."""
        self.results_visibility = str(value)[:16]

    @rx.event
    def set_opens_at(self, value: str) -> None:
        """Opening time."""
        self.opens_at = str(value)[:32]

    @rx.event
    def set_closes_at(self, value: str) -> None:
        """Closing time."""
        self.closes_at = str(value)[:32]

    def _changes(self) -> dict[str, Any]:
        """The fields the form may change now; times only when the form changed them (a
        minute-precise round trip must not count as a change)."""
        form: dict[str, Any] = {
            "title": self.title, "description": self.description, "options": list(self.options),
            "method": self.method, "visibility": self.visibility, "results_visibility": self.results_visibility,
        }
        if self.opens_at != self.initial_opens_at:
            form["opens_at"] = parse_local_time(self.opens_at, self.time_zone, "opens_at")
        if self.closes_at != self.initial_closes_at:
            form["closes_at"] = parse_local_time(self.closes_at, self.time_zone, "closes_at")
        return {name: value for name, value in form.items() if name in self.editable}

    @rx.event
    async def save(self, _form: dict[str, Any] | None = None):  # noqa: ANN201 - Reflex event return
        """Save through the service (it checks the owner and every rule again)."""
        self.error = self.field_error = ""
        try:
            changes = self._changes()
        except InvalidInput as exc:
            self.field_error = exc.message
            return
        self.saving = True
        yield
        try:
            await self._call(polls.update_poll, poll_id=self.poll_id, changes=changes)
        except NotAuthenticated:
            self.saving = False
            yield login_redirect(routes.edit_url(self.poll_id))
            return
        except ServiceError as exc:
            self.saving = False
            self.error = exc.message
            return
        self.saving = False
        yield [rx.redirect(routes.vote_url(self.poll_id)), rx.toast.success(tr(self.lang, "Poll saved."))]


def _can(field: str) -> rx.Var:
    return EditPollState.editable.contains(field)


def _field(label: rx.Var, field: str, control: rx.Component) -> rx.Component:
    """A labelled control; read-only (named as such) when the service says it is locked."""
    return rx.vstack(
        rx.el.label(label, html_for=field, font_weight="500"),
        control,
        rx.cond(~_can(field), rx.text(t("Locked"), size="1", color_scheme="gray", id=f"{field}-locked")),
        spacing="1",
        width="100%",
        align="stretch",
    )


def _locked(control: rx.Component, field: str) -> rx.Component:
    control.custom_attrs["aria-describedby"] = rx.cond(~_can(field), f"{field}-locked edit-lock-reason", None)
    return control


def _option_row(text: rx.Var, index: rx.Var) -> rx.Component:
    number = (index + 1).to_string()
    return rx.hstack(
        rx.el.label(t("Option %(n)s", n=number), html_for="option-" + number, style={"minWidth": "4.5rem"}),
        _locked(
            rx.input(id="option-" + number, value=text, read_only=~_can("options"),
                     on_change=lambda value: EditPollState.set_option(index, value), flex="1", min_width="0"),
            "options",
        ),
        rx.cond(
            _can("options"),
            rx.icon_button(rx.icon("trash_2"), on_click=EditPollState.remove_option(index), variant="soft",
                           color_scheme="red", aria_label=t("Remove option %(n)s", n=number), type="button"),
        ),
        width="100%",
        align="center",
        spacing="2",
    )


def _select(field: str, value: rx.Var, on_change: Any, choices: dict[str, str]) -> rx.Component:
    select = _native_select(field, value, on_change, choices)
    select.custom_attrs["disabled"] = ~_can(field)
    return _locked(select, field)


def _time(field: str, value: rx.Var, on_change: Any) -> rx.Component:
    return _locked(rx.input(id=field, type="datetime-local", value=value, on_change=on_change,
                            read_only=~_can(field), width="100%"), field)


def _form() -> rx.Component:
    s = EditPollState
    return rx.form(
        rx.vstack(
            rx.cond(
                s.lock_reason != "",
                rx.callout(s.lock_reason, icon="lock", color_scheme="amber", id="edit-lock-reason", role="status"),
            ),
            _field(t("Title"), "title", _locked(rx.input(id="title", value=s.title, on_change=s.set_title,
                                                         read_only=~_can("title"), size="3", width="100%"), "title")),
            _field(t("Description"), "description", _locked(
                rx.text_area(id="description", value=s.description, on_change=s.set_description,
                             read_only=~_can("description"), rows="3", width="100%"), "description")),
            rx.el.fieldset(
                rx.el.legend(t("Options"), style={"fontWeight": 500, "marginBottom": "0.5rem"}),
                rx.vstack(rx.foreach(s.options, _option_row), spacing="2", width="100%"),
                rx.cond(
                    _can("options"),
                    rx.button(rx.icon("plus"), t("Add option"), on_click=s.add_option, variant="soft", type="button",
                              margin_top="0.5rem"),
                    rx.text(t("Locked"), size="1", color_scheme="gray", id="options-locked"),
                ),
                style={"border": "none", "padding": 0, "margin": 0, "width": "100%"},
            ),
            rx.grid(
                _field(t("Voting method"), "method", _select("method", s.method, s.set_method, method_labels())),
                _field(t("Visibility"), "visibility", _select("visibility", s.visibility, s.set_visibility, VISIBILITY_LABELS)),
                _field(t("Results visibility"), "results_visibility",
                       _select("results_visibility", s.results_visibility, s.set_results_visibility, RESULTS_LABELS)),
                _field(t("Opens at"), "opens_at", _time("opens_at", s.opens_at, s.set_opens_at)),
                _field(t("Closes at"), "closes_at", _time("closes_at", s.closes_at, s.set_closes_at)),
                columns=rx.breakpoints(initial="1", sm="2"),
                spacing="4",
                width="100%",
            ),
            rx.text(t("Times are in your time zone: %(zone)s", zone=s.time_zone), size="1", color_scheme="gray"),
            rx.cond(s.field_error != "", rx.text(s.field_error, color_scheme="red", size="2", role="alert")),
            rx.flex(
                rx.button(t("Save changes"), type="submit", size="3", loading=s.saving, disabled=s.editable.length() == 0),
                link_button("Cancel", "/polls/" + s.poll_id),
                gap="3",
                align="center",
                wrap="wrap",
            ),
            spacing="5",
            width="100%",
            align="stretch",
        ),
        on_submit=s.save,
        width="100%",
    )


_BROWSER_TIME_ZONE = rx.Var("Intl.DateTimeFormat().resolvedOptions().timeZone", _var_type=str)


def edit_poll_page() -> rx.Component:
    """``/polls/[poll_id]/edit``"""
    return page(
        error_callout(EditPollState.error),
        rx.box(
            rx.cond(EditPollState.loaded, _form(), rx.cond(EditPollState.error == "", spinner_block())),
            # The browser's zone comes from the compiled page (a server-sent script needs eval(),
            # which the Content-Security-Policy forbids); see new_poll.py.
            on_mount=EditPollState.load(_BROWSER_TIME_ZONE),
            width="100%",
        ),
        title="Edit poll",
    )
