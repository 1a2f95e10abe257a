"""Python record values to and from what pyarrow takes and gives for the Arrow types of an Avro schema.

pyarrow takes most of fastavro's Python values as they are (dates, datetimes, times, Decimals, bytes, dicts
for maps); UUIDs are what differs, stored as strings. Records reach these converters with their defaults
filled in (:mod:`.defaults`) and validated against the schema.
"""

from __future__ import annotations

import uuid
from typing import Any

from versioning.datafiles.avro_types import AvroSchema, Node, logical_type, type_name
from versioning.datafiles.converters import Convert, each_item, each_value


def arrow_writer(schema: AvroSchema) -> Convert:
    """Converter from a record (Python values, as validated against ``schema``) to pyarrow's input form."""
    converter = _ToArrow(schema).compile(schema.parsed)
    assert converter is not None, "a record schema always has a record converter"
    return converter


def python_reader(schema: AvroSchema) -> Convert | None:
    """Converter from a record pyarrow read back to fastavro's Python values, or ``None`` if none is needed.

    Values that do not have the expected form (the file was written with another schema) are left alone.
    """
    return _FromArrow(schema).compile(schema.parsed)


class _Walker:
    """Compiles converters that change only UUID values, in place anywhere in the schema's nesting."""

    uuid_on_string_only = False
    """Whether only string-based UUIDs are converted (fixed ones are left as bytes)."""

    def __init__(self, schema: AvroSchema) -> None:
        self.schema = schema
        self.records: dict[str, Convert | None] = {}

    def compile(self, node: Node) -> Convert | None:
        node = self.schema.resolve(node)
        kind = type_name(node)
        if kind == "union":
            branches = [b for b in node if self.schema.resolve(b) != "null"]
            # arrow_schema() refuses unions of several types, so a nullable union has one other branch.
            return self.compile(branches[0]) if len(branches) == 1 else None
        if logical_type(node) == "uuid" and (kind == "string" or not self.uuid_on_string_only):
            return self.uuid
        if kind in {"record", "error"}:
            return self._record(node)
        if kind == "array":
            return each_item(self.compile(node["items"]), skip_nulls=True)
        if kind == "map":
            return each_value(self.compile(node["values"]), skip_nulls=True)
        return None

    def uuid(self, value: Any) -> Any:
        """Convert one UUID value in this direction."""
        raise NotImplementedError

    def _record(self, node: dict[str, Any]) -> Convert | None:
        raise NotImplementedError


class _ToArrow(_Walker):
    def uuid(self, value: Any) -> Any:
        return _uuid_to_str(value)

    def _record(self, node: dict[str, Any]) -> Convert:
        name = node["name"]
        if name in self.records:
            return lambda value: converter(value) if (converter := self.records[name]) else value
        self.records[name] = None
        fields = [(f["name"], self.compile(f["type"])) for f in node["fields"]]

        def convert(value: Any) -> Any:
            if not isinstance(value, dict):
                return value
            # A new dict of just the schema's fields: the caller's records stay as they were.
            out = {}
            for field_name, converter in fields:
                item = value.get(field_name)
                out[field_name] = converter(item) if converter is not None and item is not None else item
            return out

        self.records[name] = convert
        return convert


class _FromArrow(_Walker):
    uuid_on_string_only = True

    def uuid(self, value: Any) -> Any:
        return _str_to_uuid(value)

    def _record(self, node: dict[str, Any]) -> Convert | None:
        name = node["name"]
        if name in self.records:
            return lambda value: converter(value) if (converter := self.records[name]) else value
        self.records[name] = None
        fields = [(f["name"], c) for f in node["fields"] if (c := self.compile(f["type"])) is not None]
        if not fields:
            return None

        def convert(value: Any) -> Any:
            if isinstance(value, dict):
                # pyarrow built these dicts for us, so they can be changed in place.
                for field_name, converter in fields:
                    item = value.get(field_name)
                    if item is not None:
                        value[field_name] = converter(item)
            return value

        self.records[name] = convert
        return convert


def _uuid_to_str(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


def _str_to_uuid(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    return value
