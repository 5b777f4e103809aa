"""Kubernetes resource quantities ('8Gi', '500m', '1.5', 4): parse, scale, format as strings.

Quantities always leave orbitfarm as strings: the official client (37) rejects an int where the
API schema says IntOrString-quantity, though the API server itself would accept it.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

_QUANTITY = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"
                       r"(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
_FACTORS = {None: Decimal(1), "m": Decimal("0.001"), "k": Decimal(10) ** 3,
            "M": Decimal(10) ** 6, "G": Decimal(10) ** 9, "T": Decimal(10) ** 12,
            "P": Decimal(10) ** 15, "E": Decimal(10) ** 18, "Ki": Decimal(2) ** 10,
            "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
            "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60}


class QuantityError(ValueError):
    """A resource amount a user gave is not a Kubernetes quantity."""


def parse_quantity(value: int | float | str) -> Decimal:
    """'8Gi' -> 8589934592, '500m' -> 0.5, 2 -> 2."""
    if isinstance(value, bool):
        raise QuantityError(f"{value!r} is not a quantity")
    text = str(value).strip()
    m = _QUANTITY.match(text)
    if not m:
        raise QuantityError(f"{value!r} is not a Kubernetes quantity: use e.g. 8Gi, 500Mi, "
                            "4 or 500m")
    try:
        return Decimal(m.group(1)) * _FACTORS[m.group(2)]
    except InvalidOperation:
        raise QuantityError(f"{value!r} is not a Kubernetes quantity") from None


def quantity_text(value: int | float | str) -> str:
    """A profile value as the string the API gets (validated): 1 -> '1', '8Gi' -> '8Gi'."""
    parse_quantity(value)
    text = str(value).strip()
    return text[:-2] if text.endswith(".0") and text[:-2].isdigit() else text


def scale_memory(value: int | float | str, factor: float) -> str:
    """A memory quantity times factor (retry escalation), rounded up to whole Mi."""
    mib = parse_quantity(value) * Decimal(str(factor)) / _FACTORS["Mi"]
    whole = math.ceil(mib)
    return f"{whole // 1024}Gi" if whole % 1024 == 0 else f"{whole}Mi"
