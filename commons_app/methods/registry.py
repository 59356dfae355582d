"""The registry of voting methods: one :class:`Method` entry per method, registered once.

Everything that differs from one method to another lives in its entry (or in the ballot kind it
uses, :mod:`commons_app.methods.ballots`): its name and label, the instructions on its ballot,
the ballot field it takes and how that field is checked, stored and shown, its tally, the poll
settings it takes (``max_choices``, ``seats`` ...), whether a pass rule applies, and how its
results are explained and displayed. The services, the API, the pages, the live updates, the
exports and the command line all read the registry; none of them names a method. A new method is
one module that calls :func:`register`, and its tests.

Pure: no database, no web framework (the pages read plain values from here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from commons_app.i18n import N_
from commons_app.methods.ballots import BallotKind
from commons_app.services.errors import InvalidInput

__all__ = ["Method", "Param", "Table", "all_methods", "find", "get", "label_of", "names", "register", "unregister"]


@dataclass(frozen=True)
class Param:
    """A poll setting that some methods take (``max_choices``, ``seats``, ``stv_rule``).

    Attributes:
        name: The poll field (and API field) that holds it.
        check: Turns the given value (None: not given) into the stored one, for a poll with
            ``options`` options; raises :class:`InvalidInput` with a message naming the field.
        label: What the new-poll form and the poll page call it.
        show: The stored value in words, for the poll page (default: as it is).
    """

    name: str
    check: Callable[[Any, int], Any]
    label: str = ""
    show: Callable[[Any], str] | None = None

    def describe(self, value: Any) -> str:
        """``"<label>: <value in words>"``, for the poll page."""
        return f"{self.label or self.name}: {self.show(value) if self.show else value}"


@dataclass(frozen=True)
class Table:
    """A method-specific table of the results page (rounds, pairwise matrix ...)."""

    caption: str  # a msgid (marked with N_), like the header's first cell: the page translates them
    header: list[str]
    rows: list[list[str]]
    label_rows: tuple[int, ...] = ()  # rows whose first cell is a msgid too ("Exhausted"), not an option

    def as_dict(self) -> dict[str, Any]:
        """The plain form the live updates carry."""
        shown: dict[str, Any] = {"caption": self.caption, "header": list(self.header), "rows": [list(r) for r in self.rows]}
        if self.label_rows:
            shown["label_rows"] = list(self.label_rows)
        return shown


Count = Callable[..., Any]
"""``count(option_ids, ballots, *, seed=None, **settings) -> TallyResult``: ``seed`` is the seed of
any lot (the sealed record's SHA-256 once the poll is closed), ``settings`` the method's poll
settings (:attr:`Method.params`)."""


@dataclass(frozen=True)
class Method:
    """One voting method.

    Attributes:
        name: The API name (``poll.method``), at most 16 characters.
        label: Its name for people.
        instructions: The sentence above its ballot.
        ballot: The ballot kind: the field it takes and how that is checked, stored and shown.
        count: The tally (see :data:`Count`); ``params`` name the poll settings it is given.
        explanation: One plain sentence saying how the winner is found.
        params: Poll settings this method takes, beyond those every poll has.
        pass_rule: Whether a poll of this method may have a pass rule (a ballot then "backs"
            an option when it names it: the single choice, or an approval).
        first_label: The heading of the results column ``votes``.
        figures: Extra per-option columns its results carry: ``"score"`` (with its mean) and/or
            ``"points"``.
        tables: Method-specific tables of its results (rounds, a matrix), from the results and
            the option texts.
        lines: Extra sentences under its results (a runoff ...), from the results and the texts
            (and, when it takes a third argument, the language to word them in).
        summary: The plain-language outcome: who won and why, in one or two sentences, from the
            results, the option texts and the reader's language (``summary(results, texts,
            lang)``); the helpers in ``methods._display`` word what every method shares.
        elected_label: For multi-winner methods: what the winners line calls the winners
            (``"Elected"``), listed in the order the results give them; None for the usual
            "Winner" / "Leading" / "Tie".
        counts_table: Whether the running per-option counts (``services.counts``) give its
            tally (single choice: each ballot names one option); else the ballots are read.
        ranked_record: Whether its record also comes as BLT.
        position: Where it appears in lists of methods (lowest first; then in registration order).
    """

    name: str
    label: str
    instructions: str
    ballot: BallotKind
    count: Count
    explanation: str = ""
    params: tuple[Param, ...] = ()
    pass_rule: bool = False
    first_label: str = N_("Votes")
    figures: tuple[str, ...] = ()
    tables: Callable[[Any, Mapping[int, str]], list[Table]] | None = None
    lines: Callable[..., list[str]] | None = None
    summary: Callable[[Any, Mapping[int, str], str], str] | None = None
    elected_label: str | None = None
    counts_table: bool = False
    ranked_record: bool = False
    position: int = 100

    @property
    def field(self) -> str:
        """The ballot field this method takes (in the API and in the record)."""
        return self.ballot.field

    def param_names(self) -> tuple[str, ...]:
        """The names of :attr:`params`."""
        return tuple(p.name for p in self.params)

    def tally(self, option_ids: Sequence[int], ballots: Any, settings: Any = None, *, seed: str | None = None) -> Any:
        """Count ballots with this method, given the poll (or any object or mapping holding the
        method's settings by name) and the seed of any lot."""
        return self.count(option_ids, ballots, seed=seed, **self.settings_of(settings))

    def settings_of(self, source: Any) -> dict[str, Any]:
        """This method's settings read from a poll, a mapping or None (then: none given)."""
        if source is None:
            return {}
        if isinstance(source, Mapping):
            return {name: source[name] for name in self.param_names() if source.get(name) is not None}
        return {name: getattr(source, name) for name in self.param_names() if getattr(source, name, None) is not None}


_REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add a method (once: a second entry under the same name is an error)."""
    if not method.name or len(method.name) > 16:
        raise ValueError(f"a method name has 1 to 16 characters, got {method.name!r}")
    if method.name in _REGISTRY:
        raise ValueError(f"method {method.name!r} is registered already")
    _REGISTRY[method.name] = method
    return method


def unregister(name: str) -> None:
    """Remove a method (for tests that add one)."""
    _REGISTRY.pop(name, None)


def get(name: str) -> Method:
    """The method called ``name``.

    Raises:
        InvalidInput: No such method (its message names the methods there are).
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise InvalidInput(
            N_("Method must be one of %(choices)s."),
            field="method", choices=', '.join(names()),
        ) from None


def find(name: str) -> Method | None:
    """The method called ``name``, or None."""
    return _REGISTRY.get(name) if isinstance(name, str) else None


def label_of(name: str) -> str:
    """A method's label, or its name when no such method is registered."""
    method = find(name)
    return method.label if method is not None else str(name)


def all_methods() -> tuple[Method, ...]:
    """Every method, in list order (:attr:`Method.position`)."""
    return tuple(sorted(_REGISTRY.values(), key=lambda m: m.position))


def names() -> tuple[str, ...]:
    """Every method's name, in list order."""
    return tuple(m.name for m in all_methods())


def all_params() -> dict[str, list[Method]]:
    """Each poll setting some method takes, with the methods that take it."""
    taking: dict[str, list[Method]] = {}
    for method in _REGISTRY.values():
        for name in method.param_names():
            taking.setdefault(name, []).append(method)
    return taking


def summarize(results: Any, lang: str = "en") -> str:
    """The plain-language outcome of a result (``PollResults``): the method's own sentence (who
    won and why), then how any tie was broken and what the poll's decision rules made of it.

    Without ballots it says so (and nothing more: an open anonymous poll before its first step
    shows no count, so neither does this); a method without a ``summary`` names its winners."""
    return summary_texts(results, lang)[0]


def headline(results: Any, lang: str = "en") -> str:
    """The outcome without how its ties were broken: who won and what the decision rules made of
    it (the presentation view shows this large, the tie-breaks below it)."""
    return summary_texts(results, lang)[1]


def summary_texts(results: Any, lang: str = "en") -> tuple[str, str, str]:
    """The whole summary, the headline and the tie-breaks alone, worded once (a live push sends
    all three in every language)."""
    head, ties, decision = summary_parts(results, lang)
    return " ".join([head, *ties, *decision]), " ".join([head, *decision]), " ".join(ties)


def summary_parts(results: Any, lang: str = "en") -> tuple[str, list[str], list[str]]:
    """The three parts of :func:`summarize`: the method's sentence, the tie-breaks, the decision."""
    from commons_app.methods import _display

    if results.total_ballots == 0:
        return _display.no_ballots(lang, results), [], []
    texts = {o.option_id: o.text for o in results.options}
    method = find(results.method)
    if method is not None and method.summary is not None:
        head = method.summary(results, texts, lang)
    else:
        head = _display.generic(lang, results, texts)
    return head, _display.tie_breaks(lang, results, texts), _display.decision(lang, results)
