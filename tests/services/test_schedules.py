"""The times the pages show for a poll's schedule, and how long a handler waits for its clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from commons_app.models import Poll
from commons_app.services.schedules import CLOCK_SKEW_SECONDS, schedule_of, seconds_to_crossing

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _poll(**times: datetime | None) -> Poll:
    return Poll(title="p", created_by=1, **times)


def test_no_times_show_nothing() -> None:
    assert schedule_of(_poll()) == {"opens_at": "", "closes_at": ""}


def test_times_are_iso_in_utc_even_when_stored_naive() -> None:
    # SQLite hands back naive datetimes: they are UTC.
    shown = schedule_of(_poll(opens_at=datetime(2026, 12, 3, 15, 30), closes_at=NOW + timedelta(days=2)))
    assert shown == {"opens_at": "2026-12-03T15:30:00+00:00", "closes_at": "2026-12-04T12:00:00+00:00"}


def test_a_poll_closed_by_hand_before_its_time_shows_when_it_was_closed() -> None:
    closed = NOW + timedelta(hours=1)
    shown = schedule_of(_poll(closes_at=NOW + timedelta(days=1), closed_at=closed))
    assert shown["closes_at"] == closed.isoformat()
    # Without a closing time too.
    assert schedule_of(_poll(closed_at=closed))["closes_at"] == closed.isoformat()


def test_a_poll_sealed_after_its_closing_time_shows_its_closing_time() -> None:
    closes = NOW + timedelta(hours=1)
    shown = schedule_of(_poll(closes_at=closes, closed_at=closes + timedelta(seconds=2)))
    assert shown["closes_at"] == closes.isoformat()


def test_seconds_to_crossing_only_for_a_time_just_ahead() -> None:
    def schedule(opens: timedelta | None, closes: timedelta | None) -> dict[str, str]:
        return {
            "opens_at": (NOW + opens).isoformat() if opens is not None else "",
            "closes_at": (NOW + closes).isoformat() if closes is not None else "",
        }

    assert seconds_to_crossing(schedule(timedelta(seconds=2), timedelta(hours=1)), NOW) == 2
    assert seconds_to_crossing(schedule(timedelta(seconds=-60), timedelta(seconds=1.5)), NOW) == 1.5
    assert seconds_to_crossing(schedule(None, timedelta(seconds=CLOCK_SKEW_SECONDS + 1)), NOW) is None
    assert seconds_to_crossing(schedule(timedelta(seconds=-1), None), NOW) is None  # passed: no wait
    assert seconds_to_crossing(schedule(None, None), NOW) is None
