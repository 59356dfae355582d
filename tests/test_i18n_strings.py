"""The results page's sentences built in Python follow the reader's language (issue 13).

The shipped catalogs are edited elsewhere, so these tests give the code a made-up language that
wraps every message it knows in «…»: a sentence left in English, or glued from pieces the catalog
never sees, shows up unwrapped.
"""

from __future__ import annotations

import pytest

from commons_app import i18n
from commons_app.services import decisions
from tests import aio


class _Wrapped(dict):
    def get(self, msgid, default=None):
        return "«" + msgid + "»"


@pytest.fixture
def wrapped(monkeypatch):
    """Language "xx": every msgid translated as «msgid» (placeholders kept)."""
    real = i18n._translations

    def fake(lang):
        return (_Wrapped(), lambda n: 0 if n == 1 else 1) if lang == "xx" else real(lang)

    monkeypatch.setattr(i18n, "_translations", fake)
    return "xx"


FIGURES = {"ballots": 41, "roll": 60, "share_needed": 31, "pass_rule": "majority", "support_percent": 68.0}


def test_decision_lines_stay_the_same_in_english():
    assert decisions.describe_decision(quorum_met=True, passed=True, figures=FIGURES, closed=True) == [
        "Quorum reached: 41 of 60 voted (31 needed)",
        "Passed with 68 % (more than half needed)",
    ]
    assert decisions.describe_decision(quorum_met=False, passed=False, figures=FIGURES, closed=False) == [
        "Quorum not reached yet: 41 of 60 voted (31 needed)",
        "Not passing yet: the quorum is not reached",
    ]


def test_decision_lines_are_whole_translated_sentences(wrapped):
    lines = decisions.describe_decision(quorum_met=True, passed=True, figures=FIGURES, closed=True, lang=wrapped)
    assert lines == [
        "«Quorum reached: «41 of 60 voted (31 needed)»»",
        "«Passed with 68 % («more than half» needed)»",
    ]


def test_a_receipts_ballot_is_described_in_the_readers_language(wrapped):
    from commons_app.pages.results import describe_line

    line = {"receipt": "r", "weight": 1.5, "ranking": [2, 9]}
    assert describe_line(line, {2: "Tea"}) == "weight 1.5, ranking: Tea > option 9"
    assert describe_line(line, {2: "Tea"}, wrapped) == "«weight 1.5, ranking: Tea > «option 9»»"


def test_the_ballot_summary_names_a_missing_option_in_the_readers_language(wrapped):
    from commons_app.methods.ballots import RANKING

    assert RANKING.describe([2, 9], {2: "Tea"}) == "Tea > option 9"
    assert RANKING.describe([2, 9], {2: "Tea"}, wrapped) == "Tea > «option 9»"


def test_a_failed_invitation_is_one_translated_sentence(wrapped):
    from commons_app.pages.roll_editor import _invite_text

    row = {"email": "Ann@example.org", "invitation": "failed"}
    assert _invite_text(row, {"ann@example.org": "mailbox full"}) == "failed: mailbox full"
    assert _invite_text(row, {}, wrapped) == "«failed: «no reason recorded»»"


def test_an_error_with_figures_is_one_msgid_the_page_translates(wrapped):
    from commons_app.services import polls
    from commons_app.services.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        polls.clean_options(["Tea", "Tea"])
    assert caught.value.message == "Options must be distinct: 'Tea' appears twice."  # the API's English
    assert caught.value.in_language(wrapped) == "«Options must be distinct: 'Tea' appears twice.»"


def test_admin_times_are_written_the_readers_way_and_say_utc(wrapped):
    from datetime import UTC, datetime

    at = datetime(2026, 12, 2, 14, 5, 3, tzinfo=UTC)
    assert i18n.format_when_utc("de", at, seconds=True) == "02.12.2026, 14:05:03 UTC"
    assert i18n.format_when_utc(wrapped, at) == "«" + i18n.format_when(wrapped, at) + " UTC»"
    assert i18n.format_day("de", at) == "02.12.2026"


def test_the_slow_down_notice_is_in_the_connections_language(wrapped, monkeypatch):
    import json

    from commons_app.services import ratelimit
    from commons_app.state import throttle

    emitted = []

    class Namespace:
        async def on_event(self, sid, data):
            raise AssertionError("a throttled event must not be handled")

        async def emit(self, event, update, to):
            emitted.append((to, update.events[0].payload["function"]))

    class Throttled(throttle.EventThrottle, Namespace):
        pass

    monkeypatch.setattr(throttle, "allowed", lambda sid: False)
    throttle.remember_language("sid-xx", wrapped)
    aio.run(Throttled().on_event("sid-xx", {}))
    aio.run(Throttled().on_event("sid-en", {}))
    message = ratelimit.MESSAGES[throttle.LIMIT]
    assert [to for to, _ in emitted] == ["sid-xx", "sid-en"]
    assert json.dumps("«" + message + "»") in emitted[0][1]
    assert json.dumps(message) in emitted[1][1]
    throttle._noticed.pop("sid-xx", None), throttle._noticed.pop("sid-en", None), throttle._languages.pop("sid-xx", None)


def test_the_star_runoff_line_is_worded_per_language(wrapped, monkeypatch):
    from types import SimpleNamespace

    from commons_app.methods.star import runoff_line
    from commons_app.state import live

    results = SimpleNamespace(detail={"finalists": [1, 2], "runoff": {"1": 3, "2": 1, "no_preference": 2}})
    texts = {1: "Herbs", 2: "Squash"}
    assert runoff_line(results, texts) == ["Automatic runoff — Herbs: 3 vs Squash: 1 (no preference: 2)"]
    assert runoff_line(results, texts, wrapped) == ["«Automatic runoff — Herbs: 3 vs Squash: 1 (no preference: 2)»"]
    assert live._takes_language(runoff_line) and not live._takes_language(lambda results, texts: [])
