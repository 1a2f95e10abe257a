"""The compatibility contract, run against both implementations: the reference walk and the caching checker.

1. Both give the same incompatibilities, in the same order, for every mode.
2. For a reader and a writer, "compatible" is what the Apache Avro project's own checker says (ground truth we
   did not write), over generated records with named types in namespaces, aliases, unions, enums, fixed,
   decimals, arrays and maps.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import avro.compatibility
import avro.schema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from versioning.compatibility import (
    Compatibility,
    CompatibilityChecker,
    CompatibilityResult,
    IncompatibilityKind,
    check_compatibility,
)
from versioning.schema import Schema, parse_schema

Check = Callable[[Schema, list[Schema], Compatibility], CompatibilityResult]
IMPLEMENTATIONS: dict[str, Callable[[], Check]] = {
    "reference": lambda: lambda new, old, mode: check_compatibility(new, old, mode, subject="s"),
    "cached": lambda: lambda new, old, mode: CompatibilityChecker().check(new, old, mode, subject="s"),
}

FIELD_TYPES: list[Any] = [
    "int",
    "long",
    "float",
    "double",
    "string",
    "bytes",
    ["null", "string"],
    ["null", "long", "string"],
    {"type": "array", "items": "int"},
    {"type": "array", "items": "double"},
    {"type": "map", "values": "string"},
    {"type": "map", "values": "bytes"},
    {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN"]},
    {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN", "BLUE"], "default": "RED"},
    {"type": "enum", "name": "Shade", "namespace": "paint", "aliases": ["Colour"], "symbols": ["RED", "GREEN"]},
    {"type": "enum", "name": "Shade", "namespace": "paint", "aliases": ["ns.Colour"], "symbols": ["RED", "GREEN"]},
    {"type": "fixed", "name": "Hash", "size": 4},
    {"type": "fixed", "name": "Hash", "size": 8},
    {"type": "record", "name": "Point", "fields": [{"name": "x", "type": "int"}]},
    {"type": "record", "name": "Point", "fields": [{"name": "x", "type": "long"}, {"name": "y", "type": "int"}]},
    {
        "type": "record",
        "name": "Spot",
        "namespace": "geo",
        "aliases": ["Point"],
        "fields": [{"name": "x", "type": "int"}],
    },
    {"type": "bytes", "logicalType": "decimal", "precision": 5, "scale": 2},
    {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2},
    {"type": "int", "logicalType": "date"},
]
DEFAULTS = {"int": 0, "long": 0, "double": 0.0, "string": "", "bytes": ""}


@st.composite
def record_versions(draw: st.DrawFn) -> dict[str, Any]:
    """A record schema in namespace ``ns`` with fields drawn from a pool (types and names repeat across drawings)."""
    fields = []
    for name in draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4, unique=True)):
        kind = draw(st.sampled_from(FIELD_TYPES))
        field: dict[str, Any] = {"name": name, "type": kind}
        if draw(st.booleans()):
            if isinstance(kind, list):
                field["default"] = None
            elif isinstance(kind, str) and kind in DEFAULTS:
                field["default"] = DEFAULTS[kind]
        if draw(st.integers(0, 4)) == 0:
            field["aliases"] = [draw(st.sampled_from(["a", "b", "old"]))]
        fields.append(field)
    named = [f["type"]["name"] for f in fields if isinstance(f["type"], dict) and "name" in f["type"]]
    if len(named) != len(set(named)):  # a name is defined once per schema
        seen: set[str] = set()
        for f in fields:
            if isinstance(f["type"], dict) and "name" in f["type"]:
                if f["type"]["name"] in seen:
                    f["type"] = "string"
                seen.add(f["type"]["name"] if isinstance(f["type"], dict) else "")
    return {"type": "record", "name": "Thing", "namespace": "ns", "fields": fields}


def apache_says_compatible(reader: dict[str, Any], writer: dict[str, Any]) -> bool:
    checker = avro.compatibility.ReaderWriterCompatibilityChecker()
    found = checker.get_compatibility(avro.schema.parse(json.dumps(reader)), avro.schema.parse(json.dumps(writer)))
    return found.compatibility is avro.compatibility.SchemaCompatibilityType.compatible


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reader=record_versions(), writer=record_versions())
def test_should_call_compatible_what_apache_avro_calls_compatible(
    implementation: str, reader: dict[str, Any], writer: dict[str, Any]
) -> None:
    check = IMPLEMENTATIONS[implementation]()
    ours = check(parse_schema(reader), [parse_schema(writer)], Compatibility.BACKWARD)
    # The Avro specification matches decimals only with the same precision and scale; the Apache checker does
    # not look at logical types, so that one rule is left out of the comparison.
    others = [i for i in ours.incompatibilities if i.kind is not IncompatibilityKind.DECIMAL_MISMATCH]
    assert (not others) is apache_says_compatible(reader, writer)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=st.lists(record_versions(), min_size=2, max_size=5), mode=st.sampled_from(list(Compatibility)))
def test_should_find_every_incompatibility_the_reference_finds(
    implementation: str, history: list[dict[str, Any]], mode: Compatibility
) -> None:
    *previous, new = [parse_schema(v) for v in history]
    expected = check_compatibility(new, previous, mode, subject="s")
    assert IMPLEMENTATIONS[implementation]()(new, previous, mode) == expected
