"""Database values into what fastavro writes, exactly or not at all.

Each Avro type of a generated schema has one converter. A converter takes what the driver returned (raw: no
SQLAlchemy result processing, which rounds MySQL ``DOUBLE`` to 10 decimals and parses SQLite text its own way) and
returns the value fastavro encodes, or raises :class:`ValueNotRepresentable` when the value cannot be written
without changing it (a number beyond the column's precision, a fraction in an integer column, an unsigned value
beyond a long). Nothing is rounded or truncated silently.

What the drivers give, and why each converter accepts it:

- SQLite stores by value, not by declared type: an ``int``, ``float``, ``str`` or ``bytes`` may come from any
  column; dates and timestamps are ISO 8601 text.
- MySQL/MariaDB ``TIME`` arrives as a ``timedelta``; ``BIGINT UNSIGNED`` as an ``int`` up to 2**64 - 1.
- Oracle numbers arrive as ``Decimal`` (see :mod:`datapipe.oracle_types`); floats from any driver are binary
  floats already and are written as they are.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import struct
import uuid
from collections.abc import Callable
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, InvalidOperation
from typing import Any

INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)
_DAY = dt.timedelta(days=1)
_FLOAT32 = struct.Struct("<f")
_WIDE = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
"""Decimal arithmetic without rounding: the default context keeps only 28 significant digits."""


class ValueNotRepresentable(ValueError):
    """A database value that the column's Avro type cannot hold exactly; :attr:`reason` says why."""

    def __init__(self, value: Any, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(reason)


Converter = Callable[[Any], Any]


def converter(avro: Any) -> Converter:
    """The converter for an Avro field type (a primitive name, a logical-type dict, or a nullable union)."""
    if isinstance(avro, list):
        branches = [b for b in avro if b != "null"]
        inner = converter(branches[0])
        return lambda v: None if v is None else inner(v)
    if isinstance(avro, str):
        return _PRIMITIVES[avro]
    logical = avro.get("logicalType")
    if logical == "decimal":
        return _decimal(int(avro["precision"]), int(avro.get("scale", 0)))
    if logical in _LOGICAL:
        return _LOGICAL[logical]
    return _PRIMITIVES[avro["type"]]


def exact_decimal(value: Any) -> Decimal:
    """The exact decimal value of a number from a driver (a float by its shortest round-trip text)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str | bytes):
        text = value.decode() if isinstance(value, bytes) else value
        try:
            return Decimal(text.strip())
        except InvalidOperation:
            raise ValueNotRepresentable(value, f"{text!r} is not a number") from None
    raise ValueNotRepresentable(value, f"a {type(value).__name__} is not a number")


def _integer(bounds: tuple[int, int], name: str) -> Converter:
    low, high = bounds

    def convert(value: Any) -> int:
        if type(value) is int:
            number = value
        else:
            exact = exact_decimal(value)
            if not exact.is_finite() or exact != exact.to_integral_value():
                raise ValueNotRepresentable(value, f"{value!r} is not a whole number, so no Avro {name} holds it")
            number = int(exact)
        if not low <= number <= high:
            raise ValueNotRepresentable(value, f"{value!r} is beyond the range of an Avro {name} ({low} to {high})")
        return number

    return convert


def _decimal(precision: int, scale: int) -> Converter:
    quantum = Decimal(1).scaleb(-scale)
    limit = Decimal(10) ** (precision - scale)

    def convert(value: Any) -> Decimal:
        exact = exact_decimal(value)
        if not exact.is_finite():
            raise ValueNotRepresentable(value, f"{value!r} is not a finite number; decimal({precision}, {scale}) "
                                               "holds only finite numbers")
        try:
            scaled = exact.quantize(quantum, context=_WIDE)
        except InvalidOperation:
            scaled = None
        if scaled is None or scaled != exact or scaled.copy_abs() >= limit:
            raise ValueNotRepresentable(
                value, f"{exact} does not fit decimal({precision}, {scale}) without rounding"
            )
        return scaled

    return convert


def _double(value: Any) -> float:
    if isinstance(value, float):
        return value
    if isinstance(value, int | Decimal | str):
        number = float(value)
        if isinstance(value, int) and int(number) != value:
            raise ValueNotRepresentable(value, f"{value} has more digits than a double holds")
        return number
    raise ValueNotRepresentable(value, f"a {type(value).__name__} is not a number")


def _float(value: Any) -> float:
    # A single-precision column's value may arrive as its shortest text (PostgreSQL real: '3.4028235e+38'), a
    # hair off the float32 it stands for; the nearest float32 is the stored value.
    number = _double(value)
    try:
        return float(_FLOAT32.unpack(_FLOAT32.pack(number))[0])
    except OverflowError:
        raise ValueNotRepresentable(value, f"{value!r} is beyond the range of an Avro float") from None


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueNotRepresentable(value, f"{value!r} is not a boolean (0 or 1)")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else str(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f") if math.isfinite(value) else repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | uuid.UUID):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bytes | bytearray | memoryview):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueNotRepresentable(value, "bytes that are not UTF-8 text in a string column") from None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    raise ValueNotRepresentable(value, f"a {type(value).__name__} is not text")


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):  # SQLite may hold text in a BLOB column
        return value.encode("utf-8")
    raise ValueNotRepresentable(value, f"a {type(value).__name__} is not bytes")


def _parse_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueNotRepresentable(value, f"{value!r} is not an ISO 8601 timestamp") from None
    raise ValueNotRepresentable(value, f"a {type(value).__name__} is not a timestamp")


def _timestamp(value: Any) -> dt.datetime:
    # An instant. A zone-less value comes from a session pinned to UTC (see datapipe.source), so it is UTC.
    moment = _parse_datetime(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _local_timestamp(value: Any) -> dt.datetime:
    moment = _parse_datetime(value)
    if moment.tzinfo is not None:
        raise ValueNotRepresentable(value, f"{value!r} carries a time zone, but the column is a local timestamp")
    return moment


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        if value.time() != dt.time() or value.tzinfo is not None:
            raise ValueNotRepresentable(value, f"{value!r} has a time of day, but the column is a date")
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValueNotRepresentable(value, f"{value!r} is not an ISO 8601 date") from None
    raise ValueNotRepresentable(value, f"a {type(value).__name__} is not a date")


def _time(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, dt.timedelta):  # MySQL TIME: a duration from -838:59:59 to 838:59:59
        if not dt.timedelta(0) <= value < _DAY:
            raise ValueNotRepresentable(value, f"{value} is not a time of day (00:00:00 to 23:59:59.999999)")
        return (dt.datetime.min + value).time()
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value.strip())
        except ValueError:
            raise ValueNotRepresentable(value, f"{value!r} is not an ISO 8601 time") from None
    raise ValueNotRepresentable(value, f"a {type(value).__name__} is not a time")


def _uuid(value: Any) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    try:
        return str(uuid.UUID(_text(value)))
    except ValueError:
        raise ValueNotRepresentable(value, f"{value!r} is not a UUID") from None


_PRIMITIVES: dict[str, Converter] = {
    "int": _integer(INT_RANGE, "int"),
    "long": _integer(LONG_RANGE, "long"),
    "float": _float,
    "double": _double,
    "boolean": _boolean,
    "string": _text,
    "bytes": _bytes,
}
_LOGICAL: dict[str, Converter] = {
    "uuid": _uuid,
    "date": _date,
    "time-micros": _time,
    "timestamp-micros": _timestamp,
    "local-timestamp-micros": _local_timestamp,
}
