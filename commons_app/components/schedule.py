"""A poll's opening and closing times in the viewer's time zone and language, with a countdown.

The times are formatted in the browser (``Intl.DateTimeFormat`` with ``SessionState.lang`` as
the locale, in the browser's own time zone) by a small React component,
``assets/poll_schedule.jsx``; every word it shows comes from here, through ``commons_app.i18n``.

When an opening or closing time passes while the page is open, the component calls
``on_cross`` once: the page's state reads the poll again from the server, which alone decides
whether the poll is open (a ballot sent after the close is refused there whatever this shows).
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex_base.event import EventHandler, no_args_event_spec

from commons_app.i18n import t
from commons_app.state.session import SessionState


class PollSchedule(rx.Component):
    """``assets/poll_schedule.jsx`` (no npm package: plain React and the browser's Intl)."""

    library = rx.asset("poll_schedule.jsx").importable_path
    tag = "PollSchedule"

    opens_at: rx.Var[str]
    closes_at: rx.Var[str]
    status: rx.Var[str]
    lang: rx.Var[str]
    labels: rx.Var[dict[str, str]]
    compact: rx.Var[bool]
    on_cross: EventHandler[no_args_event_spec]


def _labels() -> dict[str, rx.Var]:
    # Whole sentences, one msgid each; the component fills %(when)s, %(countdown)s and the numbers.
    return {
        "opens": t("Opens %(when)s"),
        "opened": t("Opened %(when)s"),
        "closes": t("Closes %(when)s"),
        "closed": t("Closed %(when)s"),
        "opens_in": t("opens in %(countdown)s"),
        "closes_in": t("closes in %(countdown)s"),
        # Abbreviated units: the same form for every number (no plural to choose while ticking).
        "hours_minutes": t("%(hours)s h %(minutes)s min"),
        "minutes_seconds": t("%(minutes)s min %(seconds)s s"),
        "seconds": t("%(seconds)s s"),
        "now_open": t("This poll is now open."),
        "now_closed": t("This poll is now closed."),
    }


def poll_schedule(
    opens_at: rx.Var | str, closes_at: rx.Var | str, status: rx.Var | str, *, on_cross: Any = None, compact: bool = False
) -> rx.Component:
    """The schedule of a poll (``data-testid="poll-schedule"``; nothing when it has no times).

    Args:
        opens_at: ISO 8601 opening time, "" when none (``services.schedules.schedule_of``).
        closes_at: ISO 8601 closing time (or the time it was closed), "" when none.
        status: The poll's status as the server last read it.
        on_cross: The event that reads the poll again when a time passes.
        compact: Smaller text, for lists.
    """
    props: dict[str, Any] = {}
    if on_cross is not None:
        props["on_cross"] = on_cross
    return PollSchedule.create(
        opens_at=opens_at, closes_at=closes_at, status=status, lang=SessionState.lang,
        labels=rx.Var.create(_labels()), compact=compact, **props,
    )

