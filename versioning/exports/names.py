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
        kind = schema["type"]
        # ``{"type": {"type": "string"}}`` nests a schema in ``type``; the outer object adds nothing.
        return type_name(kind) if not isinstance(kind, str) else kind
    return str(schema)


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
