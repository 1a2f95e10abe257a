"""The remembering compatibility checker finds exactly what the reference check finds, in the same order."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from versioning.compatibility import Compatibility, check_compatibility
from versioning.compatibility.cached import CompatibilityChecker
from versioning.schema import Schema, parse_schema

TYPES: list[Any] = [
    "int",
    "long",
    "double",
    "string",
    "bytes",
    ["null", "string"],
    ["null", "long"],
    {"type": "array", "items": "int"},
    {"type": "array", "items": "long"},
    {"type": "map", "values": "string"},
    {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN"]},
    {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN", "BLUE"]},
    {"type": "enum", "name": "Colour", "symbols": ["RED"], "default": "RED"},
    {"type": "fixed", "name": "Hash", "size": 4},
    {"type": "fixed", "name": "Hash", "size": 8},
    {"type": "record", "name": "Point", "fields": [{"name": "x", "type": "int"}]},
    {"type": "record", "name": "Point", "fields": [{"name": "x", "type": "long"}, {"name": "y", "type": "int"}]},
    {"type": "bytes", "logicalType": "decimal", "precision": 5, "scale": 2},
    {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2},
]
DEFAULTS = {"int": 0, "long": 0, "double": 0.0, "string": "", "bytes": ""}


@st.composite
def versions(draw: st.DrawFn) -> list[Schema]:
    """Versions of one record subject, drawn from a small pool so fields and types repeat, as in real history."""
    out = []
    for _ in range(draw(st.integers(1, 6))):
        fields = []
        used_named: set[str] = set()
        for name in draw(st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=1, max_size=5, unique=True)):
            kind = draw(st.sampled_from(TYPES))
            if isinstance(kind, dict) and "name" in kind:
                # A named type is defined once per schema; later fields refer to it by name.
                kind = kind["name"] if kind["name"] in used_named else kind
                used_named.add(kind if isinstance(kind, str) else kind["name"])
            field: dict[str, Any] = {"name": name, "type": kind}
            if draw(st.booleans()):
                if isinstance(kind, list):
                    field["default"] = None
                elif isinstance(kind, str) and kind in DEFAULTS:
                    field["default"] = DEFAULTS[kind]
            if draw(st.integers(0, 5)) == 0:
                field["aliases"] = [draw(st.sampled_from(["a", "b", "c", "old"]))]
            fields.append(field)
        record_name = draw(st.sampled_from(["Thing", "Thing", "Other"]))
        out.append(parse_schema({"type": "record", "name": record_name, "aliases": ["Old"], "fields": fields}))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(versions(), st.sampled_from(list(Compatibility)))
def test_should_find_what_the_reference_finds(history: list[Schema], mode: Compatibility) -> None:
    *previous, new = history
    checker = CompatibilityChecker()
    expected = check_compatibility(new, previous, mode, subject="s")
    assert checker.check(new, previous, mode, subject="s") == expected
    assert checker.check(new, previous, mode, subject="s") == expected  # and again, from what it remembers


def test_should_check_a_long_wide_history_from_what_it_remembers() -> None:
    def version(k: int) -> Schema:
        fields = [{"name": f"f{i}", "type": ["null", TYPES[i % 5]], "default": None} for i in range(50)]
        fields.append({"name": f"extra{k}", "type": ["null", "long"], "default": None})
        return parse_schema({"type": "record", "name": "Wide", "fields": fields})

    history = [version(k) for k in range(30)]
    broken = parse_schema({**history[-1].json, "fields": [*history[-1].json["fields"], {"name": "x", "type": "int"}]})
    checker = CompatibilityChecker()
    for candidate in (history[-1], broken):
        expected = check_compatibility(candidate, history[:-1], Compatibility.FULL_TRANSITIVE)
        assert checker.check(candidate, history[:-1], Compatibility.FULL_TRANSITIVE) == expected
    assert not expected.compatible
    assert {i.location for i in expected.incompatibilities} == {"/fields/51"}
