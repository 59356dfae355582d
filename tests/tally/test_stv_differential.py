"""STV against an independent implementation on random elections.

STVPoll (VoteIT, PyPI ``STVPoll``) counts Scottish STV with Decimal arithmetic rounded to five
places; here its rounding is set to truncate, as the Order says (rule 48: "any remainder being
ignored"; rounding instead changes who is elected in close counts). It transfers surpluses
differently in one respect: when several options hold untransferred
surpluses it moves them all in one step (``transfer_all``; its default serial transfer even hands
papers to options already elected), whereas the Order transfers the largest surplus first and
passes papers to continuing options only. So elections where two surpluses are ever pending at
once are left out of the comparison, and so are elections that needed a tie-break (the two break
ties differently). On all the rest the elected options and their order must agree.
"""

from __future__ import annotations

import random
from decimal import ROUND_DOWN, Decimal

import pytest

from commons_app.services.tally import TallyBallot, TallyResult, tally

stvpoll = pytest.importorskip("stvpoll.scottish_stv", reason="STVPoll is a test dependency (requirements-dev.txt)")
from stvpoll.abcs import PreferenceBallot  # noqa: E402
from stvpoll.exceptions import IncompleteResult, STVException  # noqa: E402
from stvpoll.transfer_strategies import transfer_all  # noqa: E402


def _random_election(rng: random.Random) -> tuple[list[int], int, dict[tuple[int, ...], int]]:
    n = rng.randint(3, 8)
    ids = list(range(1, n + 1))
    kinds: dict[tuple[int, ...], int] = {}
    for _ in range(rng.randint(3, 10)):
        ranking = tuple(rng.sample(ids, rng.randint(1, n)))
        kinds[ranking] = kinds.get(ranking, 0) + rng.randint(1, 40)
    return ids, rng.randint(1, n - 1), kinds


def _surpluses_pile_up(result: TallyResult) -> bool:
    """Whether two elected options ever held untransferred surpluses at the same time."""
    pending: set[int] = set()
    for entry in result.rounds:
        if entry["action"] == "surplus":
            pending.discard(entry["option"])
        pending.update(entry["elected"])
        if len(pending) > 1:
            return True
    return False


def _truncate(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.00001"), rounding=ROUND_DOWN).normalize()


def test_scottish_stv_agrees_with_stvpoll_on_random_elections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PreferenceBallot.__init__, "__defaults__", (_truncate,))
    rng = random.Random(20261202)
    compared = 0
    for _ in range(1000):
        ids, seats, kinds = _random_election(rng)
        ballots = [TallyBallot(choices=ranking) for ranking, count in kinds.items() for _ in range(count)]
        ours = tally("stv", ids, ballots, seats=seats, stv_rule="scottish")
        if ours.notes or _surpluses_pile_up(ours):
            continue
        try:
            theirs = stvpoll.calculate_scottish_stv(
                tuple(ids), dict(kinds), seats, allow_random=False, transfer_strategy=transfer_all
            )
        except (IncompleteResult, STVException):
            continue  # a tie STVPoll cannot break without a lot
        if theirs.randomized:
            continue
        assert list(theirs.elected_as_tuple()) == ours.winners, (ids, seats, kinds)
        compared += 1
    assert compared >= 350  # the filters leave about two in five elections in


def test_one_seat_stv_elects_the_instant_runoff_winner() -> None:
    """With one seat, Scottish STV, Meek STV and IRV all elect the same option (a cross-check of
    the three counts on random elections without ties)."""
    rng = random.Random(7)
    checked = 0
    for _ in range(300):
        ids, _seats, kinds = _random_election(rng)
        ballots = [TallyBallot(choices=ranking) for ranking, count in kinds.items() for _ in range(count)]
        irv = tally("irv", ids, ballots)
        scottish = tally("stv", ids, ballots, seats=1, stv_rule="scottish")
        meek = tally("stv", ids, ballots, seats=1, stv_rule="meek")
        if irv.notes or scottish.notes or meek.notes:
            continue
        assert scottish.winners == meek.winners == irv.winners, (ids, kinds)
        checked += 1
    assert checked >= 200
