"""Validation of records against a subject version: every error of every record, each with its field path.

A schema is compiled once into a tree of small check functions (one per schema node), so validating many
records does not walk the schema again for each. Records are never coerced: a value of the wrong type is
an error, not a conversion. The ``schema_version`` key is the record's own statement of its version and is
not itself an error.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple, cast

import avro.schema as A

from versioning.schema import Schema
from versioning.values import FLOAT_MAX, INT_RANGE, LONG_RANGE, exact_double, logical_type

VERSION_FIELD = "schema_version"
"""The record field that says which version a record was written with."""


class FieldError(NamedTuple):
    """One thing wrong with a record: the field path (``address.lines[2]``) and what is wrong.

    A named tuple: immutable like a frozen dataclass, and about 5x cheaper to make (an invalid record makes one
    per problem, and the facade reports them record by record)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<record>'}: {self.message}"


@dataclass
class RecordErrors:
    """The errors of one record, with its position in its batch or file (line or record number)."""

    position: int
    errors: list[FieldError] = field(default_factory=list)


Check = Callable[[Any, str, list[FieldError]], None]


class Validator:
    """A schema compiled for validation; call :meth:`errors` for one record, :meth:`invalid` for many."""

    def __init__(self, schema: Schema, *, version_field: str = VERSION_FIELD) -> None:
        self.schema = schema
        self.version_field = version_field
        self._compiling: dict[str, Check] = {}
        self.top_fields: list[tuple[str, Check, bool]] = []
        """The top-level record's fields in order: name, the field's check, whether it may be absent."""
        self.top_label = ""
        """The top-level record's name, as messages give it."""
        self._check = self._compile(schema.parsed, top=True)

    def errors(self, record: Any) -> list[FieldError]:
        """Every error of one record; empty when the record is valid."""
        found: list[FieldError] = []
        self._check(record, "", found)
        return found

    def is_valid(self, record: Any) -> bool:
        """Whether one record is valid."""
        return not self.errors(record)

    def invalid(self, records: Iterable[Any], first_position: int = 1) -> Iterator[RecordErrors]:
        """The invalid records among many, each with its position (counting from ``first_position``)."""
        check = self._check
        for position, record in enumerate(records, first_position):
            found: list[FieldError] = []
            check(record, "", found)
            if found:
                yield RecordErrors(position, found)

    # Compilation: one closure per schema node.

    def _compile(self, node: A.Schema, top: bool = False) -> Check:
        logical = logical_type(node)
        if logical is not None and logical in _LOGICAL and not (logical == "uuid" and node.type == "fixed"):
            return _LOGICAL[logical](node)
        if isinstance(node, A.RecordSchema):
            return self._record(node, top)
        if isinstance(node, A.UnionSchema):
            return self._union(node)
        if isinstance(node, A.EnumSchema):
            return _enum(node)
        if isinstance(node, A.FixedSchema):
            return _fixed(node)
        if isinstance(node, A.ArraySchema):
            return _array(self._compile(node.items))
        if isinstance(node, A.MapSchema):
            return _map(self._compile(node.values))
        return _PRIMITIVE[str(node.type)]

    def _record(self, node: A.RecordSchema, top: bool) -> Check:
        name = node.fullname
        if name in self._compiling:  # a recursive type: check through the reference, compiled below.
            compiling = self._compiling
            return lambda value, path, errors: compiling[name](value, path, errors)
        fields: list[tuple[str, Check, bool]] = []
        self._compiling[name] = _unset
        for f in node.fields:
            fields.append((f.name, self._compile(f.type), f.has_default))
        known = {f[0] for f in fields}
        if top:
            known.add(self.version_field)
        label = node.name
        version_key = self.version_field
        if top:
            self.top_fields, self.top_label = fields, label

        def check(value: Any, path: str, errors: list[FieldError]) -> None:
            if type(value) is not dict:
                errors.append(FieldError(path, f"expected a {label} record (an object), got {_show(value)}"))
                return
            prefix = f"{path}." if path else ""
            present = 0
            for field_name, field_check, optional in fields:
                if field_name in value:
                    present += 1
                    field_check(value[field_name], prefix + field_name, errors)
                elif not optional:
                    errors.append(FieldError(prefix + field_name, "missing required field"))
            if len(value) > present and not (top and len(value) == present + 1 and version_key in value):
                for key in value:
                    if key not in known:
                        errors.append(unexpected_field(prefix + str(key), label))

        self._compiling[name] = check
        return check

    def _union(self, node: A.UnionSchema) -> Check:
        branches = [(branch, self._compile(branch)) for branch in node.schemas]
        names = ", ".join(_type_name(b) for b, _ in branches)
        records = [c for b, c in branches if isinstance(b, A.RecordSchema)]
        nullable = any(b.type == "null" for b, _ in branches)

        def check(value: Any, path: str, errors: list[FieldError]) -> None:
            if value is None and nullable:
                return
            for _, branch_check in branches:
                trial: list[FieldError] = []
                branch_check(value, path, trial)
                if not trial:
                    return
            if type(value) is dict and len(records) == 1:
                records[0](value, path, errors)  # one record branch: its own errors say the most.
                return
            errors.append(FieldError(path, f"expected one of {names}; got {_show(value)}"))

        return check


def unexpected_field(path: str, label: str) -> FieldError:
    """The error for a key that the ``label`` record schema does not have."""
    return FieldError(path, f"unexpected field (not in the {label} schema); remove it")


def _unset(value: Any, path: str, errors: list[FieldError]) -> None:  # pragma: no cover - replaced at once
    raise AssertionError("recursive schema compiled out of order")


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}" if value is not None else "null"


EXPECTED: dict[str, str] = {
    "null": "null",
    "boolean": "boolean",
    "int": "int (32-bit)",
    "long": "long (64-bit)",
    "float": "float",
    "double": "double",
    "bytes": "bytes",
    "string": "string",
}
"""How messages name what each primitive type expects."""


def wrong_type(expected: str, value: Any) -> str:
    """The message for a value of the wrong type: ``expected string, got int 3``."""
    return f"expected {expected}, got {_show(value)}"


def _type_name(node: A.Schema) -> str:
    logical = node.get_prop("logicalType")
    if isinstance(node, A.NamedSchema):
        return node.name
    return f"{node.type} ({logical})" if logical else str(node.type)


def _simple(test: Callable[[Any], bool], expected: str) -> Check:
    def check(value: Any, path: str, errors: list[FieldError]) -> None:
        if not test(value):
            errors.append(FieldError(path, wrong_type(expected, value)))

    return check


def _integer(low: int, high: int, expected: str) -> Check:
    def check(value: Any, path: str, errors: list[FieldError]) -> None:
        if type(value) is not int:
            errors.append(FieldError(path, wrong_type(expected, value)))
        elif not low <= value <= high:
            errors.append(FieldError(path, f"{value} is out of range for {expected}"))

    return check


_SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_MESSAGE = (
    "holds a lone surrogate (text badly decoded), which UTF-8 cannot encode; fix the text or how it was read"
)


def has_surrogate(text: str) -> bool:
    """Whether a string holds a lone surrogate code point (no UTF-8 writer can store it)."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def _string(value: Any, path: str, errors: list[FieldError]) -> None:
    if type(value) is not str:
        errors.append(FieldError(path, wrong_type(EXPECTED["string"], value)))
    elif not value.isascii() and _SURROGATE.search(value):
        errors.append(FieldError(path, f"the string {SURROGATE_MESSAGE}"))


def _number(single: bool) -> Check:
    """A float (32-bit, ``single``) or double: a float in range, or an integer the type holds exactly."""
    expected = "float" if single else "double"

    def check(value: Any, path: str, errors: list[FieldError]) -> None:
        kind = type(value)
        if kind is float:
            if single and abs(value) > FLOAT_MAX and not math.isinf(value):
                errors.append(FieldError(path, f"{value!r} is out of range for float (32-bit); use a double"))
        elif kind is int:
            if not exact_double(value) or (single and abs(value) > FLOAT_MAX):
                errors.append(FieldError(path, f"the integer {_show(value)} cannot be stored exactly as a {expected}"))
        else:
            errors.append(FieldError(path, wrong_type(expected, value)))

    return check


_PRIMITIVE: dict[str, Check] = {
    "null": _simple(lambda v: v is None, EXPECTED["null"]),
    "boolean": _simple(lambda v: type(v) is bool, EXPECTED["boolean"]),
    "int": _integer(*INT_RANGE, EXPECTED["int"]),
    "long": _integer(*LONG_RANGE, EXPECTED["long"]),
    "float": _number(single=True),
    "double": _number(single=False),
    "bytes": _simple(lambda v: type(v) in (bytes, bytearray), EXPECTED["bytes"]),
    "string": _string,
}


def _enum(node: A.EnumSchema) -> Check:
    symbols = frozenset(node.symbols)
    listed = ", ".join(node.symbols)

    def check(value: Any, path: str, errors: list[FieldError]) -> None:
        if type(value) is not str or value not in symbols:
            errors.append(FieldError(path, f"expected one of the {node.name} symbols ({listed}), got {_show(value)}"))

    return check


def _fixed(node: A.FixedSchema) -> Check:
    size = node.size

    def check(value: Any, path: str, errors: list[FieldError]) -> None:
        if type(value) not in (bytes, bytearray) or len(value) != size:
            errors.append(FieldError(path, f"expected {size} bytes ({node.name}), got {_show(value)}"))

    return check


def _array(items: Check) -> Check:
    def check(value: Any, path: str, errors: list[FieldError]) -> None:
        if type(value) is not list:
            errors.append(FieldError(path, f"expected an array, got {_show(value)}"))
            return
        for i, item in enumerate(value):
            items(item, f"{path}[{i}]", errors)

    return check


def _map(values: Check) -> Check:
    def check(value: Any, path: str, errors: list[FieldError]) -> None:
        if type(value) is not dict:
            errors.append(FieldError(path, f"expected a map (an object), got {_show(value)}"))
            return
        for key, item in value.items():
            if type(key) is not str:
                errors.append(FieldError(f"{path}[{key!r}]", "map keys must be strings"))
            elif has_surrogate(key):
                errors.append(FieldError(f"{path}[{key!r}]", f"the map key {SURROGATE_MESSAGE}"))
            else:
                values(item, f"{path}[{key!r}]", errors)

    return check


def _decimal(node: A.Schema) -> Check:
    precision = int(cast(int, node.get_prop("precision") or 0))
    scale = int(cast(int, node.get_prop("scale") or 0))

    def check(value: Any, path: str, errors: list[FieldError]) -> None:
        # A plain int is refused as writers refuse it (fastavro needs a Decimal to know the scale).
        if not isinstance(value, Decimal) or not value.is_finite():
            errors.append(FieldError(path, f"expected a decimal({precision},{scale}), got {_show(value)}"))
            return
        _, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)
        places = max(0, -exponent)
        integer_digits = max(len(digits) + exponent, 0)
        if places > scale or integer_digits > precision - scale:
            errors.append(FieldError(path, f"{value} does not fit decimal({precision},{scale})"))

    return check


def _instance(kinds: tuple[type, ...], expected: str, exclude: type | None = None) -> Callable[[A.Schema], Check]:
    def build(node: A.Schema) -> Check:
        def check(value: Any, path: str, errors: list[FieldError]) -> None:
            if not isinstance(value, kinds) or (exclude is not None and isinstance(value, exclude)):
                errors.append(FieldError(path, wrong_type(expected, value)))

        return check

    return build


def _moment(aware: bool) -> Callable[[A.Schema], Check]:
    """A ``timestamp-*`` takes a datetime with a time zone (a moment), a ``local-timestamp-*`` one without.

    Writers read a naive datetime for a ``timestamp-*`` in the machine's own time zone, and drop the zone of
    an aware one for a ``local-timestamp-*``: either way the value read back is another one.
    """
    expected = "a timestamp with a time zone (e.g. tzinfo=UTC)" if aware else "a local timestamp (no time zone)"

    def build(node: A.Schema) -> Check:
        def check(value: Any, path: str, errors: list[FieldError]) -> None:
            if not isinstance(value, dt.datetime) or (value.tzinfo is not None) != aware:
                errors.append(FieldError(path, wrong_type(expected, value)))

        return check

    return build


def _uuid(node: A.Schema) -> Check:
    def check(value: Any, path: str, errors: list[FieldError]) -> None:
        if isinstance(value, uuid.UUID):
            return
        if type(value) is str:
            try:
                canonical = str(uuid.UUID(value))
            except ValueError:
                pass
            else:
                if canonical == value:
                    return
                # Readers give back the canonical text, so any other spelling would not survive a round trip.
                errors.append(FieldError(path, f"write the UUID as {canonical!r} (lower case, hyphenated)"))
                return
        errors.append(FieldError(path, f"expected a UUID, got {_show(value)}"))

    return check


# Only valid logical types get here (see versioning.values.logical_type); others are their underlying type.
_LOGICAL: dict[str, Callable[[A.Schema], Check]] = {
    "decimal": _decimal,
    "uuid": _uuid,
    "date": _instance((dt.date,), "a date", exclude=dt.datetime),
    "time-millis": _instance((dt.time,), "a time of day"),
    "time-micros": _instance((dt.time,), "a time of day"),
    "timestamp-millis": _moment(aware=True),
    "timestamp-micros": _moment(aware=True),
    "local-timestamp-millis": _moment(aware=False),
    "local-timestamp-micros": _moment(aware=False),
}
