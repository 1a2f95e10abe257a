"""Avro values in Python: defaults read from their JSON form, owned copies, and exact narrowing.

A schema writes a default in Avro's JSON encoding (bytes as a string of code points 0-255, a date as days
since the epoch, a decimal as its two's-complement bytes...). A record holds the Python value a reader gives
(``bytes``, ``datetime.date``, ``Decimal``...), so every default is converted here, once, to the value fastavro
reads back for that type. Conversions are by the parsed schema, so named types, logical types (valid ones
only: an invalid logical type is its underlying type, as the specification says) and unions are resolved as
Avro resolves them.

Narrowing (moving a value back from a promoted type, e.g. ``double`` to ``float``) must not change the value:
:func:`narrow` returns it unchanged in the narrower type or raises :class:`NarrowingError`.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import struct
from decimal import Decimal
from typing import Any

import avro.schema as A

INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)
FLOAT_MAX = struct.unpack("<f", b"\xff\xff\x7f\x7f")[0]
"""The largest finite 32-bit float."""
EPOCH_DATE = dt.date(1970, 1, 1)
EPOCH = dt.datetime(1970, 1, 1)
_IMMUTABLE = (type(None), bool, int, float, str, bytes, Decimal, dt.date, dt.time, dt.datetime)


class NarrowingError(ValueError):
    """A value that a narrower type cannot hold unchanged."""


LOGICAL_TYPES = {
    ("string", "uuid"),
    ("fixed", "uuid"),
    ("int", "date"),
    ("int", "time-millis"),
    ("long", "time-micros"),
    ("long", "timestamp-millis"),
    ("long", "timestamp-micros"),
    ("long", "local-timestamp-millis"),
    ("long", "local-timestamp-micros"),
    ("bytes", "decimal"),
    ("fixed", "decimal"),
}
"""The (underlying type, logical type) pairs the Avro specification defines; any other pairing is ignored."""


def logical_type(node: A.Schema) -> str | None:
    """The node's logical type when it is a valid one, else None (readers then use the underlying type).

    A decimal is valid when the ``avro`` package parsed it as one (a positive precision that its size can
    hold, a scale from 0 to the precision); it ignores invalid ones with a warning, as the specification says.
    """
    logical = node.get_prop("logicalType")
    if not isinstance(logical, str) or (node.type, logical) not in LOGICAL_TYPES:
        return None
    if logical == "decimal" and not isinstance(node, (A.BytesDecimalSchema, A.FixedDecimalSchema)):
        return None
    if logical == "uuid" and node.type == "fixed" and getattr(node, "size", None) != 16:
        return None
    return logical


def matches_json(node: A.Schema, value: Any) -> bool:
    """Whether ``value`` (Avro JSON, as in a default) is a value of ``node``'s type."""
    if isinstance(node, A.UnionSchema):
        return any(matches_json(branch, value) for branch in node.schemas)
    kind = node.type
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("int", "long"):
        low, high = INT_RANGE if kind == "int" else LONG_RANGE
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    if kind in ("float", "double"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind in ("string", "bytes"):
        return isinstance(value, str)
    if kind == "fixed":
        assert isinstance(node, A.FixedSchema)
        return isinstance(value, str) and len(value) == node.size
    if kind == "enum":
        assert isinstance(node, A.EnumSchema)
        return value in node.symbols
    if kind == "array":
        assert isinstance(node, A.ArraySchema)
        return isinstance(value, list) and all(matches_json(node.items, v) for v in value)
    if kind == "map":
        assert isinstance(node, A.MapSchema)
        return isinstance(value, dict) and all(matches_json(node.values, v) for v in value.values())
    if isinstance(node, A.RecordSchema):
        if not isinstance(value, dict):
            return False
        return all(matches_json(f.type, value[f.name]) if f.name in value else f.has_default for f in node.fields)
    return False


def from_json(node: A.Schema, value: Any) -> Any:
    """An Avro JSON value (a default, or a value written in ``subject.yaml``) as the Python value a reader gives.

    A union's value belongs to the first branch it matches (Avro 1.12 lets a default match any branch); a
    value that matches no branch comes back as it is.
    """
    if isinstance(node, A.UnionSchema):
        branch = next((b for b in node.schemas if matches_json(b, value)), None)
        return value if branch is None else from_json(branch, value)
    if value is None:
        return None
    logical = logical_type(node)
    if logical is not None:
        scale = node.get_prop("scale")
        converted = logical_from_json(logical, value, scale if isinstance(scale, int) else 0)
        if converted is not value:
            return converted
    kind = node.type
    if kind in ("bytes", "fixed") and isinstance(value, str):
        # Avro writes bytes as a string whose code points 0-255 are the bytes.
        return value.encode("latin-1")
    if kind in ("float", "double") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(node, A.ArraySchema) and isinstance(value, list):
        return [from_json(node.items, v) for v in value]
    if isinstance(node, A.MapSchema) and isinstance(value, dict):
        return {k: from_json(node.values, v) for k, v in value.items()}
    if isinstance(node, A.RecordSchema) and isinstance(value, dict):
        out = {}
        for f in node.fields:
            if f.name in value:
                out[f.name] = from_json(f.type, value[f.name])
            elif f.has_default:
                out[f.name] = from_json(f.type, f.default)
        return out
    return value


def logical_from_json(logical: str, value: Any, scale: int = 0) -> Any:
    """The Python value of a valid logical type's JSON value (``value`` itself when there is nothing to do)."""
    if logical == "decimal" and isinstance(value, str):
        unscaled = int.from_bytes(value.encode("latin-1"), "big", signed=True)
        return Decimal(unscaled).scaleb(-scale)
    if not isinstance(value, int) or isinstance(value, bool):
        return value
    if logical == "date":
        return EPOCH_DATE + dt.timedelta(days=value)
    if logical in ("time-millis", "time-micros"):
        micros = value * (1000 if logical == "time-millis" else 1)
        return (dt.datetime.min + dt.timedelta(microseconds=micros)).time()
    if logical.endswith(("timestamp-millis", "timestamp-micros")):
        micros = value * (1000 if logical.endswith("millis") else 1)
        moment = EPOCH + dt.timedelta(microseconds=micros)
        return moment.replace(tzinfo=dt.UTC) if logical.startswith("timestamp-") else moment
    return value


def owned(value: Any) -> Any:
    """``value`` itself when immutable, else a deep copy: each record must own its lists, maps and records."""
    if isinstance(value, _IMMUTABLE):
        return value
    return copy.deepcopy(value)


def is_mutable(value: Any) -> bool:
    """Whether ``value`` needs copying before a record may hold it (see :func:`owned`)."""
    return not isinstance(value, _IMMUTABLE)


def fits_float32(value: float) -> bool:
    """Whether a float is a 32-bit float exactly (infinities and NaN included)."""
    if math.isnan(value) or math.isinf(value):
        return True
    if abs(value) > FLOAT_MAX:
        return False
    return float(struct.unpack("<f", struct.pack("<f", value))[0]) == value


def exact_double(value: int) -> bool:
    """Whether an integer is a 64-bit float exactly (so writing it as a ``double`` keeps it)."""
    try:
        return int(float(value)) == value
    except OverflowError:
        return False


def narrow(value: Any, target: str) -> Any:
    """``value`` in the narrower primitive ``target`` (int, long, float, string), unchanged, or NarrowingError."""
    if value is None:
        return None
    if target in ("int", "long"):
        low, high = INT_RANGE if target == "int" else LONG_RANGE
        if isinstance(value, float):
            if not value.is_integer():
                raise NarrowingError(f"{value!r} is not a whole number, so {target} cannot hold it")
            value = int(value)
        if isinstance(value, int) and not low <= value <= high:
            raise NarrowingError(f"{value!r} is out of range for {target}")
        return value
    if target == "float":
        if isinstance(value, int) and not isinstance(value, bool):
            if not exact_double(value) or abs(value) > FLOAT_MAX or not fits_float32(float(value)):
                raise NarrowingError(f"{value!r} is not exactly a float (32-bit)")
            return float(value)
        if isinstance(value, float) and not fits_float32(value):
            if abs(value) > FLOAT_MAX:
                raise NarrowingError(f"{value!r} is out of range for a float (32-bit)")
            raise NarrowingError(f"{value!r} is not exactly a float (32-bit); it would be rounded")
        return value
    if target == "string" and isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise NarrowingError(f"{bytes(value)[:20]!r} is not UTF-8 text, so a string cannot hold it") from None
    return value
