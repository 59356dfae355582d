"""Voting methods: one module per method, each registering one entry (see ``registry``).

Importing this package registers the built-in methods. A new method is a module here that calls
:func:`register` (and is imported below), and its tests. Modules named in the setting
``COMMONS_METHOD_MODULES`` (comma-separated, importable) are imported after them, so a deployment
(or a test server) can add a method without touching this package.
"""

import importlib
import os

from commons_app.methods import approval, borda, irv, schulze, score, single, star, stv  # noqa: F401 - registers
from commons_app.methods.ballots import KINDS, MAX_SCORE, BallotKind, CleanBallot
from commons_app.methods.registry import (
    Method,
    Param,
    Table,
    all_methods,
    all_params,
    find,
    get,
    headline,
    label_of,
    names,
    register,
    summarize,
    summary_parts,
    summary_texts,
    unregister,
)

__all__ = [
    "KINDS", "MAX_SCORE", "BallotKind", "CleanBallot", "Method", "Param", "Table", "all_methods", "all_params", "find",
    "get", "headline", "label_of", "names", "register", "summarize", "summary_parts", "summary_texts", "unregister",
]


def _load_method_modules() -> None:
    """Import the modules ``COMMONS_METHOD_MODULES`` names (each registers its methods)."""
    for name in os.environ.get("COMMONS_METHOD_MODULES", "").split(","):
        if name.strip():
            importlib.import_module(name.strip())


_load_method_modules()
