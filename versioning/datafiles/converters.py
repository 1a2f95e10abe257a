"""Small building blocks shared by the compiled value converters (JSON forms, Arrow values, defaults)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Convert = Callable[[Any], Any]
"""Turns one value into another; compiled once per schema node, called per value."""


def each_item(item: Convert | None, *, skip_nulls: bool = False) -> Convert | None:
    """A converter for lists that applies ``item`` to every element (None: nothing to convert).

    ``skip_nulls`` leaves None elements as they are (Arrow lists may hold nulls the item converter rejects).
    """
    if item is None:
        return None
    if skip_nulls:
        return lambda value: [None if v is None else item(v) for v in value] if isinstance(value, list) else value
    return lambda value: [item(v) for v in value] if isinstance(value, list) else value


def each_value(convert_value: Convert | None, *, skip_nulls: bool = False) -> Convert | None:
    """A converter for maps that applies ``convert_value`` to every value (None: nothing to convert)."""
    if convert_value is None:
        return None
    if skip_nulls:
        return lambda value: (
            {k: None if v is None else convert_value(v) for k, v in value.items()} if isinstance(value, dict) else value
        )
    return lambda value: {k: convert_value(v) for k, v in value.items()} if isinstance(value, dict) else value
