"""``/polls/new``: the poll creation form. Every rule is checked by ``services.polls``."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import reflex as rx

from commons_app import methods, routes
from commons_app.components.a11y import FORM_ERROR, POLL_TITLE, field_attrs, focus_on
from commons_app.components.layout import error_callout, page
from commons_app.i18n import N_, t, t_value, tr
from commons_app.methods.stv import STV_RULES
from commons_app.services import decisions, polls
from commons_app.services.errors import InvalidInput, NotAuthenticated, ServiceError
from commons_app.services.polls import MAX_OPTIONS, PollSpec
from commons_app.state.session import SessionState, login_redirect, private_state

VISIBILITY_LABELS = {
    "public": N_("Public — listed for everyone"),
    "unlisted": N_("Unlisted — only people with the link"),
    "private": N_("Private — only the voters on the roll"),
}
_BROWSER_TIME_ZONE = rx.Var("Intl.DateTimeFormat().resolvedOptions().timeZone", _var_type=str)
RESULTS_LABELS = {
    "live": N_("Live — everyone sees results as votes arrive"),
    "after_vote": N_("After voting — each voter sees results once they have voted"),
    "after_close": N_("After closing — results appear when the poll closes"),
    "creator": N_("Creator only"),
}
PASS_RULE_LABELS = {
    "none": N_("None — the winner is the outcome"),
    "majority": N_("Majority — more than half of the weighted ballots back the winner"),
    "two_thirds": N_("Two thirds of the weighted ballots"),
    "three_quarters": N_("Three quarters of the weighted ballots"),
    "unanimous": N_("Unanimous — every ballot backs the winner"),
}
assert set(PASS_RULE_LABELS) == set(decisions.PASS_RULES)


def method_labels() -> dict[str, str]:
    """Every registered method's label, by name, in list order."""
    return {m.name: m.label for m in methods.all_methods()}


def _whole_or_none(value: str, field: str) -> int | None:
    """A form's whole number (empty: None)."""
    text = value.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise InvalidInput(N_("Enter a whole number."), field=field)
    return int(text)


def _percent_or_none(value: str, field: str) -> float | None:
    """A form's percentage (empty: None) as a share of 1."""
    text = value.strip().rstrip("%").strip()
    if not text:
        return None
    try:
        percent = float(text)
    except ValueError:
        raise InvalidInput(N_("Enter a percentage, e.g. 50."), field=field) from None
    return round(percent / 100, 6)


def parse_local_time(value: str, tz_name: str, field: str) -> datetime | None:
    """A ``datetime-local`` value read in the browser's time zone."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(N_("Enter a valid date and time."), field=field) from None
    try:
        zone = ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return naive.replace(tzinfo=zone)


@private_state
class NewPollState(SessionState):
    """The creation form; nothing is saved until the service accepts all of it."""

    title: str = ""
    description: str = ""
    options: list[str] = ["", ""]
    method: str = "single"
    max_choices: str = ""
    visibility: str = "public"
    results_visibility: str = "live"
    opens_at: str = ""
    closes_at: str = ""
    anonymous: bool = False
    anonymity_threshold: str = "5"
    seats: str = "2"
    stv_rule: str = "scottish"
    quorum_ballots: str = ""
    quorum_percent: str = ""
    pass_rule: str = "none"
    link_access: bool = False
    remind_before_hours: str = ""
    time_zone: str = "UTC"
    field_errors: dict[str, str] = {}
    error: str = ""
    saving: bool = False

    @rx.event
    async def on_load(self):  # noqa: ANN201 - Reflex event return
        """Guard the page (the form reports the browser's time zone itself when it mounts)."""
        self.field_errors = {}
        self.error = ""
        await self.check_session()
        if not self.signed_in:
            return login_redirect(routes.NEW_POLL)
        return None

    @rx.event
    def set_time_zone(self, value: str) -> None:
        """Remember the browser's IANA time zone."""
        self.time_zone = str(value or "UTC")[:64]

    @rx.event
    def set_title(self, value: str) -> None:
        """Title input."""
        self.title = value[:400]

    @rx.event
    def set_description(self, value: str) -> None:
        """Description input."""
        self.description = value[:10000]

    @rx.event
    def set_method(self, value: str) -> None:
        """Method select."""
        self.method = value if methods.find(value) is not None else "single"

    @rx.var
    def method_params(self) -> list[str]:
        """The settings the chosen method takes (``max_choices``, ``seats`` ...)."""
        method = methods.find(self.method)
        return list(method.param_names()) if method is not None else []

    @rx.var
    def method_takes_pass_rule(self) -> bool:
        """Whether the chosen method may have a pass rule."""
        method = methods.find(self.method)
        return bool(method is not None and method.pass_rule)

    @rx.event
    def set_seats(self, value: str) -> None:
        """Seats input (STV)."""
        self.seats = value[:4]

    @rx.event
    def set_stv_rule(self, value: str) -> None:
        """STV counting rule select."""
        self.stv_rule = value[:16]

    @rx.event
    def set_quorum_ballots(self, value: str) -> None:
        """Quorum (ballots) input."""
        self.quorum_ballots = value[:10]

    @rx.event
    def set_quorum_percent(self, value: str) -> None:
        """Quorum (share of the roll, in percent) input."""
        self.quorum_percent = value[:12]

    @rx.event
    def set_pass_rule(self, value: str) -> None:
        """Pass rule select."""
        self.pass_rule = value[:16]

    @rx.event
    def set_max_choices(self, value: str) -> None:
        """Max approvals input."""
        self.max_choices = value[:4]

    @rx.event
    def set_visibility(self, value: str) -> None:
        """Visibility select."""
        self.visibility = value

    @rx.event
    def set_results_visibility(self, value: str) -> None:
        """Results visibility select."""
        self.results_visibility = value

    @rx.event
    def set_opens_at(self, value: str) -> None:
        """Opening time."""
        self.opens_at = value[:32]

    @rx.event
    def set_closes_at(self, value: str) -> None:
        """Closing time."""
        self.closes_at = value[:32]

    @rx.event
    def set_anonymous(self, value: bool) -> None:
        """Anonymity switch."""
        self.anonymous = bool(value)

    @rx.event
    def set_link_access(self, value: bool) -> None:
        """Quick open poll switch (``access: link``)."""
        self.link_access = bool(value)

    @rx.event
    def set_remind_before_hours(self, value: str) -> None:
        """Automatic reminder input."""
        self.remind_before_hours = value[:5]

    @rx.event
    def set_anonymity_threshold(self, value: str) -> None:
        """Anonymity threshold input."""
        self.anonymity_threshold = value[:5]

    @rx.event
    def set_option(self, index: int, value: str) -> None:
        """Edit one option's text."""
        if 0 <= index < len(self.options):
            self.options[index] = value[:400]

    @rx.event
    def add_option(self) -> None:
        """Add an empty option (up to the limit)."""
        if len(self.options) < MAX_OPTIONS:
            self.options.append("")

    @rx.event
    def remove_option(self, index: int) -> None:
        """Remove an option (a poll keeps at least two)."""
        if len(self.options) > 2 and 0 <= index < len(self.options):
            self.options.pop(index)

    @rx.event
    def move_option(self, index: int, delta: int) -> None:
        """Move an option up (-1) or down (+1)."""
        target = index + delta
        if 0 <= index < len(self.options) and 0 <= target < len(self.options):
            self.options[index], self.options[target] = self.options[target], self.options[index]

    def _spec(self) -> PollSpec:
        takes = self.method_params
        max_choices = _whole_or_none(self.max_choices, "max_choices") if "max_choices" in takes else None
        seats = _whole_or_none(self.seats, "seats") if "seats" in takes else None
        stv_rule = self.stv_rule if "stv_rule" in takes else None
        pass_rule = self.pass_rule if self.method_takes_pass_rule else None
        quorum_share = _percent_or_none(self.quorum_percent, "quorum_share") if self.visibility == "private" else None
        threshold = None
        if self.anonymous:
            if not self.anonymity_threshold.strip().isdigit():
                raise InvalidInput(N_("Enter a whole number."), field="anonymity_threshold")
            threshold = int(self.anonymity_threshold.strip())
        remind = None
        if self.remind_before_hours.strip():
            if not self.remind_before_hours.strip().isdigit():
                raise InvalidInput(N_("Enter a whole number of hours."), field="remind_before_hours")
            remind = int(self.remind_before_hours.strip())
        return PollSpec(
            title=self.title,
            description=self.description,
            options=[o for o in self.options],
            method=self.method,
            max_choices=max_choices,
            seats=seats,
            stv_rule=stv_rule,
            quorum_ballots=_whole_or_none(self.quorum_ballots, "quorum_ballots"),
            quorum_share=quorum_share,
            pass_rule=pass_rule,
            visibility=self.visibility,
            results_visibility=self.results_visibility,
            opens_at=parse_local_time(self.opens_at, self.time_zone, "opens_at"),
            closes_at=parse_local_time(self.closes_at, self.time_zone, "closes_at"),
            anonymous=self.anonymous,
            anonymity_threshold=threshold,
            access="link" if self.link_access else "account",
            remind_before_hours=remind,
        )

    @rx.event
    async def submit(self, _form: dict[str, Any] | None = None):  # noqa: ANN201 - Reflex event return
        """Create the poll, or show what is wrong beside the field."""
        self.field_errors = {}
        self.error = ""
        try:
            spec = self._spec()
        except InvalidInput as exc:
            self.field_errors = {exc.field or "form": exc.in_language(self.lang)}
            yield _focus_error(exc.field)
            return
        self.saving = True
        yield
        try:
            view = await self._call(polls.create_poll, spec=spec)
        except NotAuthenticated:
            self.saving = False
            yield login_redirect(routes.NEW_POLL)
            return
        except InvalidInput as exc:
            self.saving = False
            if exc.field:
                self.field_errors = {exc.field: exc.in_language(self.lang)}
            else:
                self.error = exc.in_language(self.lang)
            yield _focus_error(exc.field)
            return
        except ServiceError as exc:
            self.saving = False
            self.error = exc.in_language(self.lang)
            yield _focus_error(None)
            return
        poll_id = view.poll.id
        created = tr(self.lang, "Poll created.")  # read before reset()
        self.reset()
        # the new poll's page: the focus goes to its title once it has rendered
        yield [rx.redirect(routes.vote_url(poll_id)), rx.toast.success(created), focus_on(POLL_TITLE)]


def _focus_error(field: str | None) -> rx.event.EventSpec:
    """The focus goes to the field at fault (it is described by its error), else to the error."""
    if field:
        return focus_on(field, f"{field}-error", FORM_ERROR)
    return focus_on(FORM_ERROR)


def _error_for(field: str) -> rx.Component:
    return rx.cond(
        NewPollState.field_errors.contains(field),
        rx.text(NewPollState.field_errors[field], color_scheme="red", size="2", role="alert", id=f"{field}-error"),
    )


def _described(control: rx.Component, field: str, *, hint: bool) -> rx.Component:
    """Tie the field's hint (``<field>-hint``) and its error (``<field>-error``, while there is
    one) to the control, so that screen readers read them with it; mark it invalid meanwhile."""
    control.custom_attrs.update(field_attrs(field, invalid=NewPollState.field_errors.contains(field), hint=hint))
    return control


def _labelled(label: str | rx.Var, control: rx.Component, field: str, hint: str | rx.Var = "") -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=field, font_weight="500"),
        _described(control, field, hint=isinstance(hint, rx.Var) or bool(hint)),
        rx.text(hint, size="1", color_scheme="gray", id=f"{field}-hint") if isinstance(hint, rx.Var) or hint else rx.fragment(),
        _error_for(field),
        spacing="1",
        width="100%",
        align="stretch",
    )


def _native_select(field: str, value: rx.Var, on_change: Any, choices: dict[str, str]) -> rx.Component:
    return rx.el.select(
        *[rx.el.option(t_value(label), value=key) for key, label in choices.items()],
        id=field,
        name=field,
        value=value,
        on_change=on_change,
        class_name="commons-select",
    )


def _option_row(text: rx.Var, index: rx.Var) -> rx.Component:
    number = (index + 1).to_string()
    return rx.hstack(
        rx.el.label(t("Option %(number)s", number=number), html_for="option-" + number, style={"minWidth": "4.5rem", "whiteSpace": "nowrap"}),
        rx.input(
            id="option-" + number,
            name="option-" + number,
            value=text,
            on_change=lambda value: NewPollState.set_option(index, value),
            placeholder=t("Option text"),
            flex="1",
            min_width="0",
        ),
        rx.icon_button(rx.icon("arrow_up"), on_click=NewPollState.move_option(index, -1), variant="soft", aria_label=t("Move option %(number)s up", number=number), type="button"),
        rx.icon_button(rx.icon("arrow_down"), on_click=NewPollState.move_option(index, 1), variant="soft", aria_label=t("Move option %(number)s down", number=number), type="button"),
        rx.icon_button(rx.icon("trash_2"), on_click=NewPollState.remove_option(index), variant="soft", color_scheme="red", aria_label=t("Remove option %(number)s", number=number), type="button"),
        width="100%",
        align="center",
        spacing="2",
    )


def new_poll_page() -> rx.Component:
    """``/polls/new``"""
    return page(
        error_callout(NewPollState.error, id=FORM_ERROR),
        rx.cond(
            NewPollState.field_errors.contains("form"),
            rx.callout(NewPollState.field_errors["form"], color_scheme="red", role="alert", id=FORM_ERROR),
        ),
        rx.form(
            rx.vstack(
                _labelled(t("Title"), rx.input(id="title", name="title", value=NewPollState.title, on_change=NewPollState.set_title, size="3", width="100%"), "title"),
                _labelled(
                    t("Description"),
                    rx.text_area(id="description", name="description", value=NewPollState.description, on_change=NewPollState.set_description, rows="3", width="100%"),
                    "description",
                ),
                rx.el.fieldset(
                    rx.el.legend(t("Options"), style={"fontWeight": 500, "marginBottom": "0.5rem"}),
                    rx.vstack(rx.foreach(NewPollState.options, _option_row), spacing="2", width="100%"),
                    rx.button(rx.icon("plus"), t("Add option"), on_click=NewPollState.add_option, variant="soft", type="button", margin_top="0.5rem"),
                    _error_for("options"),
                    style={"border": "none", "padding": 0, "margin": 0, "width": "100%"},
                ),
                rx.grid(
                    _labelled(t("Voting method"), _native_select("method", NewPollState.method, NewPollState.set_method, method_labels()), "method"),
                    rx.cond(
                        NewPollState.method_params.contains("max_choices"),
                        _labelled(
                            t("Most approvals per ballot"),
                            rx.input(id="max_choices", name="max_choices", type="number", min=1, value=NewPollState.max_choices, on_change=NewPollState.set_max_choices, width="100%"),
                            "max_choices",
                            hint=t("Leave empty for no limit."),
                        ),
                    ),
                    rx.cond(
                        NewPollState.method_params.contains("seats"),
                        _labelled(
                            t("Seats"),
                            rx.input(id="seats", name="seats", type="number", min=1, value=NewPollState.seats, on_change=NewPollState.set_seats, width="100%"),
                            "seats",
                            hint=t("How many options are elected (fewer than the options)."),
                        ),
                    ),
                    rx.cond(
                        NewPollState.method_params.contains("stv_rule"),
                        _labelled(t("Counting rule"), _native_select("stv_rule", NewPollState.stv_rule, NewPollState.set_stv_rule, STV_RULES), "stv_rule"),
                    ),
                    _labelled(t("Visibility"), _native_select("visibility", NewPollState.visibility, NewPollState.set_visibility, VISIBILITY_LABELS), "visibility"),
                    _labelled(
                        t("Results visibility"),
                        _native_select("results_visibility", NewPollState.results_visibility, NewPollState.set_results_visibility, RESULTS_LABELS),
                        "results_visibility",
                    ),
                    _labelled(t("Opens at"), rx.input(id="opens_at", name="opens_at", type="datetime-local", value=NewPollState.opens_at, on_change=NewPollState.set_opens_at, width="100%"), "opens_at", hint=t("Empty: open now.")),
                    _labelled(t("Closes at"), rx.input(id="closes_at", name="closes_at", type="datetime-local", value=NewPollState.closes_at, on_change=NewPollState.set_closes_at, width="100%"), "closes_at", hint=t("Empty: open until you close it.")),
                    columns=rx.breakpoints(initial="1", sm="2"),
                    spacing="4",
                    width="100%",
                ),
                rx.text(t("Times are in your time zone: %(zone)s", zone=NewPollState.time_zone), size="1", color_scheme="gray"),
                rx.grid(
                    _labelled(
                        t("Quorum (ballots)"),
                        rx.input(id="quorum_ballots", name="quorum_ballots", type="number", value=NewPollState.quorum_ballots, on_change=NewPollState.set_quorum_ballots, width="100%"),
                        "quorum_ballots",
                        hint=t("Empty: no quorum. The result counts only with at least this many ballots."),
                    ),
                    rx.cond(
                        NewPollState.visibility == "private",
                        _labelled(
                            t("Quorum (% of the roll)"),
                            rx.input(id="quorum_share", name="quorum_share", type="number", step="any", value=NewPollState.quorum_percent, on_change=NewPollState.set_quorum_percent, width="100%"),
                            "quorum_share",
                            hint=t("Empty: none. The result counts only if at least this share of the roll votes."),
                        ),
                    ),
                    rx.cond(
                        NewPollState.method_takes_pass_rule,
                        _labelled(t("Pass rule"), _native_select("pass_rule", NewPollState.pass_rule, NewPollState.set_pass_rule, PASS_RULE_LABELS), "pass_rule"),
                    ),
                    columns=rx.breakpoints(initial="1", sm="2"),
                    spacing="4",
                    width="100%",
                ),
                rx.el.label(
                    rx.hstack(
                        # A Radix checkbox is a <button>: named by the text through aria-labelledby.
                        rx.checkbox(id="anonymous", name="anonymous", checked=NewPollState.anonymous, on_change=NewPollState.set_anonymous,
                                    aria_labelledby="anonymous-label"),
                        rx.text(t("Anonymous ballots — nobody, not even you, can see how a person voted"), id="anonymous-label"),
                        align="center",
                    ),
                ),
                rx.cond(
                    NewPollState.anonymous,
                    _labelled(
                        t("Anonymity threshold"),
                        rx.input(
                            id="anonymity_threshold", name="anonymity_threshold", type="number",
                            value=NewPollState.anonymity_threshold, on_change=NewPollState.set_anonymity_threshold,
                            width="8rem",
                        ),
                        "anonymity_threshold",
                        hint=t("Results appear, and move, only in steps of at least this many voters, "
                               "so no single ballot can be told apart."),
                    ),
                ),
                rx.el.label(
                    rx.hstack(
                        rx.checkbox(id="link_access", name="link_access", checked=NewPollState.link_access,
                                    on_change=NewPollState.set_link_access, aria_labelledby="link_access-label"),
                        rx.text(t("Quick open poll — anyone with the link votes at once, without an account, one ballot "
                                  "per browser (not for binding decisions)"), id="link_access-label"),
                        align="center",
                    ),
                ),
                _error_for("access"),
                _labelled(
                    t("Remind invited voters who have not voted, hours before closing"),
                    rx.input(
                        id="remind_before_hours", name="remind_before_hours", type="number", min=1,
                        value=NewPollState.remind_before_hours, on_change=NewPollState.set_remind_before_hours, width="8rem",
                    ),
                    "remind_before_hours",
                    hint=t("Empty: no automatic reminder. Needs a closing time and a roll with email addresses."),
                ),
                rx.button(t("Create poll"), type="submit", size="3", loading=NewPollState.saving),
                spacing="5",
                width="100%",
                align="stretch",
            ),
            on_submit=NewPollState.submit,
            # Evaluated in the compiled page: a server-sent rx.call_script needs eval(), which the
            # app's Content-Security-Policy forbids, so the zone silently stayed "UTC".
            on_mount=NewPollState.set_time_zone(_BROWSER_TIME_ZONE),
            width="100%",
        ),
        title=t("New poll"),
    )
