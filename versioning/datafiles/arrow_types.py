"""Avro types as Arrow types, so records with an Avro schema can be written to Parquet."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from versioning.datafiles.avro_types import AvroSchema, Node, describe_type, logical_type, type_name
from versioning.datafiles.errors import ParquetSchemaError

AVRO_SCHEMA_KEY = b"avro.schema"
"""Parquet key-value metadata holding the Avro schema the file was written with."""

_PRIMITIVES: dict[str, pa.DataType] = {
    "null": pa.null(),
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "bytes": pa.binary(),
    "string": pa.string(),
    "enum": pa.string(),
}

_LOGICAL: dict[tuple[str, str], pa.DataType] = {
    ("date", "int"): pa.date32(),
    ("time-millis", "int"): pa.time32("ms"),
    ("time-micros", "long"): pa.time64("us"),
    ("timestamp-millis", "long"): pa.timestamp("ms", tz="UTC"),
    ("timestamp-micros", "long"): pa.timestamp("us", tz="UTC"),
    ("timestamp-nanos", "long"): pa.timestamp("ns", tz="UTC"),
    ("local-timestamp-millis", "long"): pa.timestamp("ms"),
    ("local-timestamp-micros", "long"): pa.timestamp("us"),
    ("local-timestamp-nanos", "long"): pa.timestamp("ns"),
    ("uuid", "string"): pa.string(),
}

_DECIMAL128_MAX_PRECISION = 38
_DECIMAL256_MAX_PRECISION = 76


def arrow_schema(avro_schema: dict[str, Any] | AvroSchema) -> pa.Schema:
    """The Arrow schema for records of an Avro record schema.

    record -> struct, array -> list, map -> map<string, ...>, a union of null and one type -> that type,
    nullable; enum -> string; bytes -> binary, fixed -> fixed_size_binary; decimal -> decimal128 (decimal256
    above 38 digits); date -> date32; time-millis -> time32(ms); time-micros -> time64(us);
    timestamp-millis/micros/nanos -> timestamp(ms/us/ns, tz=UTC); local-timestamp-* -> timestamp without a
    time zone; uuid -> string. Unknown logical types are ignored, as the Avro specification says. The Avro
    schema is kept in the schema's metadata under ``avro.schema``.

    Raises :class:`ParquetSchemaError` (with a JSON pointer into the schema) for what Parquet cannot hold:
    a top-level type that is not a record, unions of several non-null types, and recursive records.
    """
    schema = avro_schema if isinstance(avro_schema, AvroSchema) else AvroSchema.parse(avro_schema)
    top = schema.resolve(schema.parsed)
    if type_name(top) != "record":
        raise ParquetSchemaError(
            "", f"Parquet files hold records, but the schema is {describe_type(top)}; use a record schema"
        )
    mapper = _Mapper(schema)
    fields = [mapper.field(f, f"/fields/{i}") for i, f in enumerate(top["fields"])]
    return pa.schema(fields, metadata={AVRO_SCHEMA_KEY: schema.to_json().encode()})


class _Mapper:
    def __init__(self, schema: AvroSchema) -> None:
        self.schema = schema
        # Records being mapped, outermost first: meeting one again means the type is recursive.
        self.open_records: list[str] = [schema.resolve(schema.parsed)["name"]]

    def field(self, field: dict[str, Any], pointer: str) -> pa.Field:
        arrow_type, nullable = self.type(field["type"], f"{pointer}/type")
        return pa.field(field["name"], arrow_type, nullable=nullable)

    def type(self, node: Node, pointer: str) -> tuple[pa.DataType, bool]:
        """The Arrow type for ``node`` and whether values may be null."""
        node = self.schema.resolve(node)
        kind = type_name(node)
        if kind == "union":
            return self._union(node, pointer)
        logical = logical_type(node)
        if logical == "decimal" and kind in {"bytes", "fixed"}:
            return _decimal(node, pointer), False
        if logical is not None and (mapped := _LOGICAL.get((logical, kind))) is not None:
            return mapped, False
        if kind in _PRIMITIVES:
            return _PRIMITIVES[kind], kind == "null"
        if kind == "fixed":
            return pa.binary(node["size"]), False
        if kind == "array":
            return pa.list_(self._child("item", node["items"], f"{pointer}/items")), False
        if kind == "map":
            values = self._child("value", node["values"], f"{pointer}/values")
            return pa.map_(pa.field("key", pa.string(), nullable=False), values), False
        if kind in {"record", "error"}:
            return self._record(node, pointer), False
        raise ParquetSchemaError(pointer, f"Avro type {kind!r} has no Parquet equivalent")

    def _child(self, name: str, node: Node, pointer: str) -> pa.Field:
        arrow_type, nullable = self.type(node, pointer)
        return pa.field(name, arrow_type, nullable=nullable)

    def _record(self, node: dict[str, Any], pointer: str) -> pa.DataType:
        name = node["name"]
        if name in self.open_records:
            raise ParquetSchemaError(
                pointer,
                f"record {name} contains itself; Parquet cannot store recursive types, use Avro or JSON Lines",
            )
        self.open_records.append(name)
        try:
            fields = [self.field(f, f"{pointer}/fields/{i}") for i, f in enumerate(node["fields"])]
        finally:
            self.open_records.pop()
        return pa.struct(fields)

    def _union(self, branches: list[Node], pointer: str) -> tuple[pa.DataType, bool]:
        others = [(i, b) for i, b in enumerate(branches) if self.schema.resolve(b) != "null"]
        if len(others) > 1:
            listed = ", ".join(describe_type(self.schema.resolve(b)) for _, b in others)
            raise ParquetSchemaError(
                pointer,
                f"a union of several types ({listed}) cannot be stored in Parquet, only a type or null; "
                "write Avro or JSON Lines instead, or change the field to a single type",
            )
        if not others:
            return pa.null(), True
        index, branch = others[0]
        arrow_type, _ = self.type(branch, f"{pointer}/{index}")
        return arrow_type, len(branches) > 1


def _decimal(node: dict[str, Any], pointer: str) -> pa.DataType:
    precision = node.get("precision")
    scale = node.get("scale", 0)
    if not isinstance(precision, int) or precision < 1:
        raise ParquetSchemaError(pointer, "a decimal needs a positive integer 'precision'; add one")
    if precision <= _DECIMAL128_MAX_PRECISION:
        return pa.decimal128(precision, scale)
    if precision <= _DECIMAL256_MAX_PRECISION:
        return pa.decimal256(precision, scale)
    raise ParquetSchemaError(
        pointer, f"decimal precision {precision} exceeds Parquet's {_DECIMAL256_MAX_PRECISION} digits"
    )
