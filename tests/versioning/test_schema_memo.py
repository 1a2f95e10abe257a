"""Checking a subject's versions field by field (``ParseMemo``) gives exactly the answers of checking each whole.

The reference is :func:`versioning.schema.parse_schema` without a memo: the whole structural walk, then the
``avro`` package's parse. With a memo, a version whose record part and fields were seen before is proven sound
from its parts; every problem, its message and its location, must still be the whole walk's, and the
compatibility verdicts read from a version's layout must be the reference walk's over the parsed schemas.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from versioning.compatibility import Compatibility, CompatibilityChecker, check_compatibility
from versioning.errors import SchemaError
from versioning.schema import ParseMemo, Schema, parse_schema


def outcome(schema_json: Any, memo: ParseMemo | None) -> Schema | list[str]:
    """The parsed schema, or the problems (as text: location and message) that refused it."""
    try:
        return parse_schema(copy.deepcopy(schema_json), "v.avsc", memo)
    except SchemaError as err:
        return [str(p) for p in err.problems]


def record(fields: list[Any], namespace: str | None = "ns", name: str = "Thing") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "record", "name": name}
    if namespace is not None:
        schema["namespace"] = namespace
    schema["fields"] = fields
    return schema


ENUM_E = {"name": "kind", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}}
ENUM_E_ELSEWHERE = {"name": "other", "type": {"type": "enum", "name": "E", "namespace": "b", "symbols": ["A"]}}
INT_ZERO = {"name": "n", "type": "int", "default": 0}
NAME = {"name": "id", "type": "string"}

# (what, earlier versions that teach the memo, the version checked after them)
CASES = [
    (
        "a default false where the memo knows 0 (equal in Python, not in Avro)",
        [record([NAME, INT_ZERO])],
        record([NAME, {"name": "n", "type": "int", "default": False}]),
    ),
    (
        "a default 0.0 where the memo knows 0",
        [record([NAME, INT_ZERO])],
        record([NAME, {"name": "n", "type": "int", "default": 0.0}]),
    ),
    (
        "a default 1 where the memo knows true",
        [record([NAME, {"name": "ok", "type": "boolean", "default": True}])],
        record([NAME, {"name": "ok", "type": "boolean", "default": 1}]),
    ),
    (
        "known fields in another namespace, where the enums they define now clash",
        [record([NAME, ENUM_E, ENUM_E_ELSEWHERE], namespace="a")],
        record([NAME, ENUM_E, ENUM_E_ELSEWHERE], namespace="b"),
    ),
    (
        "two known fields that define the same type",
        [record([NAME, ENUM_E]), record([NAME, {**ENUM_E, "name": "kind2"}])],
        record([NAME, ENUM_E, {**ENUM_E, "name": "kind2"}]),
    ),
    (
        "a known field repeated under its own name",
        [record([NAME, INT_ZERO])],
        record([NAME, INT_ZERO, INT_ZERO]),
    ),
    (
        "a field that refers to a type another field defined, that field gone",
        [record([NAME, ENUM_E, {"name": "again", "type": "E"}])],
        record([NAME, {"name": "again", "type": "E"}]),
    ),
    (
        "a field that refers to a type defined after it",
        [record([NAME, ENUM_E, {"name": "again", "type": ["null", "E"], "default": None}])],
        record([NAME, {"name": "again", "type": ["null", "E"], "default": None}, ENUM_E]),
    ),
    (
        "a new field the avro package refuses (a sort order it does not know)",
        [record([NAME])],
        record([NAME, {"name": "n", "type": "int", "order": "sideways"}]),
    ),
    (
        "a new field with a name the avro package refuses",
        [record([NAME])],
        record([NAME, {"name": "", "type": "int"}]),
    ),
    (
        "a new field nested deeper than the limit",
        [record([NAME])],
        record([NAME, {"name": "deep", "type": json.loads('{"type": "array", "items": ' * 120 + '"int"' + "}" * 120)}]),
    ),
    (
        "a type named after a primitive, which changes what 'string' means to the avro package",
        [record([{"name": "s", "type": {"type": "record", "name": "string", "fields": []}}, NAME])],
        record([NAME, {"name": "s", "type": {"type": "record", "name": "string", "fields": []}}]),
    ),
    (
        "a type named after a primitive, then 'string' read by a version without it",
        [record([{"name": "s", "type": {"type": "record", "name": "string", "fields": []}}, NAME])],
        record([NAME]),
    ),
    (
        "a known field whose enum has the record's own name",
        [record([NAME, {"name": "t", "type": {"type": "enum", "name": "Thing", "namespace": "x", "symbols": ["A"]}}])],
        record([NAME, {"name": "t", "type": {"type": "enum", "name": "Thing", "symbols": ["A"]}}]),
    ),
    (
        "a known field in a record whose namespace is given as null",
        [record([NAME, ENUM_E_ELSEWHERE])],
        {"type": "record", "name": "Thing", "namespace": None, "fields": [NAME, ENUM_E, ENUM_E_ELSEWHERE]},
    ),
]


@pytest.mark.parametrize(("what", "earlier", "version"), CASES, ids=[c[0] for c in CASES])
def test_should_answer_as_the_whole_walk_when_a_version_reuses_what_the_memo_knows(
    what: str, earlier: list[dict[str, Any]], version: dict[str, Any]
) -> None:
    memo = ParseMemo()
    learnt = [outcome(schema, memo) for schema in earlier]
    expected, found = outcome(version, None), outcome(version, memo)
    if isinstance(expected, Schema):
        assert isinstance(found, Schema), found
        assert found.parsed.to_json() == expected.parsed.to_json()
        # And what the compatibility checker reads of them is what the reference walk reads of whole parses.
        whole = [parse_schema(copy.deepcopy(s)) for s in earlier]
        for mode in (Compatibility.BACKWARD, Compatibility.FULL_TRANSITIVE):
            got = CompatibilityChecker().check(found, learnt, mode, subject="s")  # type: ignore[arg-type]
            want = check_compatibility(expected, whole, mode, subject="s")
            assert got.incompatibilities == want.incompatibilities
    else:
        assert expected, what
        assert found == expected


@pytest.mark.parametrize(("what", "earlier", "version"), CASES, ids=[c[0] for c in CASES])
def test_should_hold_cases_the_whole_walk_refuses(what: str, earlier: Any, version: Any) -> None:
    # The table is about hidden errors: the whole walk refuses all but these, which must not be refused either.
    expected = outcome(version, None)
    sound = {
        "a type named after a primitive, which changes what 'string' means to the avro package",
        "a type named after a primitive, then 'string' read by a version without it",
        "a known field in a record whose namespace is given as null",
    }
    assert isinstance(expected, Schema) == (what in sound)


def test_should_prove_a_version_of_known_parts_without_the_avro_parser() -> None:
    memo = ParseMemo()
    first = outcome(record([NAME, INT_ZERO, ENUM_E]), memo)
    assert isinstance(first, Schema)
    again = outcome(record([ENUM_E, NAME, {"name": "new", "type": ["null", "long"], "default": None}]), memo)
    assert isinstance(again, Schema)
    assert again.layout is not None
    assert again._parsed is None  # not parsed until asked
    assert [f["name"] for f in again.parsed.to_json()["fields"]] == ["kind", "id", "new"]


# Generated histories: fields drawn from a pool that mixes sound fields with every way of being wrong in context.
SHELLS = [
    {"name": "Thing", "namespace": "ns"},
    {"name": "Thing", "namespace": "other"},
    {"name": "Thing"},
    {"name": "Thing", "namespace": None},
    {"name": "Thing", "namespace": "ns", "aliases": ["Old"]},
    {"name": "E", "namespace": "ns"},
]
NAMED_TYPES = [
    {"type": "enum", "name": "E", "symbols": ["A", "B"]},
    {"type": "enum", "name": "E", "namespace": "other", "symbols": ["A"]},
    {"type": "enum", "name": "E", "namespace": "", "symbols": ["A"]},
    {"type": "enum", "name": "E", "symbols": ["A", "B"], "default": "Z"},
    {"type": "fixed", "name": "F", "size": 4},
    {"type": "fixed", "name": "ns.F", "size": 8},
    {"type": "record", "name": "R", "fields": [{"name": "x", "type": "int"}, {"name": "e", "type": "E"}]},
    {"type": "record", "name": "R", "fields": [{"name": "x", "type": "long", "default": 1.5}]},
    {"type": "record", "name": "string", "fields": []},
    {"type": "enum", "name": "1bad", "symbols": ["A"]},
]
TYPES: list[Any] = [
    "int",
    "long",
    "double",
    "string",
    "boolean",
    ["null", "string"],
    ["null", "E"],
    "E",
    "ns.E",
    "other.E",
    "F",
    "Thing",
    {"type": "array", "items": "E"},
    {"type": "map", "values": "long"},
    {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2},
    *NAMED_TYPES,
    ["null", NAMED_TYPES[0]],
]
DEFAULTS = [0, 0.0, False, True, 1, 1.5, "", "A", None, []]


@st.composite
def fields(draw: st.DrawFn) -> dict[str, Any]:
    field: dict[str, Any] = {"name": draw(st.sampled_from(["a", "b", "c", "d"])), "type": draw(st.sampled_from(TYPES))}
    if draw(st.booleans()):
        field["default"] = draw(st.sampled_from(DEFAULTS))
    if draw(st.integers(0, 5)) == 0:
        field["order"] = draw(st.sampled_from(["ascending", "sideways"]))
    return field


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    pool = draw(st.lists(fields(), min_size=1, max_size=6))
    versions = []
    for _ in range(draw(st.integers(1, 6))):
        shell = draw(st.sampled_from(SHELLS))
        chosen = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4))
        versions.append({"type": "record", **shell, "fields": chosen})
    return versions


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories())
def test_should_give_every_version_the_whole_walks_answer_whatever_came_before(history: list[dict[str, Any]]) -> None:
    memo = ParseMemo()
    sound: list[tuple[Schema, Schema]] = []  # (through the memo, whole) pairs
    for version in history:
        expected, found = outcome(version, None), outcome(version, memo)
        if isinstance(expected, Schema):
            assert isinstance(found, Schema), found
            assert found.parsed.to_json() == expected.parsed.to_json()
            sound.append((found, expected))
        else:
            assert found == expected
    # The checker reads versions from their layouts: its verdicts are the reference walk's over whole parses.
    checker = CompatibilityChecker()
    for i in range(1, len(sound)):
        for mode in (Compatibility.BACKWARD, Compatibility.FULL_TRANSITIVE):
            got = checker.check(sound[i][0], [s for s, _ in sound[:i]], mode, subject="s")
            want = check_compatibility(sound[i][1], [w for _, w in sound[:i]], mode, subject="s")
            assert got.incompatibilities == want.incompatibilities


# Histories as subjects grow: each version one edit away from the one before (a field added, dropped or retyped),
# so most versions are proven from the previous one's proof and some break the mode.
SOUND_FIELDS: list[dict[str, Any]] = [
    {"name": "a", "type": "string"},
    {"name": "a", "type": "bytes"},
    {"name": "b", "type": "int", "default": 0},
    {"name": "b", "type": "long", "default": 0},
    {"name": "b", "type": "string", "default": ""},
    {"name": "c", "type": ["null", "string"], "default": None},
    {"name": "c", "type": ["null", "long"], "default": None},
    {"name": "d", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}},
    {"name": "d", "type": {"type": "enum", "name": "E", "symbols": ["A"], "default": "A"}, "default": "A"},
    {"name": "e", "type": {"type": "array", "items": "int"}, "default": []},
    {"name": "f", "type": "double"},
    {"name": "g", "type": "boolean", "default": False},
]


@st.composite
def growing_histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    current: dict[str, dict[str, Any]] = {}
    versions = []
    for _ in range(draw(st.integers(3, 8))):
        edit = draw(st.sampled_from(SOUND_FIELDS))
        if edit["name"] in current and draw(st.booleans()) and len(current) > 1:
            del current[edit["name"]]
        else:
            current[edit["name"]] = edit
        versions.append(record(list(current.values())))
    return versions


@pytest.mark.parametrize(
    "mode", [Compatibility.BACKWARD_TRANSITIVE, Compatibility.FORWARD_TRANSITIVE, Compatibility.FULL_TRANSITIVE]
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=growing_histories())
def test_should_give_a_growing_subject_the_reference_verdicts(
    mode: Compatibility, history: list[dict[str, Any]]
) -> None:
    memo = ParseMemo()
    schemas = [parse_schema(copy.deepcopy(v), "v.avsc", memo) for v in history]
    whole = [parse_schema(copy.deepcopy(v)) for v in history]
    checker = CompatibilityChecker()
    for i in range(1, len(history)):
        got = checker.check(schemas[i], schemas[:i], mode, subject="s")
        want = check_compatibility(whole[i], whole[:i], mode, subject="s")
        assert got.incompatibilities == want.incompatibilities, f"v{i + 1}"


def test_should_find_what_breaks_the_mode_after_versions_proven_compatible() -> None:
    memo = ParseMemo()
    base = [NAME, INT_ZERO]
    history = [
        record(base),
        record([*base, {"name": "x", "type": ["null", "string"], "default": None}]),
        record(
            [
                *base,
                {"name": "x", "type": ["null", "string"], "default": None},
                {"name": "y", "type": "long", "default": 0},
            ]
        ),
        record([NAME, {"name": "n", "type": "string", "default": ""}, {"name": "y", "type": "long", "default": 0}]),
    ]
    schemas = [parse_schema(v, "v.avsc", memo) for v in history]
    assert all(s.layout is not None for s in schemas[1:])
    checker = CompatibilityChecker()
    for i in range(1, 3):
        assert checker.check(schemas[i], schemas[:i], Compatibility.FULL_TRANSITIVE).compatible
    found = checker.check(schemas[3], schemas[:3], Compatibility.FULL_TRANSITIVE, subject="s")
    want = check_compatibility(
        parse_schema(history[3]), [parse_schema(v) for v in history[:3]], Compatibility.FULL_TRANSITIVE, subject="s"
    )
    assert want.incompatibilities  # n: int -> string breaks both ways
    assert found.incompatibilities == want.incompatibilities


@pytest.mark.parametrize("mode", [Compatibility.BACKWARD, Compatibility.FORWARD, Compatibility.FULL_TRANSITIVE])
def test_should_stop_at_a_recursive_record_where_the_reference_walk_stops(mode: Compatibility) -> None:
    # A field typed by its own record: the walk into it meets the pair of records already in progress.
    own = {"name": "b", "type": "Thing", "order": "ascending"}
    history = [record([own]), record([own, {"name": "a", "type": "int"}])]
    memo = ParseMemo()
    schemas = [parse_schema(copy.deepcopy(v), "v.avsc", memo) for v in history]
    whole = [parse_schema(copy.deepcopy(v)) for v in history]
    got = CompatibilityChecker().check(schemas[1], schemas[:1], mode, subject="s")
    want = check_compatibility(whole[1], whole[:1], mode, subject="s")
    assert got.incompatibilities == want.incompatibilities
    assert [i.location for i in want.incompatibilities] == (["/fields/1"] if mode.backward else [])
