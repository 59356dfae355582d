"""Small helpers the methods' displays share."""

from __future__ import annotations

from typing import Any


def number(value: Any) -> str:
    """Whole numbers without a decimal point, others with up to four decimals."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")
