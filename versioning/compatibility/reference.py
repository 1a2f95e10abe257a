"""Schema compatibility: can a reader schema read what a writer schema wrote, and what the modes demand.

The reader/writer rules are the Avro specification's schema-resolution rules, walked over the ``avro``
package's parsed schemas. The Apache ``avro.compatibility`` checker decides the same verdicts (the test
suite holds us to it), but it keeps kinds, messages and locations in unrelated sets, loses the location of
union branches and ignores decimal precision and scale. Users need each incompatibility on its own, located,
so the walk is ours and the parsing, name and alias resolution are Avro's.

Modes follow Confluent Schema Registry: BACKWARD (the new schema reads data written with the previous one),
FORWARD (the previous schema reads data written with the new one), FULL (both), their ``_TRANSITIVE`` forms
(against every earlier version, newest first) and NONE.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

import avro.schema as A

from versioning.schema import Schema


class Compatibility(StrEnum):
    """A subject's compatibility mode: which earlier versions a new version must stay compatible with."""

    BACKWARD = "BACKWARD"
    """The new version can read data written with the previous version (consumers upgrade first)."""
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    """The new version can read data written with every earlier version."""
    FORWARD = "FORWARD"
    """The previous version can read data written with the new version (producers upgrade first)."""
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    """Every earlier version can read data written with the new version."""
    FULL = "FULL"
    """Both BACKWARD and FORWARD against the previous version."""
    FULL_TRANSITIVE = "FULL_TRANSITIVE"
    """Both BACKWARD and FORWARD against every earlier version."""
    NONE = "NONE"
    """No check."""

    @classmethod
    def parse(cls, text: str) -> Compatibility:
        """Read a mode the way people write it: ``backward``, ``full-transitive``, ``FULL_TRANSITIVE``."""
        key = text.strip().upper().replace("-", "_")
        try:
            return cls(key)
        except ValueError:
            known = ", ".join(m.value.lower().replace("_", "-") for m in cls)
            raise ValueError(f"unknown compatibility mode {text!r}; use one of: {known}") from None

    @property
    def transitive(self) -> bool:
        """Whether the mode checks every earlier version rather than only the latest."""
        return self.value.endswith("_TRANSITIVE")

    @property
    def backward(self) -> bool:
        """Whether the new version must read the old versions' data."""
        return self.value.startswith(("BACKWARD", "FULL"))

    @property
    def forward(self) -> bool:
        """Whether the old versions must read the new version's data."""
        return self.value.startswith(("FORWARD", "FULL"))


class IncompatibilityKind(StrEnum):
    """What kind of rule a reader/writer pair breaks (the names Schema Registry reports)."""

    TYPE_MISMATCH = "TYPE_MISMATCH"
    """The reader's type cannot be resolved from the writer's (and no promotion applies)."""
    NAME_MISMATCH = "NAME_MISMATCH"
    """A named type (record, enum, fixed) has another name and the reader lists no alias for the writer's."""
    FIXED_SIZE_MISMATCH = "FIXED_SIZE_MISMATCH"
    """Two fixed types of different sizes."""
    MISSING_ENUM_SYMBOLS = "MISSING_ENUM_SYMBOLS"
    """The writer may write enum symbols the reader lacks, and the reader's enum has no default."""
    READER_FIELD_MISSING_DEFAULT_VALUE = "READER_FIELD_MISSING_DEFAULT_VALUE"
    """The reader has a field the writer does not write, and no default to fill it with."""
    MISSING_UNION_BRANCH = "MISSING_UNION_BRANCH"
    """The writer may write a branch that no branch of the reader's union can read."""
    DECIMAL_MISMATCH = "DECIMAL_MISMATCH"
    """Two decimals of different precision or scale (the Avro spec requires both to match)."""


@dataclass(frozen=True)
class Incompatibility:
    """One broken rule: its kind, where (JSON pointer into the reader's schema), and the versions involved."""

    kind: IncompatibilityKind
    location: str
    message: str
    subject: str | None = None
    reader_version: int | None = None
    writer_version: int | None = None

    def __str__(self) -> str:
        versions = ""
        if self.reader_version is not None and self.writer_version is not None:
            versions = f" v{self.reader_version} reading v{self.writer_version}"
        who = f"{self.subject}{versions}: " if self.subject else (f"{versions.strip()}: " if versions else "")
        return f"{who}{self.kind.value} at {self.location}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The incompatibility as JSON-ready data."""
        return {
            "kind": self.kind.value,
            "location": self.location,
            "message": self.message,
            "subject": self.subject,
            "reader_version": self.reader_version,
            "writer_version": self.writer_version,
        }


@dataclass
class CompatibilityResult:
    """The verdict of a check: compatible only if no incompatibility was found; all of them are listed."""

    incompatibilities: list[Incompatibility] = field(default_factory=list)

    @property
    def compatible(self) -> bool:
        """True when nothing is incompatible."""
        return not self.incompatibilities

    def __bool__(self) -> bool:
        return self.compatible

    def extend(self, other: CompatibilityResult) -> None:
        """Add another result's incompatibilities to this one."""
        self.incompatibilities.extend(other.incompatibilities)


_PROMOTIONS = {
    "long": {"int"},
    "float": {"int", "long"},
    "double": {"int", "long", "float"},
    "bytes": {"string"},
    "string": {"bytes"},
}


def check_reader_writer(
    reader: Schema,
    writer: Schema,
    *,
    subject: str | None = None,
    reader_version: int | None = None,
    writer_version: int | None = None,
) -> CompatibilityResult:
    """Whether ``reader`` can read every datum ``writer`` can write; every incompatibility is listed."""
    found = walk_reader_writer(reader, writer)
    return CompatibilityResult(
        [
            Incompatibility(kind, location or "/", message, subject, reader_version, writer_version)
            for kind, location, message in found
        ]
    )


def walk_reader_writer(reader: Schema, writer: Schema) -> list[Found]:
    """The resolution walk's findings, as (kind, location, message), for one reader and one writer."""
    return Walker().walk(reader.parsed, writer.parsed, "")


def check_compatibility(
    new: Schema,
    previous: Sequence[Schema],
    mode: Compatibility,
    *,
    subject: str | None = None,
    new_version: int | None = None,
    previous_versions: Sequence[int] | None = None,
    walk: Callable[[Schema, Schema], list[Found]] | None = None,
) -> CompatibilityResult:
    """Check a new schema against earlier ones (oldest first) under a mode, with Schema Registry semantics.

    Non-transitive modes compare with the latest earlier schema only; transitive modes with every earlier
    schema, newest first. Versions default to ``1..n`` for ``previous`` and ``n + 1`` for ``new``. ``walk``
    replaces the reader/writer walk (a caching checker passes its own; the findings must be the same).
    """
    walk = walk or walk_reader_writer
    mode = Compatibility(mode)
    result = CompatibilityResult()
    if mode is Compatibility.NONE or not previous:
        return result
    versions = list(previous_versions) if previous_versions is not None else list(range(1, len(previous) + 1))
    new_version = new_version if new_version is not None else (versions[-1] + 1 if versions else 1)
    pairs = list(zip(versions, previous, strict=True))
    against = list(reversed(pairs)) if mode.transitive else pairs[-1:]
    found = result.incompatibilities
    for version, old in against:
        if mode.backward:
            for kind, location, message in walk(new, old):
                found.append(Incompatibility(kind, location or "/", message, subject, new_version, version))
        if mode.forward:
            for kind, location, message in walk(old, new):
                found.append(Incompatibility(kind, location or "/", message, subject, version, new_version))
    return result


Found = tuple[IncompatibilityKind, str, str]


class Walker:
    """One reader/writer resolution walk; remembers pairs of named types in progress, for recursive schemas.

    The cached checker (:mod:`versioning.compatibility.cached`) reuses it node by node.
    """

    def __init__(self) -> None:
        self.in_progress: set[tuple[int, int]] = set()

    def walk(self, reader: A.Schema, writer: A.Schema, at: str) -> list[Found]:
        key = (id(reader), id(writer))
        if key in self.in_progress:
            return []  # a recursive reference: the pair is being checked further up.
        self.in_progress.add(key)
        try:
            return list(self._resolve(reader, writer, at))
        finally:
            self.in_progress.discard(key)

    def readable(self, reader: A.Schema, writer: A.Schema) -> bool:
        return not self.walk(reader, writer, "")

    def _resolve(self, reader: A.Schema, writer: A.Schema, at: str) -> Iterator[Found]:
        if isinstance(writer, A.UnionSchema):
            yield from self._writer_union(reader, writer, at)
            return
        if isinstance(reader, A.UnionSchema):
            # The first reader branch that resolves is used; none resolving is one incompatibility.
            if not any(self.readable(branch, writer) for branch in reader.schemas):
                yield (
                    IncompatibilityKind.MISSING_UNION_BRANCH,
                    at,
                    f"the reader's union has no branch that reads the writer's {_describe(writer)}",
                )
            return
        if reader.type != writer.type:
            if writer.type in _PROMOTIONS.get(reader.type, ()):
                return
            yield (
                IncompatibilityKind.TYPE_MISMATCH,
                at,
                f"the reader's {_describe(reader)} cannot read the writer's {_describe(writer)}",
            )
            return
        # Same Avro type on both sides from here on: the writer has the reader's attributes.
        same = cast(Any, writer)
        if isinstance(reader, (A.RecordSchema, A.EnumSchema, A.FixedSchema)):
            yield from name_incompatibilities(reader, same, at)
        if isinstance(reader, A.RecordSchema):
            yield from self._record(reader, writer, at)
        elif isinstance(reader, A.EnumSchema):
            yield from _enum(reader, writer, at)
        elif isinstance(reader, A.FixedSchema):
            if reader.size != same.size:
                yield (
                    IncompatibilityKind.FIXED_SIZE_MISMATCH,
                    f"{at}/size",
                    f"the reader's fixed {reader.fullname!r} has size {reader.size}, the writer's {same.size}",
                )
        elif isinstance(reader, A.ArraySchema):
            yield from self.walk(reader.items, same.items, f"{at}/items")
        elif isinstance(reader, A.MapSchema):
            yield from self.walk(reader.values, same.values, f"{at}/values")
        yield from _decimal(reader, writer, at)

    def _writer_union(self, reader: A.Schema, writer: A.UnionSchema, at: str) -> Iterator[Found]:
        # Every branch the writer may write must be readable.
        if isinstance(reader, A.UnionSchema):
            for i, branch in enumerate(writer.schemas):
                if not any(self.readable(r, branch) for r in reader.schemas):
                    yield (
                        IncompatibilityKind.MISSING_UNION_BRANCH,
                        f"{at}/{i}" if at else f"/{i}",
                        f"the reader's union has no branch that reads the writer's branch {i} ({_describe(branch)})",
                    )
            return
        for branch in writer.schemas:
            yield from self.walk(reader, branch, at)

    def _record(self, reader: A.RecordSchema, writer: A.Schema, at: str) -> Iterator[Found]:
        assert isinstance(writer, A.RecordSchema)
        # avro's fields_dict builds a new dict on every access: take it once per record pair.
        writer_fields = writer.fields_dict
        for i, reader_field in enumerate(reader.fields):
            writer_field = _writer_field(writer_fields, reader_field)
            if writer_field is None:
                if not reader_field.has_default:
                    yield (
                        IncompatibilityKind.READER_FIELD_MISSING_DEFAULT_VALUE,
                        f"{at}/fields/{i}",
                        f"field {reader_field.name!r} is not written by the writer and has no default; "
                        "give it a default (e.g. make it nullable with default null)",
                    )
                continue
            yield from self.walk(reader_field.type, writer_field.type, f"{at}/fields/{i}/type")


def _writer_field(fields: dict[str, A.Field], reader_field: A.Field) -> A.Field | None:
    found = fields.get(reader_field.name)
    if found is not None:
        return found
    for alias in aliases_of(reader_field):
        if alias in fields:
            return fields[alias]
    return None


def name_incompatibilities(reader: A.NamedSchema, writer: A.NamedSchema, at: str) -> Iterator[Found]:
    """The reader's named type does not match the writer's by full name or by a (namespace-aware) alias."""
    if reader.name == writer.name or reader.fullname == writer.fullname:
        return
    # An alias is a full name, or relative to the namespace of the type it names (the Avro specification).
    namespace = reader.namespace
    aliases = {a if "." in a or not namespace else f"{namespace}.{a}" for a in aliases_of(reader)}
    if writer.fullname in aliases:
        return
    yield (
        IncompatibilityKind.NAME_MISMATCH,
        f"{at}/name",
        f"the reader's {reader.type} is named {reader.fullname!r}, the writer's {writer.fullname!r}; "
        f"add {writer.fullname!r} to the reader's aliases",
    )


def aliases_of(node: A.Schema | A.Field) -> list[str]:
    """The aliases a named type or a field declares, as written."""
    aliases = node.props.get("aliases")
    return [a for a in aliases if isinstance(a, str)] if isinstance(aliases, list) else []


def _enum(reader: A.EnumSchema, writer: A.Schema, at: str) -> Iterator[Found]:
    assert isinstance(writer, A.EnumSchema)
    missing = [s for s in writer.symbols if s not in reader.symbols]
    default = reader.props.get("default")
    if missing and default not in reader.symbols:
        yield (
            IncompatibilityKind.MISSING_ENUM_SYMBOLS,
            f"{at}/symbols",
            f"the reader's enum {reader.fullname!r} lacks the writer's symbols {', '.join(missing)}; "
            "add them, or give the reader's enum a default symbol",
        )


def _decimal(reader: A.Schema, writer: A.Schema, at: str) -> Iterator[Found]:
    if reader.get_prop("logicalType") != "decimal" or writer.get_prop("logicalType") != "decimal":
        return
    r = (reader.get_prop("precision"), reader.get_prop("scale") or 0)
    w = (writer.get_prop("precision"), writer.get_prop("scale") or 0)
    if r != w:
        yield (
            IncompatibilityKind.DECIMAL_MISMATCH,
            at,
            f"the reader's decimal({r[0]},{r[1]}) cannot read the writer's decimal({w[0]},{w[1]}): "
            "precision and scale must match",
        )


def _describe(schema: A.Schema) -> str:
    if isinstance(schema, A.NamedSchema):
        return f"{schema.type} {schema.fullname!r}"
    if isinstance(schema, A.UnionSchema):
        return "union [" + ", ".join(_describe(s) for s in schema.schemas) + "]"
    logical = schema.get_prop("logicalType")
    return f"{schema.type} ({logical})" if logical else str(schema.type)
