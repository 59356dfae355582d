"""The live pusher's window (``state.live.push_window``): how long a poll's changes are gathered
before one push. At least ``LIVE_PUSH_INTERVAL``; longer for a costly tally; and, for a room of
thousands of tabs, long enough that one poll's pushes cost this worker at most
``LIVE_FRAMES_PER_SECOND`` websocket frames a second (a push is a frame per tab it holds).

The figures behind the budget (5,000 viewers on 2 workers) are in docs/BENCHMARKS.md, "Live fan-out"."""

from __future__ import annotations

import pytest

from commons_app.state import live


@pytest.fixture
def rooms(monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    watchers: dict[str, set[str]] = {}
    monkeypatch.setattr(live, "_watchers", watchers)
    monkeypatch.setattr(live, "_tally_seconds", {})
    monkeypatch.setattr(live, "PUSH_INTERVAL", 0.25)
    monkeypatch.setattr(live, "FRAMES_PER_SECOND", 5000.0)
    return watchers


def fill(rooms: dict[str, set[str]], poll_id: str, tabs: int) -> None:
    rooms[poll_id] = {f"{poll_id}-sid-{i}" for i in range(tabs)}


def test_a_small_room_is_pushed_at_the_shortest_window(rooms):
    assert live.push_window("p") == 0.25  # nobody watching on this worker
    fill(rooms, "p", 300)
    assert live.push_window("p") == 0.25


def test_a_large_room_waits_longer_so_its_frames_stay_within_the_budget(rooms):
    fill(rooms, "p", 2500)
    assert live.push_window("p") == pytest.approx(0.5)
    for tabs in (1000, 1250, 1251, 2500, 10_000, 50_000):
        fill(rooms, "p", tabs)
        window = live.push_window("p")
        assert tabs / window <= 5000 + 1e-6, f"{tabs} tabs: {tabs / window:.0f} frames a second"
        assert window >= 0.25


def test_only_the_polls_own_room_counts(rooms):
    fill(rooms, "crowded", 20_000)
    fill(rooms, "quiet", 10)
    assert live.push_window("quiet") == 0.25
    assert live.push_window("crowded") == pytest.approx(4.0)


def test_a_costly_tally_still_lengthens_the_window(rooms):
    fill(rooms, "p", 2500)
    live._tally_seconds["p"] = 0.3
    assert live.push_window("p") == pytest.approx(1.2)  # the tally's rule is the larger here
    live._tally_seconds["p"] = 0.05
    assert live.push_window("p") == pytest.approx(0.5)  # the room's is


def test_the_budget_is_a_setting(rooms, monkeypatch):
    fill(rooms, "p", 2500)
    monkeypatch.setattr(live, "FRAMES_PER_SECOND", 20_000.0)
    assert live.push_window("p") == 0.25
