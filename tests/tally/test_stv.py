"""Multi-winner STV: Scottish STV and Meek STV against published counts.

The ballot files of real Scottish council wards are not reachable from this machine. The counts
reproduced here are published elections with published stage-by-stage figures (see
``tests/tally/data/README.md``): a real party election (GPUS 2005) and the ERBS validation
election M135, each counted under Scottish STV (SSI 2007/42, five decimal places) and the
reference Meek rule (nine decimal places), plus Wikipedia's worked example. Every figure
asserted is the published one, digit for digit.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commons_app.services.record import BltElection, parse_blt
from commons_app.services.tally import TallyBallot, TallyResult, tally

DATA = Path(__file__).parent / "data"


def _count(name: str, rule: str) -> tuple[BltElection, TallyResult]:
    election = parse_blt((DATA / name).read_text(encoding="utf-8"))
    ids, ballots = election.tally_ballots()
    return election, tally("stv", ids, ballots, seats=election.seats, stv_rule=rule)


def _named(election: BltElection, figures: dict[str, float]) -> dict[str, float]:
    return {election.names[int(k) - 1]: v for k, v in figures.items()}

ORANGE, PEAR, CHOCOLATE, STRAWBERRY, SWEETS = 1, 2, 3, 4, 5
FOOD = [ORANGE, PEAR, CHOCOLATE, STRAWBERRY, SWEETS]


def _food() -> list[TallyBallot]:
    """The 20-voter food election of Wikipedia's "Single transferable vote" article (3 seats)."""
    return (
        [TallyBallot(choices=(ORANGE,))] * 4
        + [TallyBallot(choices=(PEAR, ORANGE))] * 2
        + [TallyBallot(choices=(CHOCOLATE, STRAWBERRY))] * 8
        + [TallyBallot(choices=(CHOCOLATE, SWEETS))] * 4
        + [TallyBallot(choices=(STRAWBERRY,))]
        + [TallyBallot(choices=(SWEETS,))]
    )


def test_scottish_stv_reproduces_the_published_food_election() -> None:
    # Published count (Wikipedia, "Single transferable vote", example): Droop quota 6; Chocolate
    # elected with 12, surplus 6 passes at 0.5 (Strawberry +4, Sweets +2); Pear excluded, Orange
    # reaches 6 and is elected; Sweets excluded, Strawberry takes the last seat.
    result = tally("stv", FOOD, _food(), seats=3, stv_rule="scottish")
    assert result.winners == [CHOCOLATE, ORANGE, STRAWBERRY]
    first, surplus, pear_out, sweets_out = result.rounds
    assert first["quota"] == 6 and first["votes"] == {"1": 4, "2": 2, "3": 12, "4": 1, "5": 1}
    assert first["elected"] == [CHOCOLATE]
    assert surplus["action"] == "surplus" and surplus["surplus"] == 6 and surplus["transfer_value"] == 0.5
    assert surplus["transfers"] == {"4": 4, "5": 2}
    assert pear_out["action"] == "exclusion" and pear_out["option"] == PEAR and pear_out["elected"] == [ORANGE]
    assert sweets_out["option"] == SWEETS and sweets_out["elected"] == [STRAWBERRY]
    assert result.tie is False and result.notes == []


def test_stv_options_are_checked() -> None:
    with pytest.raises(ValueError, match="STV rule"):
        tally("stv", FOOD, _food(), seats=2, stv_rule="irish")
    with pytest.raises(ValueError, match="seats"):
        tally("stv", FOOD, _food(), seats=0)
    with pytest.raises(ValueError, match="takes no option"):
        tally("irv", FOOD, _food(), seats=2)


def test_meek_stv_elects_the_food_election() -> None:
    result = tally("stv", FOOD, _food(), seats=3, stv_rule="meek")
    assert sorted(result.winners) == sorted([CHOCOLATE, ORANGE, STRAWBERRY])
    assert result.winners[0] == CHOCOLATE


def test_blt_round_trip_counts_the_same() -> None:
    from commons_app.services.record import RecordBallot, parse_blt, record_blt

    ballots = [
        RecordBallot(receipt=f"r{i:03d}", weight=w, option_id=None, choices=c, scores={})
        for i, (w, c) in enumerate([(1.0, (3, 4)), (0.5, (1,)), (2.0, (2, 1)), (1.0, (3, 5)), (1.0, (4,))] * 3)
    ]
    texts = ['Orange "O"', 'Pear \\"P\\', "Chocolate", "Strawberry", "Sweets"]
    blt = record_blt(title="Food", option_ids=FOOD, option_texts=texts, method="irv", ballots=ballots, seats=3)
    election = parse_blt(blt)
    assert (election.candidates, election.seats, election.title) == (5, 3, "Food")
    assert election.names == texts
    ids, read = election.tally_ballots(FOOD)
    direct = [TallyBallot(weight=b.weight, choices=b.choices) for b in ballots]
    for rule in ("scottish", "meek"):
        assert tally("stv", ids, read, seats=3, stv_rule=rule) == tally("stv", FOOD, direct, seats=3, stv_rule=rule)


def test_blt_parser_rejects_malformed_files() -> None:
    from commons_app.services.record import parse_blt

    with pytest.raises(ValueError, match="candidate 7"):
        parse_blt('3 1\n1 7 0\n0\n"a"\n"b"\n"c"\n"t"\n')
    with pytest.raises(ValueError, match="ends"):
        parse_blt("3 1\n1 1 2 0\n")


def test_scottish_stv_reproduces_the_gpus_2005_count_stage_by_stage() -> None:
    """Published: droop test/ref/report/SC-scotland-fixed-p5-d5.txt (quota 19.00000)."""
    election, result = _count("gpus-2005.blt", "scottish")
    names = [election.names[w - 1] for w in result.winners]
    assert names == ["Rebecca Rotzler", "Pat LaMarche", "Steve Kramer", "Tom Sevigny"]
    stages = [_named(election, entry["votes"]) for entry in result.rounds]
    assert result.rounds[0]["quota"] == 19
    # After Rotzler's surplus of 14 (papers pass at 0.42424):
    assert result.rounds[1]["transfer_value"] == 0.42424
    assert stages[1]["Budd Dickinson"] == 6.84848 and stages[1]["Kristen Olsen"] == 12.45448
    assert stages[1]["Jason Jones"] == 1.42424
    # After LaMarche's surplus of 3:
    assert stages[2]["Budd Dickinson"] == 7.803 and stages[2]["Steve Kramer"] == 18.54544
    assert stages[2]["Tom Sevigny"] == 9.2424 and stages[2]["Michael Piacsek"] == 2.69696
    # Piacsek's exclusion elects Kramer with 19.68180; his surplus leaves 0.00472 non-transferable.
    kramer = next(i for i, e in enumerate(result.rounds) if e["elected"] == [13])
    assert stages[kramer]["Steve Kramer"] == 19.6818
    surplus = result.rounds[kramer + 1]
    assert surplus["action"] == "surplus" and surplus["exhausted"] == 0.00472
    assert _named(election, surplus["votes"])["Kirit Mookerjee"] == 3.9536
    # The last exclusions: Sevigny 16.62204 against Olsen 16.59988; Sevigny ends on 18.59172.
    assert stages[-2]["Tom Sevigny"] == 16.62204 and stages[-2]["Kristen Olsen"] == 16.59988
    assert stages[-1]["Tom Sevigny"] == 18.59172 and result.rounds[-1]["exhausted"] == 18.40808


def test_scottish_stv_reproduces_the_erbs_m135_count() -> None:
    """Published: droop test/ref/report/M135-scotland-fixed-p5-d5.txt (7 seats, 677 ballots)."""
    election, result = _count("erbs-m135.blt", "scottish")
    final = _named(election, result.rounds[-1]["votes"])
    assert {name: final[name] for name in (election.names[w - 1] for w in result.winners)} == {
        "C1": 85, "C2": 85, "C3": 92.11386, "C4": 86.92718, "C6": 93.41548, "C9": 82.18064, "C10": 81.25831,
    }
    assert result.rounds[0]["quota"] == 85


def test_meek_stv_reproduces_the_reference_rule_on_erbs_m135() -> None:
    """Published: droop test/ref/report/M135-meek-prf-o6-fixed-p9-d9.txt (PR Foundation Meek)."""
    election, result = _count("erbs-m135.blt", "meek")
    assert result.rounds[0]["quota"] == 84.625000001
    assert _named(election, result.rounds[1]["votes"])["C1"] == 84.516333034
    assert result.rounds[1]["quota"] == 84.516332983
    final = _named(election, result.rounds[-1]["votes"])
    assert sorted(election.names[w - 1] for w in result.winners) == ["C1", "C10", "C2", "C3", "C4", "C6", "C9"]
    assert {name: final[name] for name in ("C1", "C2", "C3", "C4", "C6", "C9", "C10")} == {
        "C1": 77.372250056, "C2": 77.391489497, "C3": 77.397756244, "C4": 77.386416154,
        "C6": 77.394607081, "C9": 77.392755868, "C10": 77.370062211,
    }
    assert result.rounds[-1]["quota"] == 77.350430329


def test_meek_stv_reproduces_the_reference_rule_on_gpus_2005() -> None:
    """Published: droop test/ref/report/SC-meek-prf-o6-fixed-p9-d9.txt."""
    election, result = _count("gpus-2005.blt", "meek")
    final = _named(election, result.rounds[-1]["votes"])
    winners = [election.names[w - 1] for w in result.winners]
    assert sorted(winners) == ["Kristen Olsen", "Pat LaMarche", "Rebecca Rotzler", "Steve Kramer"]
    assert {name: final[name] for name in winners} == {
        "Pat LaMarche": 19.087429756, "Rebecca Rotzler": 19.073682122,
        "Kristen Olsen": 19.085721549, "Steve Kramer": 19.20243809,
    }


def test_meek_stv_rounds_as_the_reference_rule() -> None:
    """Published: droop test/ref/report/42-meek-prf-o6-fixed-p9-d9.txt: Castor's keep value is
    rounded up, so Pollux gets 1.999999996, just below Helen's 2, and Helen is elected."""
    _, result = _count("castor-pollux-helen.blt", "meek")
    assert result.rounds[0]["quota"] == 2.000000001
    assert result.rounds[1]["votes"] == {"1": 2.000000004, "2": 1.999999996, "3": 2}
    assert result.rounds[1]["keep_values"] == {"1": 0.500000001}
    assert result.winners == [1, 3]


@settings(max_examples=60, deadline=None, database=None)
@given(
    n=st.integers(min_value=1, max_value=6),
    seats=st.integers(min_value=1, max_value=7),
    groups=st.lists(
        st.tuples(st.integers(min_value=1, max_value=3), st.permutations(range(6)), st.integers(0, 6)),
        min_size=1,
        max_size=8,
    ),
    rule=st.sampled_from(["scottish", "meek"]),
)
def test_stv_properties(n, seats, groups, rule) -> None:
    """Seats are filled (all options when there are fewer), nobody twice, and a ballot of weight k
    counts exactly as k ballots of weight 1."""
    ids = [10 + i for i in range(n)]
    weighted = [TallyBallot(weight=float(k), choices=tuple(ids[i] for i in perm[:length] if i < n)) for k, perm, length in groups]
    repeated = [TallyBallot(choices=b.choices) for b in weighted for _ in range(int(b.weight))]
    result = tally("stv", ids, weighted, seats=seats, stv_rule=rule)
    if any(b.choices for b in weighted):
        assert len(result.winners) == min(seats, n) == len(set(result.winners))
        assert set(result.winners) <= set(ids)
    else:
        assert result.winners == []
    assert tally("stv", ids, repeated, seats=seats, stv_rule=rule).winners == result.winners


def test_stv_exclusion_ties_go_to_count_back_then_the_lot() -> None:
    from commons_app.services.tally.notes import render_note
    from commons_app.services.tally.ties import draw

    a, b, c, d = 1, 2, 3, 4
    # Quota 5: a is elected with 7, its surplus exhausts; b and d tie on 2 at every stage: the lot.
    ballots = (
        [TallyBallot(choices=(a,))] * 7 + [TallyBallot(choices=(c,))] * 3
        + [TallyBallot(choices=(b, c))] * 2 + [TallyBallot(choices=(d, c))] * 2
    )
    for seed in ("one", "two", "three"):
        result = tally("stv", [a, b, c, d], ballots, seats=2, stv_rule="scottish", seed=seed)
        lot = next(note for note in result.notes if note.kind == "stv_lot")
        assert lot.options == (b, d) and lot.figures["chosen"] == draw(seed, [b, d])
        assert "by lot" in render_note(lot) and seed in render_note(lot)
        assert result.winners == [a, c]
