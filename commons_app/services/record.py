"""The published ballot record of a closed poll: its canonical bytes, digest, parser and recount.

When a poll closes its counted ballots are published as ``record.jsonl`` (see the contract's
"Ballot record"): one JSON object per ballot, ``{"receipt": ..., "weight": ..., <field>: ...}``,
in ascending order of receipt, UTF-8, each line ending in ``\\n``, and nothing that names a
voter or a time. ``record_sha256`` is the SHA-256 of exactly those bytes, so the bytes must be
canonical: the same ballots always give the same record, whatever order they come in.

Canonical line: keys in the order ``receipt``, ``weight``, field; compact JSON
(``separators=(",", ":")``, ``ensure_ascii=False``); the weight as an integer when it is whole
(``1``, not ``1.0``), otherwise as Python's shortest float repr (``0.0001``); approval
``option_ids`` in ascending order; a ``ranking`` in preference order; ``scores`` keyed by the
option id as a string, in ascending numeric order, with integer values.

Everything here is pure (no database, no settings, no framework), so the command line can
recount a downloaded record anywhere: ``python -m commons_app recount record.jsonl``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise
from typing import Any

from commons_app import methods
from commons_app.i18n import N_
from commons_app.methods.ballots import MAX_SCORE
from commons_app.services.tally import TallyBallot, TallyResult

__all__ = [
    "FIELD_FOR_METHOD",
    "RANKED_METHODS",
    "BltElection",
    "RecordBallot",
    "parse_blt",
    "parse_record",
    "record_blt",
    "record_bytes",
    "record_digest",
    "record_line",
    "tally_record",
]

class _FieldForMethod(Mapping[str, str]):
    """Method name -> ballot field, read from the method registry at each use."""

    def __getitem__(self, name: str) -> str:
        method = methods.find(name)
        if method is None:
            raise KeyError(name)
        return method.field

    def __iter__(self) -> Iterator[str]:
        return iter(methods.names())

    def __len__(self) -> int:
        return len(methods.names())


class _RankedMethods(Mapping[str, bool]):
    """The methods whose record also comes as BLT (``in`` and iteration), from the registry."""

    def __getitem__(self, name: str) -> bool:
        method = methods.find(name)
        if method is None or not method.ranked_record:
            raise KeyError(name)
        return True

    def __iter__(self) -> Iterator[str]:
        return iter([m.name for m in methods.all_methods() if m.ranked_record])

    def __len__(self) -> int:
        return len(list(iter(self)))


FIELD_FOR_METHOD: Mapping[str, str] = _FieldForMethod()
"""The ballot field each voting method's record lines carry (the same field ``POST /api/votes/`` takes)."""

RANKED_METHODS: Mapping[str, bool] = _RankedMethods()
"""Methods whose ballots are rankings: the ones that also publish ``record.blt``."""

_FIELDS = frozenset(methods.KINDS)
_KEYS = ("receipt", "weight")
_DECIMAL_ID = re.compile(r"(?:0|-?[1-9][0-9]*)\Z")


@dataclass(frozen=True)
class RecordBallot:
    """One counted ballot as the record shows it.

    Only the attribute that the poll's method uses is read; the others are ignored.

    Attributes:
        receipt: The ballot's receipt (a random URL-safe string).
        weight: The ballot's weight, a finite number greater than zero.
        option_id: ``single``: the chosen option.
        choices: ``approval``: the approved options (a set; written in ascending order);
            ranked methods: the options in order of preference.
        scores: ``score`` and ``star``: option id -> score in ``0..MAX_SCORE`` (None: no scores).
    """

    receipt: str
    weight: float
    option_id: int | None = None
    choices: tuple[int, ...] = ()
    scores: Mapping[int, int] | None = None


def _field(method: str) -> str:
    """The record field of ``method``, or ValueError naming the methods there are."""
    try:
        return FIELD_FOR_METHOD[method]
    except KeyError:
        raise ValueError(f"unknown voting method {method!r}; expected one of {', '.join(FIELD_FOR_METHOD)}") from None


def _is_int(value: object) -> bool:
    """True for an int that is not a bool (JSON ``true`` must not pass for option 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_receipt(receipt: object) -> str:
    """The receipt, or ValueError when it is not a non-empty string that UTF-8 can carry."""
    if not isinstance(receipt, str) or not receipt:
        raise ValueError(f"receipt must be a non-empty string, got {receipt!r}")
    try:
        receipt.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which only a JSON escape can produce
        raise ValueError(f"receipt {receipt!r} is not valid Unicode text") from None
    return receipt


def _check_weight(weight: object) -> float:
    """The weight as a float, or ValueError when it is not a finite number > 0."""
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        raise ValueError(f"weight must be a number, got {weight!r}")
    try:
        value = float(weight)
    except OverflowError:  # an integer too large for a float
        raise ValueError(f"weight {weight!r} is too large") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"weight must be a finite number > 0, got {weight!r}")
    return value


def _json_weight(weight: float) -> int | float:
    """The weight as it is written: an int when whole, else the float (repr-shortest in JSON)."""
    return int(weight) if weight.is_integer() else weight


def _check_ids(ids: Iterable[object], what: str) -> tuple[int, ...]:
    """Option ids as a tuple; ValueError when one is not an integer or one repeats."""
    ids = tuple(ids)
    for option_id in ids:
        if not _is_int(option_id):
            raise ValueError(f"{what} must hold option ids (integers), got {option_id!r}")
    if len(set(ids)) != len(ids):
        raise ValueError(f"{what} names an option more than once: {list(ids)}")
    return ids  # type: ignore[return-value]


def _check_scores(scores: Mapping[int, int] | None) -> dict[int, int]:
    """The score map with its checks: integer option ids, integer scores in ``0..MAX_SCORE``."""
    checked: dict[int, int] = {}
    for option_id, score in (scores or {}).items():
        if not _is_int(option_id):
            raise ValueError(f"scores must be keyed by option id, got {option_id!r}")
        if not _is_int(score) or not 0 <= score <= MAX_SCORE:
            raise ValueError(f"the score of option {option_id} must be an integer 0..{MAX_SCORE}, got {score!r}")
        checked[option_id] = score
    return checked


def _field_value(method: str, ballot: RecordBallot) -> Any:
    """The JSON value of the method's field for ``ballot``, checked and in canonical order."""
    field = _field(method)
    if field == "option_id":
        if not _is_int(ballot.option_id):
            raise ValueError(f"a single-choice ballot needs an integer option_id, got {ballot.option_id!r}")
        return ballot.option_id
    if field == "option_ids":
        return sorted(_check_ids(ballot.choices, "option_ids"))
    if field == "ranking":
        return list(_check_ids(ballot.choices, "ranking"))
    return {str(option_id): score for option_id, score in sorted(_check_scores(ballot.scores).items())}


def record_line(method: str, ballot: RecordBallot) -> str:
    """One ballot's canonical record line.

    Args:
        method: The poll's voting method (a key of :data:`FIELD_FOR_METHOD`).
        ballot: The ballot.

    Returns:
        The JSON object ``{"receipt":...,"weight":...,<field>:...}`` followed by ``"\\n"``.

    Raises:
        ValueError: On an unknown method, an empty receipt, a weight that is not a finite
            number > 0, or a field value that does not fit the method.
    """
    _check_receipt(ballot.receipt)
    weight = _check_weight(ballot.weight)
    value = _field_value(method, ballot)
    obj = {"receipt": ballot.receipt, "weight": _json_weight(weight), FIELD_FOR_METHOD[method]: value}
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"


def _by_receipt(ballots: Iterable[RecordBallot]) -> list[RecordBallot]:
    """The ballots in ascending order of receipt; ValueError when a receipt repeats."""
    ordered = sorted(ballots, key=lambda ballot: ballot.receipt)
    for before, after in pairwise(ordered):
        if before.receipt == after.receipt:
            raise ValueError(f"receipt {after.receipt!r} names more than one ballot")
    return ordered


def record_bytes(method: str, ballots: Iterable[RecordBallot]) -> bytes:
    """The poll's whole record, canonical: one :func:`record_line` per ballot, by receipt.

    Args:
        method: The poll's voting method.
        ballots: The counted ballots, in any order.

    Returns:
        The UTF-8 bytes of the lines in ascending order of receipt (string order, which is
        also the order of the UTF-8 bytes); empty for a poll without ballots.

    Raises:
        ValueError: As :func:`record_line` does, or when two ballots share a receipt.
    """
    _field(method)
    return "".join(record_line(method, ballot) for ballot in _by_receipt(ballots)).encode("utf-8")


def record_digest(data: bytes) -> str:
    """The hex SHA-256 of a record's bytes (the results' ``record_sha256``)."""
    return hashlib.sha256(data).hexdigest()


def _no_constant(name: str) -> Any:
    """Refuse ``NaN``/``Infinity``, which the json module would otherwise accept."""
    raise ValueError(f"{name} is not a number JSON allows")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build a JSON object, refusing a key given twice (json.loads would keep the last one)."""
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"key {key!r} appears twice")
        obj[key] = value
    return obj


def _parse_value(field: str, value: Any) -> dict[str, Any]:
    """Check a line's field value and give the matching :class:`RecordBallot` attributes."""
    if field == "option_id":
        if not _is_int(value):
            raise ValueError(f"option_id must be an integer, got {value!r}")
        return {"option_id": value}
    if field in ("option_ids", "ranking"):
        if not isinstance(value, list):
            raise ValueError(f"{field} must be a list of option ids, got {value!r}")
        return {"choices": _check_ids(value, field)}
    if not isinstance(value, dict):
        raise ValueError(f"scores must be an object of option id -> score, got {value!r}")
    scores: dict[int, int] = {}
    for key, score in value.items():
        if not _DECIMAL_ID.match(key):
            raise ValueError(f"scores must be keyed by option id, got {key!r}")
        scores[int(key)] = score
    return {"scores": _check_scores(scores)}


def parse_record(data: bytes) -> tuple[str, list[RecordBallot]]:
    """Read a published record and check that it is a well-formed one.

    Formatting is read leniently (any JSON spacing or key order; ``1.0`` for ``1``); what the
    record means is checked strictly. Only a canonical record gives back its own bytes through
    :func:`record_bytes`, and only those match ``record_sha256``.

    Args:
        data: The bytes of a ``record.jsonl``.

    Returns:
        The ballot field the lines carry (``""`` for an empty record) and the ballots, in the
        record's order.

    Raises:
        ValueError: Naming the line, when the bytes are not UTF-8, a line is not a JSON object
            with exactly ``receipt``, ``weight`` and one ballot field, the lines mix fields, a
            receipt is empty or repeats, a weight is not a finite number > 0, a value does not
            fit its field, the lines are not in ascending order of receipt, or the last line
            does not end in a newline.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ValueError(f"line {line}: not UTF-8 text (byte {exc.start})") from None
    if not text:
        return "", []
    if not text.endswith("\n"):
        raise ValueError(f"line {text.count(chr(10)) + 1}: the last line does not end in a newline")
    field = ""
    first_line = 0
    ballots: list[RecordBallot] = []
    for number, line in enumerate(text[:-1].split("\n"), start=1):
        if not line.strip():
            raise ValueError(f"line {number}: empty line")
        try:
            obj = json.loads(line, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from None
        if not isinstance(obj, dict):
            raise ValueError(f"line {number}: expected a JSON object, got {line[:40]!r}")
        missing = [key for key in _KEYS if key not in obj]
        if missing:
            raise ValueError(f"line {number}: missing {' and '.join(missing)}")
        found = [key for key in obj if key not in _KEYS]
        fields = [key for key in found if key in _FIELDS]
        unknown = [key for key in found if key not in _FIELDS]
        if unknown:
            raise ValueError(f"line {number}: unexpected key {unknown[0]!r}")
        if len(fields) != 1:
            names = ", ".join(sorted(_FIELDS))
            raise ValueError(f"line {number}: expected exactly one ballot field ({names}), got {len(fields)}")
        if not field:
            field, first_line = fields[0], number
        elif fields[0] != field:
            raise ValueError(f"line {number}: mixed ballot fields: {fields[0]!r} here, {field!r} on line {first_line}")
        try:
            receipt = _check_receipt(obj["receipt"])
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from None
        if ballots and receipt <= ballots[-1].receipt:
            if receipt == ballots[-1].receipt:
                raise ValueError(f"line {number}: duplicate receipt {receipt!r} (also on line {number - 1})")
            raise ValueError(
                f"line {number}: out of order: receipt {receipt!r} sorts before the one on line {number - 1}"
            )
        try:
            weight = _check_weight(obj["weight"])
            attributes = _parse_value(field, obj[field])
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from None
        ballots.append(RecordBallot(receipt=receipt, weight=weight, **attributes))
    return field, ballots


def _tally_ballot(field: str, ballot: RecordBallot) -> TallyBallot:
    """The tally's view of a record ballot (``single`` counts ``choices=(option_id,)``)."""
    if field == "option_id":
        return TallyBallot(weight=ballot.weight, choices=(ballot.option_id,))  # type: ignore[arg-type]
    if field == "scores":
        return TallyBallot(weight=ballot.weight, scores=dict(ballot.scores or {}))
    return TallyBallot(weight=ballot.weight, choices=ballot.choices)


def _named_options(field: str, ballot: RecordBallot) -> Iterable[int]:
    """Every option id a record ballot names."""
    if field == "option_id":
        return (ballot.option_id,)  # type: ignore[return-value]
    if field == "scores":
        return (ballot.scores or {}).keys()
    return ballot.choices


def tally_record(
    method: str, option_ids: Sequence[int], data: bytes, settings: Mapping[str, Any] | None = None
) -> TallyResult:
    """Recount a published record with the poll's method, exactly as the app counts.

    Args:
        method: The poll's voting method (one of :data:`commons_app.services.tally.METHODS`).
        option_ids: The poll's option ids in display order.
        data: The bytes of its ``record.jsonl``.
        settings: The method's poll settings by name (``seats``, ``stv_rule`` ...), if any.

    Returns:
        What the method's tally gives for the record's ballots.

    Raises:
        ValueError: When the record is malformed (see :func:`parse_record`), its lines carry
            another method's field, a ballot names an option that is not in ``option_ids``,
            or as the tally raises (for example an unknown method).
    """
    expected = _field(method)
    field, ballots = parse_record(data)
    if field and field != expected:
        raise ValueError(f"the record's ballots carry {field!r}, but method {method!r} takes {expected!r}")
    known = set(option_ids)
    for number, ballot in enumerate(ballots, start=1):
        for option_id in _named_options(field, ballot):
            if option_id not in known:
                raise ValueError(f"line {number}: option {option_id} is not one of the poll's options")
    # A lot's seed is the record's SHA-256, as when the poll was sealed.
    return methods.find(method).tally(  # type: ignore[union-attr]
        option_ids, [_tally_ballot(field, ballot) for ballot in ballots], settings, seed=record_digest(data)
    )


def _blt_weight(weight: float) -> str:
    """A BLT multiplier: an integer when whole, else a plain decimal (never an exponent)."""
    if weight.is_integer():
        return str(int(weight))
    return format(Decimal(repr(weight)), "f")


def _blt_quoted(text: str) -> str:
    """A BLT string: in double quotes, with ``\\`` and ``"`` escaped and line breaks made spaces."""
    one_line = " ".join(text.splitlines())
    return '"' + one_line.replace("\\", "\\\\").replace('"', '\\"') + '"'


def record_blt(
    *,
    title: str,
    option_ids: Sequence[int],
    option_texts: Sequence[str],
    method: str,
    ballots: Iterable[RecordBallot],
    seats: int = 1,
) -> str:
    """A ranked poll's ballots in the BLT format that STV and IRV counting programs read.

    Layout: ``"<candidates> <seats>"``; one line per ballot (in order of receipt, as in the
    record), ``"<weight> <candidate numbers> 0"``, where candidate ``k`` is the ``k``-th of
    ``option_ids`` (1-based); ``"0"``; each candidate's name in double quotes on its own line;
    the title in double quotes. A fractional weight is written as a decimal (``0.5``); some
    programs (Droop, for one) take whole multipliers only.

    Args:
        title: The poll's title.
        option_ids: The poll's option ids in display order.
        option_texts: Their texts, in the same order.
        method: The poll's voting method; it must be a ranked one (:data:`RANKED_METHODS`).
        ballots: The counted ballots, in any order.
        seats: How many winners (1 for single-winner methods).

    Returns:
        The BLT text, ending in a newline.

    Raises:
        ValueError: For a method that is not ranked, option ids and texts that do not pair
            up, a repeated option id, seats outside ``1..candidates``, a ballot that ranks an
            unknown option, or as :func:`record_line` does.
    """
    _field(method)
    if method not in RANKED_METHODS:
        raise ValueError(f"BLT holds ranked ballots; method {method!r} is not a ranked method")
    ids = list(option_ids)
    if len(ids) != len(option_texts):
        raise ValueError(f"{len(ids)} option ids but {len(option_texts)} option texts")
    number = {option_id: position for position, option_id in enumerate(ids, start=1)}
    if len(number) != len(ids):
        raise ValueError(N_("option_ids must not contain duplicates"))
    if not _is_int(seats) or not 1 <= seats <= len(ids):
        raise ValueError(f"seats must be between 1 and {len(ids)}, got {seats!r}")
    lines = [f"{len(ids)} {seats}"]
    for ballot in _by_receipt(ballots):
        record_line(method, ballot)  # the same checks as the record's own line
        try:
            ranks = [str(number[option_id]) for option_id in ballot.choices]
        except KeyError as exc:
            raise ValueError(f"ballot {ballot.receipt!r} ranks option {exc.args[0]}, which is not an option") from None
        lines.append(" ".join([_blt_weight(float(ballot.weight)), *ranks, "0"]))
    lines.append("0")
    lines.extend(_blt_quoted(text) for text in option_texts)
    lines.append(_blt_quoted(title))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class BltElection:
    """A BLT file read back (:func:`parse_blt`).

    Attributes:
        candidates: How many candidates.
        seats: How many to elect.
        ballots: ``(weight, ranking)`` per ballot line; the ranking holds candidate numbers
            (1-based), the weight as written (a Fraction, exact).
        names: The candidates' names, in candidate order.
        title: The election's title.
        withdrawn: Candidate numbers listed as withdrawn (``-k`` on the first line after it).
    """

    candidates: int
    seats: int
    ballots: list[tuple[Fraction, tuple[int, ...]]]
    names: list[str]
    title: str
    withdrawn: tuple[int, ...] = ()

    def tally_ballots(self, option_ids: Sequence[int] | None = None) -> tuple[list[int], list[TallyBallot]]:
        """The options (candidate numbers, or ``option_ids`` in candidate order) and ballots to count."""
        ids = list(option_ids) if option_ids is not None else list(range(1, self.candidates + 1))
        if len(ids) != self.candidates:
            raise ValueError(f"{self.candidates} candidates but {len(ids)} option ids")
        gone = set(self.withdrawn)
        ballots = [
            TallyBallot(weight=weight, choices=tuple(ids[k - 1] for k in ranking if k not in gone))
            for weight, ranking in self.ballots
        ]
        return [option for k, option in enumerate(ids, start=1) if k not in gone], ballots


_BLT_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def parse_blt(text: str) -> BltElection:
    """Read a BLT file (the format :func:`record_blt` writes and STV counting programs share).

    Accepts ``"<candidates> <seats>"``, an optional line of withdrawn candidates (``-2 -5``),
    ballot lines ``"<weight> <candidate numbers...> 0"`` (a ballot id in parentheses first is
    allowed and ignored), ``"0"``, the candidates' names in double quotes and the title;
    ``#`` starts a comment.

    Raises:
        ValueError: A malformed file, with the line number.
    """
    tokens: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        rest = line.split("#", 1)[0] if '"' not in line else line
        position = 0
        while position < len(rest):
            if rest[position].isspace():
                position += 1
                continue
            match = _BLT_STRING.match(rest, position)
            if match:
                tokens.append((number, '"' + re.sub(r"\\(.)", r"\1", match.group(1))))
                position = match.end()
                continue
            end = position
            while end < len(rest) and not rest[end].isspace():
                end += 1
            tokens.append((number, rest[position:end]))
            position = end
    cursor = iter(tokens)

    def take(what: str) -> tuple[int, str]:
        try:
            return next(cursor)
        except StopIteration:
            raise ValueError(f"BLT: the file ends where {what} should be") from None

    def integer(token: tuple[int, str], what: str) -> int:
        line, value = token
        if not re.fullmatch(r"-?[0-9]+", value):
            raise ValueError(f"BLT line {line}: {what} must be a whole number, got {value!r}")
        return int(value)

    candidates = integer(take("the number of candidates"), "the number of candidates")
    seats = integer(take("the number of seats"), "the number of seats")
    if candidates < 1 or not 1 <= seats <= candidates:
        raise ValueError(f"BLT line 1: {candidates} candidates and {seats} seats do not make an election")
    token = take("a ballot")
    withdrawn: list[int] = []
    while token[1].startswith("-"):
        withdrawn.append(-integer(token, "a withdrawn candidate"))
        token = take("a ballot")
    ballots: list[tuple[Fraction, tuple[int, ...]]] = []
    while token[1] != "0":
        line, value = token
        if value.startswith("("):
            token = take("a ballot weight")
            line, value = token
        try:
            weight = Fraction(Decimal(value))
        except (ArithmeticError, ValueError):
            raise ValueError(f"BLT line {line}: a ballot weight must be a number, got {value!r}") from None
        if weight <= 0:
            raise ValueError(f"BLT line {line}: a ballot weight must be above zero")
        ranking: list[int] = []
        while True:
            k = integer(take("the end of a ballot (0)"), "a candidate number")
            if k == 0:
                break
            if not 1 <= k <= candidates:
                raise ValueError(f"BLT line {line}: candidate {k} is not one of the {candidates}")
            if k in ranking:
                raise ValueError(f"BLT line {line}: candidate {k} is ranked twice")
            ranking.append(k)
        ballots.append((weight, tuple(ranking)))
        token = take("a ballot or the closing 0")
    names: list[str] = []
    for _ in range(candidates):
        line, value = take("a candidate's name")
        if not value.startswith('"'):
            raise ValueError(f"BLT line {line}: a candidate's name must be in double quotes")
        names.append(value[1:])
    line, value = take("the title")
    if not value.startswith('"'):
        raise ValueError(f"BLT line {line}: the title must be in double quotes")
    return BltElection(candidates, seats, ballots, names, value[1:], tuple(withdrawn))
