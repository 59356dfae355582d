"""The plain-language outcome of each method (issue 13 item 2): exact English sentences, built by
each method's ``summary`` from the results the services compute (``methods.summarize``), open
("leading", "so far") and closed ("Final result", past tense), with ties and what broke them,
STV's elected by round and quota, the quorum and the pass rule, no ballots, and an anonymous
poll below its threshold (which says nothing its snapshot hides)."""

from __future__ import annotations

import pytest

from commons_app import methods
from commons_app.methods import _display
from commons_app.services import polls, results
from tests import factories

GARDEN = ["Herbs", "Squash", "Sunflowers", "Tomatoes"]


@pytest.fixture
def people(make_user):
    return [make_user() for _ in range(7)]


def _summary(session, user, view) -> str:
    return methods.summarize(results.poll_results(session=session, user=user, poll_id=view.poll.id))


def _close(session, owner, view) -> None:
    polls.close_poll(session=session, user=owner, poll_id=view.poll.id)


def _ids(view) -> dict[str, int]:
    return {o.text: o.id for o in view.options}


def test_percentages_round_half_up_and_never_overstate():
    assert _display.percent(2, 3) == "67%"
    assert _display.percent(1, 2) == "50%"
    assert _display.percent(199, 200) == "99%"  # not "100%" while one ballot is elsewhere
    assert _display.percent(1, 1000) == "1%"  # not "0%" when someone chose it
    assert _display.percent(0, 0) == "0%"


def test_single_choice_open_then_final(session, user, people):
    view = factories.make_poll(session, user, options=GARDEN)
    ids = _ids(view)
    for voter, choice in zip(people[:3], ["Herbs", "Squash", "Herbs"], strict=True):
        factories.vote(session, voter, view, option_id=ids[choice])
    assert _summary(session, user, view) == "Herbs is leading with 2 of 3 ballots (67%) so far."
    _close(session, user, view)
    assert _summary(session, user, view) == "Final result: Herbs won with 2 of 3 ballots (67%)."


def test_single_choice_tie_says_no_rule_breaks_it(session, user, people):
    view = factories.make_poll(session, user, options=GARDEN)
    ids = _ids(view)
    factories.vote(session, people[0], view, option_id=ids["Herbs"])
    factories.vote(session, people[1], view, option_id=ids["Squash"])
    assert _summary(session, user, view) == "Herbs and Squash are tied for the lead with 1 of 2 ballots (50%) each so far."
    _close(session, user, view)
    assert _summary(session, user, view) == (
        "Final result: Herbs and Squash tied with 1 of 2 ballots (50%) each; no rule breaks this tie, so all of them won."
    )


def test_weights_are_named_only_when_they_differ(session, user, people):
    heavy, light, plain = people[:3]
    view = factories.make_poll(session, user, options=GARDEN, voters=[(heavy, 3.0), (light, 0.5), (plain, 1.0)])
    ids = _ids(view)
    factories.vote(session, heavy, view, option_id=ids["Tomatoes"])
    factories.vote(session, light, view, option_id=ids["Herbs"])
    factories.vote(session, plain, view, option_id=ids["Herbs"])
    assert _summary(session, user, view) == "Tomatoes is leading with 3 of 4.5 votes by weight (67%) so far."


def test_no_ballots_open_and_closed(session, user):
    view = factories.make_poll(session, user, options=GARDEN)
    assert _summary(session, user, view) == "No ballots are counted yet."
    _close(session, user, view)
    assert _summary(session, user, view) == "Final result: the poll closed without ballots, so there is no winner."


def test_approval(session, user, people):
    view = factories.make_poll(session, user, options=GARDEN, method="approval")
    ids = _ids(view)
    factories.vote(session, people[0], view, option_ids=[ids["Herbs"], ids["Squash"]])
    factories.vote(session, people[1], view, option_ids=[ids["Squash"]])
    assert _summary(session, user, view) == "Squash is leading so far, approved on 2 of 2 ballots (100%)."
    _close(session, user, view)
    assert _summary(session, user, view) == "Final result: Squash won, approved on 2 of 2 ballots (100%)."


def test_irv_names_the_round_the_votes_and_the_eliminated(session, user, people):
    view = factories.make_poll(session, user, options=GARDEN, method="irv")
    ids = _ids(view)
    rankings = [["Herbs"], ["Herbs"], ["Herbs"], ["Squash", "Herbs"], ["Squash", "Tomatoes"], ["Tomatoes", "Herbs"]]
    for voter, ranking in zip(people[:6], rankings, strict=True):
        factories.vote(session, voter, view, ranking=[ids[t] for t in ranking])
    # Round 1: Herbs 3 of 6 (no majority), Squash 2, Tomatoes 1, Sunflowers 0: Sunflowers goes;
    # round 2: Tomatoes goes, its ballot moves to Herbs; round 3: Herbs 4 of 6.
    assert _summary(session, user, view) == (
        "Herbs is leading in round 3 with 4 of 6 ballots (67%) so far, after Sunflowers and Tomatoes were eliminated."
    )
    _close(session, user, view)
    assert _summary(session, user, view) == (
        "Final result: Herbs won in round 3 with 4 of 6 ballots (67%) after Sunflowers and Tomatoes were eliminated."
    )


def test_irv_tie_broken_by_lot_is_provisional_until_the_close(session, user, people):
    view = factories.make_poll(session, user, options=GARDEN, method="irv")
    ids = _ids(view)
    for voter, ranking in zip(people, [["Herbs"], ["Herbs"], ["Squash"], ["Sunflowers"], ["Tomatoes"]], strict=False):
        factories.vote(session, voter, view, ranking=[ids[t] for t in ranking])
    shown = results.poll_results(session=session, user=user, poll_id=view.poll.id)
    texts = {o.option_id: o.text for o in shown.options}
    out = texts[shown.rounds[0]["tie_break"]["figures"]["eliminated"]]  # drawn with the provisional seed
    summary = _summary(session, user, view)
    assert (
        "Round 1: Squash, Sunflowers and Tomatoes tied for last place and no earlier round separated them; "
        f"{out} was eliminated by lot. While the poll is open this lot is provisional: the one that counts is drawn "
        "when it closes."
    ) in summary
    _close(session, user, view)
    final = _summary(session, user, view)
    assert final.startswith("Final result: Herbs won in round ")
    assert "While the poll is open" not in final
    assert final.endswith("The lot was drawn with the published record's SHA-256 as its seed, so anyone can redo it.")


def test_headline_is_the_summary_without_its_tie_breaks(session, user, people):
    """The presentation view shows the headline large and the tie-breaks apart: together they
    are the whole summary, and the headline alone says nothing of the lot."""
    view = factories.make_poll(session, user, options=GARDEN, method="irv")
    ids = _ids(view)
    for voter, ranking in zip(people, [["Herbs"], ["Herbs"], ["Squash"], ["Sunflowers"], ["Tomatoes"]], strict=False):
        factories.vote(session, voter, view, ranking=[ids[t] for t in ranking])
    shown = results.poll_results(session=session, user=user, poll_id=view.poll.id)
    head, ties, decision = methods.summary_parts(shown)
    assert ties and "by lot" in " ".join(ties)
    assert methods.summarize(shown) == " ".join([head, *ties, *decision])
    assert methods.headline(shown) == " ".join([head, *decision])
    assert "by lot" not in methods.headline(shown) and methods.headline(shown).startswith("Herbs is leading in round ")


def test_irv_majority_in_round_one(session, user, people):
    view = factories.make_poll(session, user, options=GARDEN, method="irv")
    ids = _ids(view)
    for voter, first in zip(people[:3], ["Herbs", "Herbs", "Squash"], strict=True):
        factories.vote(session, voter, view, ranking=[ids[first]])
    _close(session, user, view)
    assert _summary(session, user, view) == (
        "Final result: Herbs won in round 1 with a majority of first preferences: 2 of 3 ballots (67%)."
    )


def test_schulze_condorcet_winner(session, user, people):
    view = factories.make_poll(session, user, options=GARDEN[:3], method="schulze")
    ids = _ids(view)
    for voter, ranking in zip(people[:3], [["Herbs", "Squash"], ["Squash", "Herbs"], ["Herbs", "Sunflowers"]], strict=True):
        factories.vote(session, voter, view, ranking=[ids[t] for t in ranking])
    assert _summary(session, user, view) == (
        "Herbs is leading so far: more ballots prefer it to each other option, head to head."
    )
    shown = results.poll_results(session=session, user=user, poll_id=view.poll.id)
    table = methods.get("schulze").tables(shown, {o.option_id: o.text for o in shown.options})[0]
    herbs_row = next(row for row in table.rows if row[0] == "Herbs")
    assert herbs_row[1:] == ["—", "2 : 1 ✓ beats", "3 : 0 ✓ beats"]  # who beats whom, in words


def test_borda_states_points_and_share(session, user, people):
    view = factories.make_poll(session, user, options=GARDEN[:3], method="borda")
    ids = _ids(view)
    for voter, ranking in zip(people[:2], [["Herbs", "Squash", "Sunflowers"], ["Squash", "Herbs", "Sunflowers"]], strict=True):
        factories.vote(session, voter, view, ranking=[ids[t] for t in ranking])
    factories.vote(session, people[2], view, ranking=[ids["Herbs"]])
    # Herbs 2 + 1 + 2 = 5, Squash 1 + 2 = 3, Sunflowers 0: 5 of 8 points.
    _close(session, user, view)
    assert _summary(session, user, view) == "Final result: Herbs won with 5 Borda points (63% of all points given)."
    assert "N − 1 points" in methods.get("borda").explanation


def test_score_states_total_and_average_over_all_ballots(session, user, people):
    view = factories.make_poll(session, user, options=GARDEN[:3], method="score")
    ids = _ids(view)
    factories.vote(session, people[0], view, scores={ids["Herbs"]: 5, ids["Squash"]: 3})
    factories.vote(session, people[1], view, scores={ids["Herbs"]: 2, ids["Sunflowers"]: 4})
    assert _summary(session, user, view) == (
        "Herbs is leading with the highest total score so far, 7 (an average of 3.5 out of 5 per ballot)."
    )


def test_star_runoff_and_its_tie_break(session, user, people):
    view = factories.make_poll(session, user, options=GARDEN[:3], method="star")
    ids = _ids(view)
    factories.vote(session, people[0], view, scores={ids["Herbs"]: 5, ids["Squash"]: 3})
    factories.vote(session, people[1], view, scores={ids["Herbs"]: 2, ids["Squash"]: 4, ids["Sunflowers"]: 1})
    _close(session, user, view)
    assert _summary(session, user, view) == (
        "Final result: Herbs won the automatic runoff between the two highest-scored options: 1 of 2 ballots (50%) "
        "scored it above Squash, 1 the other way round. "
        "The runoff was tied and so were the scores; more five-star ratings decided."
    )


def test_stv_names_who_was_elected_in_which_round_and_the_quota(session, user, people):
    view = factories.make_poll(session, user, options=GARDEN, method="stv", seats=2)
    ids = _ids(view)
    rankings = [["Herbs"], ["Herbs"], ["Herbs"], ["Squash", "Tomatoes"], ["Tomatoes"], ["Tomatoes"], ["Sunflowers", "Tomatoes"]]
    for voter, ranking in zip(people, rankings, strict=True):
        factories.vote(session, voter, view, ranking=[ids[t] for t in ranking])
    _close(session, user, view)
    shown = results.poll_results(session=session, user=user, poll_id=view.poll.id)
    assert [o for o in shown.winners] == [ids["Herbs"], ids["Tomatoes"]]
    summary = _summary(session, user, view)
    assert summary.startswith(
        "Final result for 2 seats, with a quota of 3 votes: elected Herbs in round 1 and Tomatoes in round "
    ), summary


def test_quorum_not_met_and_pass_rule_failed(session, user, people):
    view = factories.make_poll(session, user, options=["Yes", "No"], quorum_ballots=3, pass_rule="three_quarters")
    ids = _ids(view)
    factories.vote(session, people[0], view, option_id=ids["Yes"])
    factories.vote(session, people[1], view, option_id=ids["No"])
    factories.vote(session, people[2], view, option_id=ids["Yes"])
    assert _summary(session, user, view) == (
        "Yes is leading with 2 of 3 ballots (67%) so far. It is not passing so far: 66.6% back it (at least three quarters needed)."
    )
    quorum = factories.make_poll(session, user, options=["Yes", "No"], quorum_ballots=3)
    factories.vote(session, people[0], quorum, option_id=_ids(quorum)["Yes"])
    _close(session, user, quorum)
    assert _summary(session, user, quorum) == (
        "Final result: Yes won with 1 of 1 ballot (100%). The quorum was not reached, so this result decides nothing."
    )


def test_anonymous_poll_below_its_threshold_says_nothing_of_the_ballots(session, user, people):
    view = factories.make_poll(session, user, options=GARDEN, anonymous=True, anonymity_threshold=3)
    ids = _ids(view)
    factories.vote(session, people[0], view, option_id=ids["Herbs"])
    factories.vote(session, people[1], view, option_id=ids["Squash"])
    assert _summary(session, user, view) == "No ballots are counted yet."
    factories.vote(session, people[2], view, option_id=ids["Herbs"])
    assert _summary(session, user, view) == "Herbs is leading with 2 of 3 ballots (67%) so far."


def test_live_values_carry_the_summary_weights_flag_and_the_round_chart(session, user, people):
    from commons_app.state.live import results_display, summary_languages

    view = factories.make_poll(session, user, options=GARDEN, method="irv")
    ids = _ids(view)
    rankings = [["Herbs"], ["Herbs"], ["Herbs"], ["Squash", "Herbs"], ["Squash", "Tomatoes"], ["Tomatoes", "Herbs"]]
    for voter, ranking in zip(people[:6], rankings, strict=True):
        factories.vote(session, voter, view, ranking=[ids[t] for t in ranking])
    shown = results_display(results.poll_results(session=session, user=user, poll_id=view.poll.id))
    assert set(shown["summaries"]) == set(summary_languages()) and "en" in shown["summaries"]
    assert shown["summaries"]["en"].startswith("Herbs is leading in round 3 with 4 of 6 ballots (67%) so far")
    assert shown["weighted"] is False
    # One stacked bar per round: each option's votes in it, the exhausted ballots.
    assert [row["round"] for row in shown["rounds_chart"]] == ["Round 1", "Round 2", "Round 3"]
    assert shown["rounds_chart"][2][f"o{ids['Herbs']}"] == 4.0 and shown["rounds_chart"][2][f"o{ids['Tomatoes']}"] == 0.0
    assert [s["name"] for s in shown["rounds_series"]] == [*GARDEN, "Exhausted"]
