"""An Avro schema parsed once by fastavro, with the lookups the converters and writers need."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import fastavro
from fastavro.schema import SchemaParseException, UnknownType

from versioning.errors import Problem, SchemaError

PRIMITIVE_TYPES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})

Node = Any
"""A parsed Avro schema node: a type name (``str``), a union (``list``) or a type definition (``dict``)."""


@dataclass(frozen=True)
class AvroSchema:
    """An Avro schema as fastavro parsed it, plus its named types by full name."""

    source: dict[str, Any] | list[Any] | str
    """The schema as given (JSON-like), e.g. to store in a file's metadata."""
    parsed: Node
    """fastavro's parsed form: names are full names and references are full-name strings."""
    named: dict[str, Node] = field(default_factory=dict)
    """Named types (records, enums, fixed) by full name."""

    @classmethod
    def parse(cls, schema: Any, *, where: str = "schema") -> AvroSchema:
        """Parse ``schema`` with fastavro; raises :class:`SchemaError` (at ``where``) if it is not Avro."""
        named: dict[str, Node] = {}
        try:
            parsed = fastavro.parse_schema(schema, named_schemas=named)
        except (SchemaParseException, UnknownType, KeyError, TypeError, ValueError) as exc:
            raise SchemaError([Problem(where, f"not a valid Avro schema ({_describe(exc)}); fix the schema")]) from exc
        if isinstance(parsed, dict):
            named = {**parsed.get("__named_schemas", {}), **named}
        return cls(source=_without_fastavro_keys(schema), parsed=parsed, named=named)

    def resolve(self, node: Node) -> Node:
        """The definition behind ``node``: follows a reference to a named type, else returns ``node``."""
        if isinstance(node, str) and node not in PRIMITIVE_TYPES:
            return self.named[node]
        return node

    def to_json(self) -> str:
        """The schema as JSON text, as Avro files store it."""
        return json.dumps(self.source, separators=(",", ":"))


def type_name(node: Node) -> str:
    """``"union"`` for a union, else the Avro type name (``"record"``, ``"int"``, ...) of a resolved node."""
    if isinstance(node, list):
        return "union"
    if isinstance(node, dict):
        return str(node["type"])
    return str(node)


def logical_type(node: Node) -> str | None:
    """The ``logicalType`` of a resolved node, if it has one."""
    return node.get("logicalType") if isinstance(node, dict) else None


def describe_type(node: Node) -> str:
    """A short human name for a schema node: ``string``, ``record users.User``, ``long (timestamp-millis)``."""
    if isinstance(node, list):
        return " or ".join(describe_type(branch) for branch in node)
    if isinstance(node, dict):
        kind = str(node["type"])
        if "name" in node and kind in {"record", "enum", "fixed", "error"}:
            return f"{kind} {node['name']}"
        logical = node.get("logicalType")
        return f"{kind} ({logical})" if logical else kind
    return str(node)


def _without_fastavro_keys(schema: Any) -> Any:
    """A schema fastavro already parsed carries private keys that must not be written to files."""
    if isinstance(schema, dict):
        return {
            k: _without_fastavro_keys(v)
            for k, v in schema.items()
            if not k.startswith("__fastavro") and k != "__named_schemas"
        }
    if isinstance(schema, list):
        return [_without_fastavro_keys(item) for item in schema]
    return schema


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UnknownType):
        return f"unknown type {exc.name!r}"
    return str(exc) or type(exc).__name__
