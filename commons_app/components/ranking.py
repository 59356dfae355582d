"""The ranked ballot by drag and drop: ``assets/ranking.jsx`` (built on @dnd-kit) as a Reflex
component, with the page's rank selects kept as a fallback behind a "Use menus instead" button.

The component only fills hidden inputs ``rank-<id>`` in the ballot form, the same fields the
selects send, so ``pages.vote.ballot_from_form`` and the services still decide every rule.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex_base.components.component import field
from reflex_base.vars.base import Var

from commons_app.i18n import t

# Pinned: the project installs from the frozen lock in reflex.lock/.
DND_KIT_PACKAGES = ["@dnd-kit/core@6.3.1", "@dnd-kit/sortable@10.0.0", "@dnd-kit/utilities@3.2.2"]


class RankingList(rx.Component):
    """``RankingList`` from ``assets/ranking.jsx``; its children are the fallback (the selects)."""

    library = "$/public/ranking.jsx"
    tag = "RankingList"
    is_default = False
    lib_dependencies: list[str] = DND_KIT_PACKAGES

    options: Var[list[dict[str, Any]]] = field(doc="The options: dicts with ``id`` and ``text``")
    ranks: Var[dict[str, str]] = field(doc="The stored ranking: option id -> rank (strings)")
    texts: Var[dict[str, str]] = field(doc="Every text the list shows or announces, translated")


def ranking_texts() -> dict[str, rx.Var]:
    """The translated texts of the list; ``%(option)s`` and ``%(place)s`` are filled in the browser."""
    return {
        "help": t(
            "Drag options above the line to rank them, first choice at the top, or use the arrow "
            "buttons. Options below the line are not ranked."
        ),
        "line": t("Not ranked: options below this line are left out"),
        "instructions": t(
            "To pick up an option, press Space or Enter. Use the up and down arrow keys to move it, "
            "Space or Enter to drop it, or Escape to cancel."
        ),
        "roleDescription": t("movable option"),
        "handle": t("%(option)s, %(place)s"),
        "moveUp": t("Move %(option)s up"),
        "moveDown": t("Move %(option)s down"),
        "rankOf": t("rank %(rank)s of %(count)s"),
        "notRanked": t("not ranked"),
        "pickedUp": t("Picked up %(option)s, %(place)s."),
        "moved": t("%(option)s moved: %(place)s."),
        "dropped": t("%(option)s dropped: %(place)s."),
        "cancelled": t("Moving %(option)s was cancelled: %(place)s."),
        "useMenus": t("Use menus instead"),
        "useDrag": t("Use drag and drop instead"),
    }


def ranking_ballot(options: rx.Var, ranks: rx.Var, fallback: rx.Component) -> rx.Component:
    """The ranked ballot: the sortable list, or ``fallback`` when the voter asks for menus.

    Args:
        options: The poll's options (a list var of dicts with ``id`` and ``text``).
        ranks: The voter's stored ranking (option id -> rank, as strings).
        fallback: The rank selects the page showed before (same ``rank-<id>`` fields).
    """
    return RankingList.create(fallback, options=options, ranks=ranks, texts=ranking_texts())
