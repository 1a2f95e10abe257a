"""How Avro values look in the JSON view that the JSON Schema export describes.

Avro's own JSON encoding (the one schema defaults are written in) differs from what people put in JSON
documents: bytes are strings of code points 0-255, dates are day counts, timestamps are epoch numbers. The
JSON view uses what JSON documents and APIs use instead:

* bytes and fixed: standard base64 text (RFC 4648, with padding);
* ``decimal``: a string in plain decimal notation, e.g. ``"-12.50"``, so no digit is lost to floating point;
* ``date``: ``"YYYY-MM-DD"``; ``time-millis``/``time-micros``: RFC 3339 full-time in UTC, ``"13:45:00.250Z"``;
* ``timestamp-*``: RFC 3339 date-time in UTC, ``"2024-05-01T12:00:00Z"``;
* ``local-timestamp-*``: the same without an offset, ``"2024-05-01T12:00:00"``;
* unions: the value itself, not Avro's ``{"type": value}`` wrapper; everything else as in Avro's JSON.

:func:`default_to_json` converts a schema default from Avro's JSON encoding into this view.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from versioning.exports.names import ResolvedSchema, logical_type, type_name

EPOCH_DATE = dt.date(1970, 1, 1)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Units per second of each time-based logical type.
TIME_UNITS = {
    "time-millis": 1_000,
    "time-micros": 1_000_000,
    "timestamp-millis": 1_000,
    "timestamp-micros": 1_000_000,
    "timestamp-nanos": 1_000_000_000,
    "local-timestamp-millis": 1_000,
    "local-timestamp-micros": 1_000_000,
    "local-timestamp-nanos": 1_000_000_000,
}


def default_to_json(resolved: ResolvedSchema, schema: Any, value: Any) -> Any:
    """The JSON view of ``value``, a default written in Avro's JSON encoding for ``schema``."""
    schema = resolved.deref(schema)
    kind = type_name(schema)
    if kind == "union":
        # Avro requires a union's default to belong to its first branch.
        return default_to_json(resolved, schema[0], value)
    logical = logical_type(schema)
    if logical is not None:
        return _logical_to_json(logical, schema, value)
    if kind in ("bytes", "fixed"):
        return base64.b64encode(_avro_bytes(value)).decode("ascii")
    if kind == "array":
        return [default_to_json(resolved, schema["items"], item) for item in value]
    if kind == "map":
        return {key: default_to_json(resolved, schema["values"], item) for key, item in value.items()}
    if kind in ("record", "error"):
        return {
            field["name"]: default_to_json(resolved, field["type"], value[field["name"]])
            for field in schema["fields"]
            if field["name"] in value
        }
    if kind in ("float", "double"):
        return float(value)
    return value


def _logical_to_json(logical: str, schema: dict[str, Any], value: Any) -> Any:
    if logical == "decimal":
        unscaled = int.from_bytes(_avro_bytes(value), "big", signed=True)
        return f"{Decimal(unscaled).scaleb(-int(schema.get('scale', 0))):f}"
    if logical == "uuid":
        return value if type_name(schema) == "string" else str(uuid.UUID(bytes=_avro_bytes(value)))
    if logical == "date":
        return (EPOCH_DATE + dt.timedelta(days=value)).isoformat()
    per_second = TIME_UNITS[logical]
    seconds, fraction = divmod(value, per_second)
    # Python's datetime stops at microseconds; nanosecond fractions are written out by hand.
    digits = len(str(per_second)) - 1
    fraction_text = f".{fraction:0{digits}d}"
    if logical.startswith("time-"):
        clock = (dt.datetime.min + dt.timedelta(seconds=seconds)).time()
        return f"{clock.isoformat()}{fraction_text}Z"
    instant = EPOCH + dt.timedelta(seconds=seconds)
    if logical.startswith("local-"):
        return f"{instant.replace(tzinfo=None).isoformat()}{fraction_text}"
    return f"{instant.replace(tzinfo=None).isoformat()}{fraction_text}Z"


def _avro_bytes(value: str) -> bytes:
    # Avro's JSON encoding writes each byte as the code point of the same number (0-255).
    return value.encode("latin-1")
