"""Text that means what it shows: no hidden characters, and look-alikes compared as equal.

* :func:`refuse_hidden` refuses control characters and invisible format characters (bidi
  overrides and isolates, zero-width spaces and joiners, soft hyphens, fillers that render as
  nothing): a title or option must not read differently from what it holds.
* :func:`skeleton` folds confusable characters (UTS #39 "skeleton", with the Unicode
  confusables table that the ``confusable-homoglyphs`` package ships): Cyrillic ``а`` and Latin
  ``a``, ``I``, ``l`` and ``1``, ``0`` and ``O``, ``m`` and ``rn`` fold alike.
* :func:`option_key` and :func:`username_key` are the keys that must be unique among a poll's
  options and among usernames; :func:`reserved_username` names what no one may register.

What folds is written down in docs/SECURITY.md ("Look-alike text").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from confusable_homoglyphs.confusables import confusables_data

# Unicode general categories that never show as themselves: controls, format characters (bidi
# controls U+202A-E and U+2066-9, zero-width U+200B-D, U+FEFF, soft hyphen...), surrogates,
# private use and unassigned code points, and the line and paragraph separators U+2028/9 (a
# line break that only some renderers draw).
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Letters and marks that render as blank space of no width, or nothing at all.
INVISIBLE = frozenset({
    "\u034f",  # COMBINING GRAPHEME JOINER
    "\u115f", "\u1160", "\u3164", "\uffa0",  # Hangul fillers
    "\u2800",  # BRAILLE PATTERN BLANK
    "\u17b4", "\u17b5",  # Khmer inherent vowels (invisible)
})
ZWJ = "\u200d"
# Text of several lines (descriptions) may hold these.
LINE_BREAKS = frozenset("\n\r\t")
# Marks the confusables table puts around right-to-left characters (not part of them).
_BIDI_MARKS = "\u200e\u200f"
# Reserved usernames: the staff an impersonator would pose as.
RESERVED_USERNAMES = frozenset({
    "admin", "administrator", "root", "superuser", "sysadmin", "support", "helpdesk", "moderator", "mod",
    "staff", "system", "security", "official", "webmaster", "postmaster", "hostmaster", "abuse",
    "noreply", "thecommons", "commons",
})
_SEPARATORS = re.compile(r"[._\-]+")


def _emoji_side(ch: str) -> bool:
    return unicodedata.category(ch) == "So" or ch == "\ufe0f" or unicodedata.category(ch) == "Sk"


def hidden_characters(value: str, *, multiline: bool = False) -> list[tuple[int, str]]:
    """Each ``(position, character)`` of ``value`` that would not show as itself.

    A zero-width joiner between two emoji (a family, a profession) is allowed: it draws one emoji.
    """
    found = []
    for i, ch in enumerate(value):
        if multiline and ch in LINE_BREAKS:
            continue
        if ch == ZWJ and 0 < i < len(value) - 1 and _emoji_side(value[i - 1]) and _emoji_side(value[i + 1]):
            continue
        if ch in INVISIBLE or unicodedata.category(ch) in HIDDEN_CATEGORIES:
            found.append((i, ch))
    return found


def describe(ch: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``"""
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed character')}"


def refuse_hidden(value: str, *, name: str, multiline: bool = False) -> str | None:
    """The message refusing ``value`` (naming the first hidden character), or None when it has none."""
    found = hidden_characters(value, multiline=multiline)
    if not found:
        return None
    position, ch = found[0]
    return (
        f"{name} contains an invisible or control character ({describe(ch)}) at position {position + 1}; "
        "remove it."
    )


@lru_cache(maxsize=1)
def _prototypes() -> dict[str, str]:
    """Each confusable character's prototype: one representative per class of look-alikes.

    The package's table lists, for every character, the characters (or sequences, such as
    ``rn`` for ``m``) it is confusable with, in both directions; each class is one prototype with
    its look-alikes. The representative is the class's sequence when it has one (``m`` folds to
    ``rn``, as in UTS #39, so that ``adrnin`` and ``admin`` meet), else the character listing the
    most look-alikes (the table's prototype: ``l`` for ``I``, ``1`` and ``|``).
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    sizes: dict[str, int] = {}
    for char, entries in confusables_data.items():
        char = char.strip(_BIDI_MARKS)
        sizes[char] = max(sizes.get(char, 0), len(entries))
        for entry in entries:
            other = entry["c"].strip(_BIDI_MARKS)
            if other and char:
                parent[find(other)] = find(char)
    classes: dict[str, list[str]] = {}
    for member in list(parent):
        classes.setdefault(find(member), []).append(member)
    mapping: dict[str, str] = {}
    for members in classes.values():
        best = max(members, key=lambda m: (len(m), sizes.get(m, 0), -ord(m[0])))
        for member in members:
            if len(member) == 1 and member != best:
                mapping[member] = best
    return mapping


def skeleton(value: str) -> str:
    """``value`` with every confusable character replaced by its class's prototype (NFD before
    and after, as UTS #39's skeleton)."""
    table = _prototypes()
    folded = "".join(table.get(ch, ch) for ch in unicodedata.normalize("NFD", value))
    return unicodedata.normalize("NFD", folded)


def fold(value: str) -> str:
    """Compatibility-normalised (full-width and styled letters to plain ones), case-folded and
    confusable-folded, with runs of white space as one space: two texts with the same fold read
    alike. ``I`` is folded before the case is (so ``I`` meets ``l``), and after (so ``i`` meets ``і``)."""
    value = " ".join(unicodedata.normalize("NFKC", value).split())
    return skeleton(skeleton(value).casefold())


def option_key(text: str) -> str:
    """What must differ between two options of one poll."""
    return fold(text)


def username_key(username: str) -> str:
    """What must differ between two usernames, besides the lower-cased name (``aIice``, ``a1ice``
    and ``alice`` share it; ``adrnin`` and ``admin`` too)."""
    return fold(username)


def reserved_username(username: str) -> bool:
    """Whether ``username`` is, or looks like, a reserved name: separators and trailing digits
    do not count (``admin_``, ``Admin-2``, ``r00t`` and ``adrnin`` are all ``admin`` or ``root``)."""
    bare = _SEPARATORS.sub("", username).rstrip("0123456789") or username
    # Folded as typed (``I`` meets ``l``) and lower-cased first (``ADMIN`` is ``admin``).
    return fold(bare) in _reserved_keys() or fold(bare.casefold()) in _reserved_keys()


@lru_cache(maxsize=1)
def _reserved_keys() -> frozenset[str]:
    return frozenset(fold(name) for name in RESERVED_USERNAMES)
