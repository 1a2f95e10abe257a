"""The Avro schema-resolution rule catalogue, the compatibility modes, and agreement with Apache Avro's checker."""

from __future__ import annotations

import io
import json
from typing import Any

import avro.compatibility
import avro.schema
import fastavro
import pytest

from versioning import Compatibility, IncompatibilityKind, check_compatibility, check_reader_writer, parse_schema
from versioning.compatibility import CompatibilityResult


def record(*fields: dict[str, Any], name: str = "R", **extra: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, "fields": list(fields), **extra}


def fld(name: str, kind: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, **extra}


def enum(*symbols: str, name: str = "E", **extra: Any) -> dict[str, Any]:
    return {"type": "enum", "name": name, "symbols": list(symbols), **extra}


def decimal(precision: int, scale: int) -> dict[str, Any]:
    return {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}


def check(reader: Any, writer: Any) -> CompatibilityResult:
    return check_reader_writer(parse_schema(reader), parse_schema(writer))


# (reader, writer, expected [(kind, location)]); an empty list means the reader can read the writer.
CATALOGUE: list[tuple[str, Any, Any, list[tuple[IncompatibilityKind, str]]]] = [
    ("same primitive", "string", "string", []),
    ("int promotes to long", "long", "int", []),
    ("int promotes to float", "float", "int", []),
    ("int promotes to double", "double", "int", []),
    ("long promotes to float", "float", "long", []),
    ("long promotes to double", "double", "long", []),
    ("float promotes to double", "double", "float", []),
    ("string reads bytes", "string", "bytes", []),
    ("bytes reads string", "bytes", "string", []),
    ("long does not narrow to int", "int", "long", [(IncompatibilityKind.TYPE_MISMATCH, "/")]),
    ("double does not narrow to float", "float", "double", [(IncompatibilityKind.TYPE_MISMATCH, "/")]),
    ("boolean is not int", "int", "boolean", [(IncompatibilityKind.TYPE_MISMATCH, "/")]),
    ("string is not int", "int", "string", [(IncompatibilityKind.TYPE_MISMATCH, "/")]),
    (
        "field added with a default",
        record(fld("a", "int"), fld("b", "string", default="x")),
        record(fld("a", "int")),
        [],
    ),
    (
        "field added without a default",
        record(fld("a", "int"), fld("b", "string")),
        record(fld("a", "int")),
        [(IncompatibilityKind.READER_FIELD_MISSING_DEFAULT_VALUE, "/fields/1")],
    ),
    ("field removed", record(fld("a", "int")), record(fld("a", "int"), fld("b", "string")), []),
    (
        "field type changed",
        record(fld("a", "string")),
        record(fld("a", "int")),
        [(IncompatibilityKind.TYPE_MISMATCH, "/fields/0/type")],
    ),
    (
        "field renamed through an alias",
        record(fld("email", "string", aliases=["mail"])),
        record(fld("mail", "string")),
        [],
    ),
    (
        "field renamed without an alias",
        record(fld("email", "string")),
        record(fld("mail", "string")),
        [(IncompatibilityKind.READER_FIELD_MISSING_DEFAULT_VALUE, "/fields/0")],
    ),
    (
        "record renamed without an alias",
        record(fld("a", "int"), name="New"),
        record(fld("a", "int"), name="Old"),
        [(IncompatibilityKind.NAME_MISMATCH, "/name")],
    ),
    (
        "record renamed through an alias",
        record(fld("a", "int"), name="New", aliases=["Old"]),
        record(fld("a", "int"), name="Old"),
        [],
    ),
    ("enum symbol added", enum("A", "B", "C"), enum("A", "B"), []),
    (
        "enum symbol removed",
        enum("A"),
        enum("A", "B"),
        [(IncompatibilityKind.MISSING_ENUM_SYMBOLS, "/symbols")],
    ),
    ("enum symbol removed, reader default", enum("A", "Z", default="Z"), enum("A", "B"), []),
    (
        "enum renamed",
        enum("A", name="F"),
        enum("A", name="E"),
        [(IncompatibilityKind.NAME_MISMATCH, "/name")],
    ),
    (
        "fixed size differs",
        {"type": "fixed", "name": "F", "size": 8},
        {"type": "fixed", "name": "F", "size": 4},
        [(IncompatibilityKind.FIXED_SIZE_MISMATCH, "/size")],
    ),
    ("fixed same size", {"type": "fixed", "name": "F", "size": 4}, {"type": "fixed", "name": "F", "size": 4}, []),
    ("array items promote", {"type": "array", "items": "long"}, {"type": "array", "items": "int"}, []),
    (
        "array items mismatch",
        {"type": "array", "items": "int"},
        {"type": "array", "items": "string"},
        [(IncompatibilityKind.TYPE_MISMATCH, "/items")],
    ),
    (
        "map values mismatch",
        {"type": "map", "values": "int"},
        {"type": "map", "values": "string"},
        [(IncompatibilityKind.TYPE_MISMATCH, "/values")],
    ),
    ("union reads its member", ["null", "string"], "string", []),
    (
        "union lacks the writer's type",
        ["null", "string"],
        "int",
        [(IncompatibilityKind.MISSING_UNION_BRANCH, "/")],
    ),
    ("union grows", ["null", "string", "int"], ["null", "string"], []),
    (
        "union shrinks",
        ["null", "string"],
        ["null", "string", "int"],
        [(IncompatibilityKind.MISSING_UNION_BRANCH, "/2")],
    ),
    (
        "non-union reader of a union writer",
        "string",
        ["null", "string"],
        [(IncompatibilityKind.TYPE_MISMATCH, "/")],
    ),
    ("union branch promotes", ["null", "long"], ["null", "int"], []),
    ("decimal same precision and scale", decimal(10, 2), decimal(10, 2), []),
    (
        "decimal scale differs",
        decimal(10, 3),
        decimal(10, 2),
        [(IncompatibilityKind.DECIMAL_MISMATCH, "/")],
    ),
    (
        "decimal precision differs",
        decimal(12, 2),
        decimal(10, 2),
        [(IncompatibilityKind.DECIMAL_MISMATCH, "/")],
    ),
    (
        "nested record field",
        record(fld("inner", record(fld("x", "int"), fld("y", "int"), name="In"))),
        record(fld("inner", record(fld("x", "int"), name="In"))),
        [(IncompatibilityKind.READER_FIELD_MISSING_DEFAULT_VALUE, "/fields/0/type/fields/1")],
    ),
    (
        "every problem is reported, not the first",
        record(fld("a", "int"), fld("b", "string"), fld("c", "boolean")),
        record(fld("a", "string"), fld("c", "int")),
        [
            (IncompatibilityKind.TYPE_MISMATCH, "/fields/0/type"),
            (IncompatibilityKind.READER_FIELD_MISSING_DEFAULT_VALUE, "/fields/1"),
            (IncompatibilityKind.TYPE_MISMATCH, "/fields/2/type"),
        ],
    ),
    (
        "recursive types",
        record(fld("value", "int"), fld("next", ["null", "Node"], default=None), name="Node"),
        record(fld("value", "int"), fld("next", ["null", "Node"], default=None), name="Node"),
        [],
    ),
]


@pytest.mark.parametrize(("reader", "writer", "expected"), [c[1:] for c in CATALOGUE], ids=[c[0] for c in CATALOGUE])
def test_should_apply_avro_resolution_rule(reader: Any, writer: Any, expected: list[tuple[str, str]]) -> None:
    result = check(reader, writer)
    assert [(i.kind, i.location) for i in result.incompatibilities] == expected
    assert result.compatible is (not expected)


@pytest.mark.parametrize(
    ("reader", "writer"),
    [c[1:3] for c in CATALOGUE if "decimal" not in c[0]],
    ids=[c[0] for c in CATALOGUE if "decimal" not in c[0]],
)
def test_should_agree_with_apache_avro_checker(reader: Any, writer: Any) -> None:
    """Apache Avro's own checker reaches the same verdict (it does not check decimals, so those are left out)."""
    theirs = avro.compatibility.ReaderWriterCompatibilityChecker().get_compatibility(
        avro.schema.parse(json.dumps(reader)), avro.schema.parse(json.dumps(writer))
    )
    ours = check(reader, writer)
    assert ours.compatible is (theirs.compatibility is avro.compatibility.SchemaCompatibilityType.compatible)


SAMPLES: dict[str, Any] = {
    "string": "hello",
    "int": 7,
    "long": 2**40,
    "float": 1.5,
}


@pytest.mark.parametrize(
    ("reader", "writer", "datum"),
    [
        (record(fld("a", "long"), fld("b", ["null", "string"], default=None)), record(fld("a", "int")), {"a": 5}),
        (record(fld("email", "string", aliases=["mail"])), record(fld("mail", "string")), {"mail": "a@b"}),
        (enum("A", "B", "C"), enum("A", "B"), "B"),
        (["null", "double"], ["null", "float"], 2.5),
        (record(fld("a", "int")), record(fld("a", "int"), fld("gone", "string")), {"a": 1, "gone": "x"}),
    ],
)
def test_should_only_call_compatible_what_avro_can_actually_resolve(reader: Any, writer: Any, datum: Any) -> None:
    """Compatible verdicts are proven by encoding with the writer and decoding with the reader (fastavro)."""
    assert check(reader, writer).compatible
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(writer), datum)
    buffer.seek(0)
    fastavro.schemaless_reader(buffer, fastavro.parse_schema(writer), fastavro.parse_schema(reader))


def test_should_carry_subject_and_versions_in_each_incompatibility() -> None:
    v1 = parse_schema(record(fld("a", "int")))
    v2 = parse_schema(record(fld("a", "int"), fld("b", "int")))
    result = check_compatibility(v2, [v1], Compatibility.BACKWARD, subject="orders")
    (inc,) = result.incompatibilities
    assert (inc.subject, inc.reader_version, inc.writer_version) == ("orders", 2, 1)
    assert str(inc).startswith("orders v2 reading v1: READER_FIELD_MISSING_DEFAULT_VALUE at /fields/1:")


V1 = record(fld("a", "int"))
V2_ADD_OPTIONAL = record(fld("a", "int"), fld("b", ["null", "string"], default=None))
V2_ADD_REQUIRED = record(fld("a", "int"), fld("b", "string"))
V2_DROP = record()


@pytest.mark.parametrize(
    ("mode", "new", "compatible"),
    [
        (Compatibility.BACKWARD, V2_ADD_OPTIONAL, True),
        (Compatibility.BACKWARD, V2_ADD_REQUIRED, False),
        (Compatibility.BACKWARD, V2_DROP, True),
        (Compatibility.FORWARD, V2_ADD_REQUIRED, True),
        (Compatibility.FORWARD, V2_DROP, False),
        (Compatibility.FULL, V2_ADD_OPTIONAL, True),
        (Compatibility.FULL, V2_ADD_REQUIRED, False),
        (Compatibility.FULL, V2_DROP, False),
        (Compatibility.NONE, V2_ADD_REQUIRED, True),
    ],
)
def test_should_apply_mode_semantics(mode: Compatibility, new: Any, compatible: bool) -> None:
    result = check_compatibility(parse_schema(new), [parse_schema(V1)], mode)
    assert result.compatible is compatible


def test_should_check_transitive_modes_against_every_version_newest_first() -> None:
    v1 = parse_schema(record(fld("a", "int")))
    v2 = parse_schema(record(fld("a", "int"), fld("b", "string", default="")))
    v3 = parse_schema(record(fld("b", "string", default="")))  # drops a: v1 cannot read v3... only under FORWARD
    v3_reads = parse_schema(record(fld("a", "int"), fld("b", "string")))  # b without default: cannot read v1
    assert check_compatibility(v3_reads, [v1, v2], Compatibility.BACKWARD).compatible
    transitive = check_compatibility(v3_reads, [v1, v2], Compatibility.BACKWARD_TRANSITIVE)
    assert [(i.reader_version, i.writer_version) for i in transitive.incompatibilities] == [(3, 1)]
    forward = check_compatibility(v3, [v1, v2], Compatibility.FORWARD_TRANSITIVE)
    assert [(i.reader_version, i.writer_version) for i in forward.incompatibilities] == [(2, 3), (1, 3)]


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("backward", Compatibility.BACKWARD),
        ("full-transitive", Compatibility.FULL_TRANSITIVE),
        ("NONE", Compatibility.NONE),
    ],
)
def test_should_read_modes_as_people_write_them(text: str, mode: Compatibility) -> None:
    assert Compatibility.parse(text) is mode


def test_should_refuse_an_unknown_mode_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown compatibility mode 'sideways'.*backward-transitive"):
        Compatibility.parse("sideways")
