"""Named-type resolution shared by the exporters.

An Avro schema may define a record, enum or fixed once and refer to it later by its name or namespaced full
name. fastavro's parser already implements Avro's naming rules (namespace inheritance, dotted full names,
references resolved in the enclosing namespace), so the exporters read the schema through it: every named
type then carries its full name, and every reference is that full name, looked up in :attr:`definitions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastavro import parse_schema
from fastavro.schema import SchemaParseException, UnknownType

from versioning.exports.errors import ExportError

PRIMITIVE_TYPES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED_TYPES = frozenset({"record", "error", "enum", "fixed"})
# The underlying types each logical type may annotate (Avro specification, "Logical Types").
LOGICAL_BASE_TYPES = {
    "date": ("int",),
    "time-millis": ("int",),
    "time-micros": ("long",),
    "timestamp-millis": ("long",),
    "timestamp-micros": ("long",),
    "timestamp-nanos": ("long",),
    "local-timestamp-millis": ("long",),
    "local-timestamp-micros": ("long",),
    "local-timestamp-nanos": ("long",),
    "decimal": ("bytes", "fixed"),
    "uuid": ("string", "fixed"),
}


@dataclass(frozen=True)
class ResolvedSchema:
    """An Avro schema whose named types all carry full names, with every named type's definition at hand."""

    root: Any
    """The schema as fastavro parsed it: named types carry full names, references are full-name strings."""
    definitions: dict[str, dict[str, Any]]
    """Each named type's definition, by full name."""

    def deref(self, schema: Any) -> Any:
        """The definition a reference names, or ``schema`` itself when it is not a reference."""
        if isinstance(schema, str) and schema not in PRIMITIVE_TYPES:
            return self.definitions[schema]
        return schema


def type_name(schema: Any) -> str:
    """The Avro type of a (dereferenced) schema: ``"record"``, ``"union"``, ``"string"``, ..."""
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, dict):
        return str(schema["type"])
    return str(schema)


def logical_type(schema: Any) -> str | None:
    """The logical type a (dereferenced) schema carries, if its underlying type is one Avro allows for it.

    Avro tells readers to ignore a logical type on the wrong underlying type, and so do the exports.
    """
    if not isinstance(schema, dict):
        return None
    logical = schema.get("logicalType")
    if logical in LOGICAL_BASE_TYPES and type_name(schema) in LOGICAL_BASE_TYPES[logical]:
        return str(logical)
    return None


def resolve(schema: Any) -> ResolvedSchema:
    """Parse ``schema`` with fastavro and collect its named types.

    Raises :class:`ExportError` when the schema is not valid Avro (the registry should have refused it).
    """
    definitions: dict[str, dict[str, Any]] = {}
    try:
        root = parse_schema(schema, named_schemas=definitions, _write_hint=False)
    except (SchemaParseException, UnknownType, TypeError) as err:
        kind = "refers to an undefined type" if isinstance(err, UnknownType) else "is not valid Avro"
        raise ExportError(
            "", f"the schema {kind} ({err}); check it with the registry's validation before exporting"
        ) from err
    return ResolvedSchema(root=root, definitions=definitions)
