"""How Avro values look in JSON Lines files, and the conversions between that and Python values.

JSON has no dates, bytes or decimals, so JSON Lines files written by these tools use these forms, and
reading with a schema turns them back into the Python values fastavro uses:

============================  ==============================================  ======================
Avro type                     in the JSON Lines file                          in Python
============================  ==============================================  ======================
``bytes``, ``fixed``          base64 string (standard alphabet, padded)       ``bytes``
``decimal``                   string ``"12.30"`` (written); a number is read  ``decimal.Decimal``
                              too, but as a double, so write exact values as
                              strings
``date``                      ``"2024-05-31"``                                ``datetime.date``
``time-millis/micros``        ``"13:45:00.250"``                              ``datetime.time``
``timestamp-millis/micros``   ``"2024-05-31T13:45:00.250000+00:00"``; an ISO  ``datetime`` (aware)
                              8601 value without an offset is taken as UTC
``local-timestamp-*``         ``"2024-05-31T13:45:00.250000"`` (no offset)    ``datetime`` (naive)
``uuid``                      ``"0f8fad5b-d9cb-469f-a165-70867728950e"``      ``uuid.UUID``
everything else               plain JSON (unions unwrapped)                   str/int/float/...
============================  ==============================================  ======================

A value that does not convert (``"yesterday"`` in a ``date`` field) is left as it is, so validation
reports it with its field path; reading never fails or guesses because of a value. A union value is
matched to its branches in order: first a branch that takes the JSON value as it is (a string for a
``string`` branch), then one that converts it (a date string for a ``date`` branch).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from versioning.datafiles.avro_types import AvroSchema, Node, logical_type, type_name
from versioning.datafiles.converters import Convert, each_item, each_value

"""Turns one JSON value into its Python form; returns the value itself when it does not convert."""


def json_value(value: Any) -> Any:
    """``json.dumps(default=...)`` hook: the JSON form of a Python value JSON has no type for."""
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"a value of type {type(value).__name__} has no JSON form")


def json_reader(schema: AvroSchema) -> Convert | None:
    """A converter from a record's JSON values to Python values, or ``None`` if the schema needs none."""
    return _Compiler(schema).compile(schema.parsed)


class _Compiler:
    """Builds converters once per schema, so a record is converted without re-reading the schema."""

    def __init__(self, schema: AvroSchema) -> None:
        self.schema = schema
        # Record converters by full name; a recursive record refers to itself through this table.
        self.records: dict[str, Convert | None] = {}

    def compile(self, node: Node) -> Convert | None:
        node = self.schema.resolve(node)
        kind = type_name(node)
        logical = logical_type(node)
        if logical is not None and (convert := _LOGICAL.get((logical, kind))) is not None:
            return convert
        if kind in {"bytes", "fixed"}:
            return _from_base64
        if kind == "record":
            return self._record(node)
        if kind == "array":
            return each_item(self.compile(node["items"]))
        if kind == "map":
            return each_value(self.compile(node["values"]))
        if kind == "union":
            return self._union(node)
        return None

    def _record(self, node: dict[str, Any]) -> Convert | None:
        name = node["name"]
        if name in self.records:
            # Recursive type, still being compiled: look the converter up when a value arrives.
            return lambda value: convert(value) if (convert := self.records[name]) else value
        self.records[name] = None
        fields = [(f["name"], c) for f in node["fields"] if (c := self.compile(f["type"])) is not None]
        converter = _fields(fields) if fields else None
        self.records[name] = converter
        return converter

    def _union(self, branches: list[Node]) -> Convert | None:
        resolved = [self.schema.resolve(branch) for branch in branches]
        takes_as_is: list[tuple[Callable[[Any], bool], Convert | None]] = []
        converts: list[Convert] = []
        loose: list[tuple[Callable[[Any], bool], Convert | None]] = []
        for branch in resolved:
            accepts = _accepts_as_is(branch)
            converter = self.compile(branch)
            if accepts is not None:
                takes_as_is.append((accepts, converter))
                if type_name(branch) == "record":
                    loose.append((_is_dict, converter))
            elif converter is not None:
                converts.append(converter)
        if not converts and all(converter is None for _, converter in takes_as_is):
            return None
        return _first_branch(takes_as_is, converts, loose)


def _first_branch(
    takes_as_is: list[tuple[Callable[[Any], bool], Convert | None]],
    converts: list[Convert],
    loose: list[tuple[Callable[[Any], bool], Convert | None]],
) -> Convert:
    def convert(value: Any) -> Any:
        if value is None:
            return None
        for accepts, converter in takes_as_is:
            if accepts(value):
                return converter(value) if converter is not None else value
        for converter in converts:
            converted = converter(value)
            if converted is not value:
                return converted
        for accepts, converter in loose:
            if accepts(value):
                return converter(value) if converter is not None else value
        return value

    return convert


def _accepts_as_is(node: Node) -> Callable[[Any], bool] | None:
    """For a union branch: does a JSON value belong to it without conversion? ``None``: never."""
    kind = type_name(node)
    logical = logical_type(node)
    if logical is not None and (logical, kind) in _LOGICAL:
        return None
    if kind in {"string", "enum"}:
        return _is_str
    if kind in {"int", "long"}:
        return _is_int
    if kind in {"float", "double"}:
        return _is_number
    if kind == "boolean":
        return _is_bool
    if kind == "null":
        return _is_none
    if kind == "array":
        return _is_list
    if kind == "map":
        return _is_dict
    if kind == "record":
        names = frozenset(f["name"] for f in node["fields"])
        return lambda value: isinstance(value, dict) and value.keys() <= names
    return None


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_none(value: Any) -> bool:
    return value is None


def _is_list(value: Any) -> bool:
    return isinstance(value, list)


def _is_dict(value: Any) -> bool:
    return isinstance(value, dict)


def _fields(fields: list[tuple[str, Convert]]) -> Convert:
    def convert(value: Any) -> Any:
        if isinstance(value, dict):
            # The dicts come fresh from json.loads, so converting in place is safe and saves a copy.
            for name, converter in fields:
                if name in value:
                    value[name] = converter(value[name])
        return value

    return convert


def _from_base64(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value


def _to_decimal(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    try:
        if isinstance(value, str):
            return Decimal(value)
        if isinstance(value, int):
            return Decimal(value)
        if isinstance(value, float):
            # repr gives the shortest text that reads back as this double: 0.1 -> Decimal("0.1").
            return Decimal(repr(value))
    except InvalidOperation:
        pass
    return value


def _to_date(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    return value


def _to_time(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            pass
    return value


def _to_timestamp(value: Any) -> Any:
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        # Avro timestamps are instants in UTC; an ISO value without an offset is read as UTC, as Avro does.
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)
    return value


def _to_local_timestamp(value: Any) -> Any:
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        # A value with an offset is an instant, not a local time: leave it for validation to report.
        return parsed if parsed.tzinfo is None else value
    return value


def _to_uuid(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    return value


_LOGICAL: dict[tuple[str, str], Convert] = {
    ("decimal", "bytes"): _to_decimal,
    ("decimal", "fixed"): _to_decimal,
    ("date", "int"): _to_date,
    ("time-millis", "int"): _to_time,
    ("time-micros", "long"): _to_time,
    ("timestamp-millis", "long"): _to_timestamp,
    ("timestamp-micros", "long"): _to_timestamp,
    ("timestamp-nanos", "long"): _to_timestamp,
    ("local-timestamp-millis", "long"): _to_local_timestamp,
    ("local-timestamp-micros", "long"): _to_local_timestamp,
    ("local-timestamp-nanos", "long"): _to_local_timestamp,
    ("uuid", "string"): _to_uuid,
}
"""Logical types with a JSON text form, by (logical type, underlying Avro type)."""
