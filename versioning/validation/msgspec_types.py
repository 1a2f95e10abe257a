"""Avro schemas compiled into msgspec types, so a batch of records is checked by one C-level pass.

msgspec decides validity at C speed but is more lenient than the reference validator in a few places, and it
cannot express some Avro types. The compiler therefore returns ``None`` for any schema where a record that
msgspec accepts might be one the reference rejects; callers then use the reference validator for everything.
Where msgspec is stricter (an Avro ``double`` accepts any Python int, msgspec only those a float can hold) the
caller re-checks the rejected records with the reference validator, so the verdict is always the reference's.

Not compiled (the reference is used): decimals, recursive records, unions whose branches msgspec cannot tell
apart (two records, a record and a map, an enum and a string, string and bytes...).
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Annotated, Any, Literal, Union

import avro.schema as A
import msgspec

from versioning.validation.reference import VERSION_FIELD
from versioning.values import FLOAT_MAX, INT_RANGE, LONG_RANGE, logical_type

BUILTIN_TYPES: tuple[type, ...] = (bytes, bytearray, dt.datetime, dt.date, dt.time)
"""Types msgspec must take as they are: never decode a string into bytes (base64) or into a datetime."""

_Int32 = Annotated[int, msgspec.Meta(ge=INT_RANGE[0], le=INT_RANGE[1])]
_Int64 = Annotated[int, msgspec.Meta(ge=LONG_RANGE[0], le=LONG_RANGE[1])]
_Float32 = Annotated[float, msgspec.Meta(ge=-FLOAT_MAX, le=FLOAT_MAX)]
"""Finite floats in a 32-bit float's range (infinities go to the reference, which takes them)."""
_ExactInt = Annotated[int, msgspec.Meta(ge=-(2**53), le=2**53)]
"""Integers for a float or double field: msgspec would round larger ones into a float; these are all exact."""

_PRIMITIVES: dict[str, Any] = {
    "null": None,
    "boolean": bool,
    "int": _Int32,
    "long": _Int64,
    "float": _Float32,
    "double": float,
    "bytes": bytes,
    "string": str,
}

# A logical type on another underlying type is ignored, as in the reference validator and the Avro spec.
_Moment = Annotated[dt.datetime, msgspec.Meta(tz=True)]
_Local = Annotated[dt.datetime, msgspec.Meta(tz=False)]

_LOGICAL: dict[tuple[str, str], Any] = {
    ("date", "int"): dt.date,
    ("time-millis", "int"): dt.time,
    ("time-micros", "long"): dt.time,
    ("timestamp-millis", "long"): _Moment,
    ("timestamp-micros", "long"): _Moment,
    ("local-timestamp-millis", "long"): _Local,
    ("local-timestamp-micros", "long"): _Local,
}

_PRIMITIVE_KIND = {
    "null": "null",
    "boolean": "bool",
    "int": "int",
    "long": "int",
    "float": "float",
    "double": "float",
    "bytes": "str-like",
    "string": "str-like",
}

# msgspec tells union branches apart by the kind of Python value; one branch per kind at most.
_KIND = {
    dt.date: "str-like",
    dt.time: "str-like",
    _Moment: "str-like",
    _Local: "str-like",
}


class Unsupported(Exception):
    """The schema uses something msgspec cannot check exactly as the reference does."""


def compile_record_type(schema: A.Schema) -> Any | None:
    """The msgspec type for records of a top-level Avro record schema, or None if it cannot be exact.

    Unknown fields are errors, except ``schema_version`` at the top level; fields with a default may be
    missing.
    """
    if not isinstance(schema, A.RecordSchema):
        return None
    try:
        return _Compiler().record(schema, top=True)
    except Unsupported:
        return None


class _Compiler:
    def __init__(self) -> None:
        self.open_records: set[str] = set()
        self.names = (f"Record{i}" for i in itertools.count())

    def type(self, node: A.Schema) -> tuple[Any, str]:
        """The msgspec type of a node and its kind (what Python values it takes), for union checks."""
        logical = logical_type(node)  # None for an invalid one: its underlying type, as in the reference
        if logical is not None:
            if logical == "decimal":
                raise Unsupported("decimal")
            if (logical, str(node.type)) in _LOGICAL:
                python_type = _LOGICAL[(logical, str(node.type))]
                return python_type, _KIND[python_type]
            if logical == "uuid" and str(node.type) in ("string", "fixed"):
                raise Unsupported("uuid")  # the reference takes any text uuid.UUID parses, or a UUID.
        if isinstance(node, A.RecordSchema):
            return self.record(node, top=False), "dict"
        if isinstance(node, A.UnionSchema):
            return self.union(node), "union"
        if isinstance(node, A.EnumSchema):
            return Literal[tuple(node.symbols)], "str-like"
        if isinstance(node, A.FixedSchema):
            return Annotated[bytes, msgspec.Meta(min_length=node.size, max_length=node.size)], "str-like"
        if isinstance(node, A.ArraySchema):
            return list[self.value_type(node.items)], "list"  # type: ignore[misc]
        if isinstance(node, A.MapSchema):
            return dict[str, self.value_type(node.values)], "dict"  # type: ignore[misc]
        kind = str(node.type)
        if kind not in _PRIMITIVES:
            raise Unsupported(kind)
        return _PRIMITIVES[kind], _PRIMITIVE_KIND[kind]

    def value_type(self, node: A.Schema) -> Any:
        """The type of a value outside a union: a float or double also takes the integers it holds exactly."""
        found, kind = self.type(node)
        return Union[_ExactInt, found] if kind == "float" else found  # noqa: UP007  # built at run time

    def record(self, node: A.RecordSchema, top: bool) -> Any:
        if node.fullname in self.open_records:
            raise Unsupported("recursive record")
        self.open_records.add(node.fullname)
        fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        for f in node.fields:
            field_type = self.value_type(f.type)
            fields.append((f.name, field_type, msgspec.UNSET) if f.has_default else (f.name, field_type))
        self.open_records.discard(node.fullname)
        if top and VERSION_FIELD not in node.fields_dict:
            fields.append((VERSION_FIELD, Any, msgspec.UNSET))
        # gc=False: converted records are dropped at once and never hold cycles, so the collector can skip them.
        return msgspec.defstruct(next(self.names), fields, kw_only=True, forbid_unknown_fields=True, gc=False)

    def union(self, node: A.UnionSchema) -> Any:
        branches = [self.type(branch) for branch in node.schemas]
        ints = [t for t, kind in branches if kind == "int"]
        if len(ints) > 1:  # int and long: the wider range decides.
            branches = [(t, k) for t, k in branches if k != "int"] + [(_Int64, "int")]
        elif not ints and any(kind == "float" for _, kind in branches):
            branches.append((_ExactInt, "int"))  # a float or double branch takes exact integers too
        kinds = [kind for _, kind in branches]
        if "union" in kinds or len(set(kinds)) != len(kinds):
            raise Unsupported("a union msgspec cannot tell apart")
        return Union[tuple(t for t, _ in branches)]  # noqa: UP007  # built at run time


_IDENTITY_PRIMITIVES = frozenset({"null", "boolean", "string"})


def keeps_identity(node: A.Schema) -> bool:
    """Whether ``msgspec.convert`` stores the very object it was given for a value of this (compiled) type.

    True for strings, booleans, nulls, the date and time logical types and unions of only these: a subclass or
    any other oddity of the value is still there in the converted Struct, so a check may read the Struct instead
    of the record. False where msgspec may hand back another object: ints and floats (an int subclass becomes an
    int), enums (a str subclass becomes the symbol), bytes and fixed (a bytearray or memoryview becomes bytes), and
    containers (new lists, dicts and Structs).
    """
    logical = logical_type(node)
    if logical is not None and (logical, str(node.type)) in _LOGICAL:
        return True
    if isinstance(node, A.UnionSchema):
        return all(map(keeps_identity, node.schemas))
    return not isinstance(node, (A.NamedSchema, A.ArraySchema, A.MapSchema)) and str(node.type) in _IDENTITY_PRIMITIVES
