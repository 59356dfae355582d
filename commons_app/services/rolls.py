"""Editing a poll's roll piece by piece, and the roll as CSV (``email,name,weight``).

The roll's rules (who may change it, what is sealed, which weights an anonymous poll allows) are
decided in one place, :func:`commons_app.services.polls.set_roll`; every change here reads the
current roll, applies the edit, and hands the whole roll to it, so a refused edit changes nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from commons_app.i18n import N_
from commons_app.models import User
from commons_app.services import polls
from commons_app.services.errors import InvalidInput
from commons_app.services.polls import RollEntry

CSV_COLUMNS = ("email", "name", "weight")
CSV_MAX_BYTES = 1_000_000
NAME_MAX = 64


class RollCsvError(InvalidInput):
    """A roll CSV with bad lines; ``lines`` holds one readable message per bad line."""

    def __init__(self, lines: list[str]) -> None:
        shown = lines[:20]
        more = f" (and {len(lines) - 20} more)" if len(lines) > 20 else ""
        super().__init__(f"Nothing was imported: {len(lines)} line(s) need fixing{more}.", field="csv")
        self.lines = shown + ([f"… {len(lines) - 20} more"] if more else [])


@dataclass(frozen=True)
class CsvLine:
    """One data line of a roll CSV, as written."""

    number: int
    email: str
    name: str
    weight: str


def make_entry(*, username: str | None, email: str | None, weight: float) -> RollEntry:
    """A roll entry naming an account (``username``), an address (``email``), or both."""
    return RollEntry(username=username, weight=weight, email=email or None)


def entry_key(entry: RollEntry) -> str:
    """What tells roll entries apart: the username, or for a voter by address only, the address."""
    if entry.username:
        return entry.username.lower()
    return str(getattr(entry, "email", "") or "").lower()


def _lines(*, session: Session, user: User, poll_id: str) -> list[dict[str, Any]]:
    rows = []
    for line in polls.get_roll(session=session, user=user, poll_id=poll_id):
        account, voter, voted = line
        username = getattr(line, "username", account.username)
        email = str(getattr(voter, "email", None) or "")
        rows.append({
            "key": username or email,
            "username": username or "",
            "email": email,
            "weight": float(voter.weight),
            "weight_text": f"{float(voter.weight):g}",
            "has_voted": bool(voted),
            "invitation": str(getattr(line, "invitation", None) or ""),
        })
    return rows


def roll_rows(*, session: Session, user: User, poll_id: str) -> list[dict[str, Any]]:
    """The roll as plain rows for the browser: ``key`` (the username, or the address of a voter
    without an account), username, email (only the entry's own, never an account's), weight,
    whether the voter has voted (never how) and their invitation's status. Owner or admin."""
    return _lines(session=session, user=user, poll_id=poll_id)


def _current(*, session: Session, user: User, poll_id: str) -> dict[str, RollEntry]:
    entries = {}
    for row in _lines(session=session, user=user, poll_id=poll_id):
        entry = make_entry(username=row["username"] or None, email=row["email"] or None, weight=row["weight"])
        entries[entry_key(entry)] = entry
    return entries


def add_voter(*, session: Session, user: User, poll_id: str, who: str, weight: Any = 1) -> None:
    """Add one voter (by username, or by email: an account's address or an invitation) or
    change a listed voter's weight.

    Raises:
        InvalidInput: Empty or unknown name, bad weight, or anything :func:`polls.set_roll` refuses.
        Conflict: The roll is sealed for this change (see :func:`polls.set_roll`).
    """
    who = str(who or "").strip()
    if not who:
        raise InvalidInput(N_("Enter a username (or an email)."), field="voter")
    value = polls.parse_weight(str(weight).strip() or "1", who=who)
    entries = _current(session=session, user=user, poll_id=poll_id)
    if "@" in who:
        entry = make_entry(username=None, email=who, weight=value)
    else:
        found = session.exec(select(User).where(User.username_key == who.lower())).first()
        if found is None:
            raise InvalidInput(N_("No user is called %(who)s."), field="voter", who=repr(who))
        kept = entries.get(found.username_key)
        entry = make_entry(username=found.username, email=getattr(kept, "email", None), weight=value)
    entries[entry_key(entry)] = entry
    polls.set_roll(session=session, user=user, poll_id=poll_id, voters=list(entries.values()))


def remove_voter(*, session: Session, user: User, poll_id: str, key: str) -> None:
    """Take one voter (by username, or address) off the roll.

    Raises:
        InvalidInput: Not on the roll.
        Conflict: They have voted, or the poll is closed (see :func:`polls.set_roll`).
    """
    entries = _current(session=session, user=user, poll_id=poll_id)
    if entries.pop(str(key).strip().lower(), None) is None:
        raise InvalidInput(N_("%(key)s is not on the roll."), field="voter", key=repr(key))
    polls.set_roll(session=session, user=user, poll_id=poll_id, voters=list(entries.values()))


def set_weight(*, session: Session, user: User, poll_id: str, key: str, weight: Any) -> None:
    """Change one voter's weight (the voter named by username, or address).

    Raises:
        InvalidInput: Not on the roll, or a bad weight.
        Conflict: The weight is sealed (see :func:`polls.set_roll`).
    """
    entries = _current(session=session, user=user, poll_id=poll_id)
    key = str(key).strip().lower()
    if key not in entries:
        raise InvalidInput(N_("%(key)s is not on the roll."), field="voter", key=repr(key))
    old = entries[key]
    entries[key] = make_entry(
        username=old.username, email=getattr(old, "email", None),
        weight=polls.parse_weight(str(weight).strip(), who=old.username or key),
    )
    polls.set_roll(session=session, user=user, poll_id=poll_id, voters=list(entries.values()))


def read_csv(text: str) -> list[CsvLine]:
    """The data lines of a roll CSV: a header naming ``email``, ``name`` and ``weight`` (any
    order, any case; ``username`` is taken for ``name``; ``weight`` may be left out), then one
    voter a line. Blank lines are skipped.

    Raises:
        RollCsvError: No usable header, or lines with the wrong number of fields.
    """
    if len(text.encode("utf-8", "replace")) > CSV_MAX_BYTES:
        raise RollCsvError([f"The file is larger than {CSV_MAX_BYTES // 1000} kB."])
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    numbered = [(n, row) for n, row in enumerate(rows, start=1) if any(cell.strip() for cell in row)]
    if not numbered:
        raise RollCsvError(["The file is empty: expected a header line email,name,weight and one voter a line."])
    header_number, header = numbered[0]
    names = [cell.strip().lower() for cell in header]
    names = ["name" if n == "username" else n for n in names]
    if "name" not in names and "email" not in names:
        raise RollCsvError([f"Line {header_number}: the first line must be the header email,name,weight."])
    index = {n: names.index(n) for n in CSV_COLUMNS if n in names}
    errors: list[str] = []
    lines: list[CsvLine] = []
    for number, row in numbered[1:]:
        if len(row) != len(header):
            errors.append(f"Line {number}: expected {len(header)} fields, found {len(row)}.")
            continue

        def cell(name: str, row: list[str] = row) -> str:
            return _unquote(row[index[name]].strip()) if name in index else ""

        lines.append(CsvLine(number, cell("email"), cell("name"), cell("weight")))
    if errors:
        raise RollCsvError(errors)
    if len(lines) > polls.MAX_ROLL:
        raise RollCsvError([f"A roll holds at most {polls.MAX_ROLL} voters; the file has {len(lines)}."])
    return lines


def entries_from_csv(*, session: Session, lines: Sequence[CsvLine]) -> list[RollEntry]:
    """Check every line (a known username or an email, a valid weight, no voter twice) and turn
    them into roll entries.

    Raises:
        RollCsvError: With one message per bad line; nothing is taken when any line is bad.
    """
    keys = {line.name.lower() for line in lines if line.name}
    users = (
        {u.username_key: u for u in session.exec(select(User).where(col(User.username_key).in_(list(keys)))).all()}
        if keys else {}
    )
    errors: list[str] = []
    entries: list[RollEntry] = []
    seen: dict[str, int] = {}
    for line in lines:
        where = f"Line {line.number}"
        who = line.name or line.email
        if not who:
            errors.append(f"{where}: give a name (username) or an email.")
            continue
        try:
            weight = polls.parse_weight(line.weight or "1", who=who)
        except InvalidInput:
            errors.append(
                f"{where}: weight {line.weight!r} is not a number greater than 0 and at most {polls.MAX_WEIGHT:,.0f} "
                f"(at most {polls.WEIGHT_DECIMALS} decimal places)."
            )
            continue
        try:
            if line.name:
                if len(line.name) > NAME_MAX or line.name.lower() not in users:
                    errors.append(f"{where}: no user is called {line.name!r}.")
                    continue
                entry = make_entry(username=users[line.name.lower()].username, email=line.email or None, weight=weight)
            else:
                entry = make_entry(username=None, email=line.email, weight=weight)
        except InvalidInput as exc:
            errors.append(f"{where}: {exc.message}")
            continue
        key = entry_key(entry)
        if key in seen:
            errors.append(f"{where}: {line.name or line.email!r} is already on line {seen[key]}.")
            continue
        seen[key] = line.number
        entries.append(entry)
    if errors:
        raise RollCsvError(errors)
    return entries


def import_csv(*, session: Session, user: User, poll_id: str, text: str, replace: bool = False) -> int:
    """Add the voters of a roll CSV to the roll (or, with ``replace``, make it the whole roll).

    Returns the number of voters on the roll afterwards.

    Raises:
        RollCsvError: Bad lines (nothing is changed).
        InvalidInput, Conflict: What :func:`polls.set_roll` refuses (nothing is changed).
    """
    polls.get_managed_poll(session=session, poll_id=poll_id, user=user)  # who asks, before reading the file
    entries = entries_from_csv(session=session, lines=read_csv(text))
    merged = {} if replace else _current(session=session, user=user, poll_id=poll_id)
    for entry in entries:
        merged[entry_key(entry)] = entry
    polls.set_roll(session=session, user=user, poll_id=poll_id, voters=list(merged.values()))
    return len(merged)


def export_csv(*, session: Session, user: User, poll_id: str) -> str:
    """The roll as CSV ``email,name,weight``, one voter a line (read back by :func:`import_csv`).

    A voter named by an account has no email here: the creator learns no account's address.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in roll_rows(session=session, user=user, poll_id=poll_id):
        writer.writerow([_safe_cell(row["email"]), _safe_cell(row["username"]), row["weight_text"]])
    return out.getvalue()


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _safe_cell(value: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection); :func:`_unquote` undoes it."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _unquote(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA_STARTS) else value
