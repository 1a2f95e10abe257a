"""Reading a subject's version files by their fields' text (``ParseMemo.known_text``) gives the answers of reading
each file whole.

The reference is the registry's reading of a version file without a memo: ``json.loads`` of the whole text, the
whole structural walk, the ``avro`` package's parse, and a problem (bad JSON with its line and column included)
named exactly so. With a memo, a field whose exact text was seen before in the same record part is not read
again, and runs of the last version's text are matched where they stand: the schema's JSON, its parsed form,
every problem and the compatibility verdicts must still be the whole read's, whatever the layout of the text.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_schema_memo import CASES, growing_histories, histories, record

from versioning.compatibility import Compatibility, CompatibilityChecker, check_compatibility
from versioning.errors import SchemaError
from versioning.registry import _schema_from_bytes
from versioning.schema import ParseMemo, Schema


def read(text: str, memo: ParseMemo | None) -> Schema | list[str]:
    """A version file's text read as the registry reads it: the schema, or its problems as text."""
    try:
        return _schema_from_bytes(text.encode("utf-8"), "v.avsc", memo)
    except SchemaError as err:
        return [str(p) for p in err.problems]


def same(found: Schema | list[str], expected: Schema | list[str], text: str) -> None:
    if isinstance(expected, Schema):
        assert isinstance(found, Schema), found
        assert found.json == expected.json == json.loads(text)
        assert found.field_names == expected.field_names
        assert found.fields == expected.fields
        assert found.parsed.to_json() == expected.parsed.to_json()
    else:
        assert found == expected


# Ways a schema is written: the JSON is the same, the text is not (runs of the last version's text then stop
# where the layout changes, and fields written otherwise are new texts).
LAYOUTS = {
    "indent 2": lambda v: json.dumps(v, indent=2) + "\n",
    "one line": lambda v: json.dumps(v),
    "compact": lambda v: json.dumps(v, separators=(",", ":")),
    "indent 4, CRLF, tabs": lambda v: json.dumps(v, indent=4).replace("\n", "\r\n\t") + "\r\n",
    "fields first": lambda v: json.dumps({"fields": v.get("fields"), **v}, indent=1),
    "not ASCII": lambda v: json.dumps({**v, "doc": "héllo ✓ 😀"}, indent=2, ensure_ascii=False),
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories(), layouts=st.lists(st.sampled_from(sorted(LAYOUTS)), min_size=6, max_size=6))
def test_should_read_every_version_as_the_whole_read_whatever_its_text(
    history: list[dict[str, Any]], layouts: list[str]
) -> None:
    memo = ParseMemo()
    for version, layout in zip(history, layouts, strict=False):
        text = LAYOUTS[layout](version)
        same(read(text, memo), read(text, None), text)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize(
    "mode", [Compatibility.BACKWARD, Compatibility.FORWARD_TRANSITIVE, Compatibility.FULL_TRANSITIVE]
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=growing_histories())
def test_should_give_a_growing_subject_read_from_text_the_reference_verdicts(
    layout: str, mode: Compatibility, history: list[dict[str, Any]]
) -> None:
    texts = [LAYOUTS[layout](v) for v in history]
    memo = ParseMemo()
    schemas = [read(t, memo) for t in texts]
    whole = [read(t, None) for t in texts]
    assert all(isinstance(s, Schema) for s in schemas + whole)
    assert all(s.layout is not None for s in schemas[1:])  # type: ignore[union-attr]  # proven from their text
    checker = CompatibilityChecker()
    for i in range(1, len(texts)):
        got = checker.check(schemas[i], schemas[:i], mode, subject="s")  # type: ignore[arg-type]
        want = check_compatibility(whole[i], whole[:i], mode, subject="s")  # type: ignore[arg-type]
        assert got.incompatibilities == want.incompatibilities, f"v{i + 1}"


ENUM_E = {"name": "kind", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}}
ENUM_E_IN_B = {"name": "other", "type": {"type": "enum", "name": "E", "namespace": "b", "symbols": ["A"]}}
ID = {"name": "id", "type": "string"}
# Texts seen in one record part mean something else in another: each part keeps its own.
TEXT_CASES = [
    *CASES,
    (
        "texts first seen in another namespace, where the enums they define now clash",
        [record([ID, ENUM_E, ENUM_E_IN_B], namespace="a"), record([ID], namespace="b")],
        record([ID, ENUM_E, ENUM_E_IN_B], namespace="b"),
    ),
    (
        "texts first seen in another namespace, sound there and here",
        [record([ID, ENUM_E], namespace="a"), record([ID], namespace="b")],
        record([ID, ENUM_E], namespace="b"),
    ),
]


@pytest.mark.parametrize(("what", "earlier", "version"), TEXT_CASES, ids=[c[0] for c in TEXT_CASES])
@pytest.mark.parametrize("layout", ["indent 2", "compact"])
def test_should_answer_as_the_whole_read_when_a_file_reuses_known_texts(
    what: str, earlier: list[dict[str, Any]], version: dict[str, Any], layout: str
) -> None:
    memo = ParseMemo()
    for schema in earlier:
        read(LAYOUTS[layout](schema), memo)
    text = LAYOUTS[layout](version)
    same(read(text, memo), read(text, None), text)


NAME = '{"name": "id", "type": "string"}'
N_ZERO = '{"name": "n", "type": "int", "default": 0}'
V1 = f'{{"type": "record", "name": "T", "namespace": "ns", "fields": [{NAME}, {N_ZERO}]}}'

# (what, the version file read after V1): texts around fields seen before that the whole read refuses or reads
# otherwise than a too-loose match would.
TEXTS = [
    (
        "a known field followed by more of an object",
        f'{{"type": "record", "name": "T", "namespace": "ns", "fields": [{NAME}}}, {N_ZERO}]}}',
    ),
    (
        "a missing comma between known fields",
        f'{{"type": "record", "name": "T", "namespace": "ns", "fields": [{NAME} {N_ZERO}]}}',
    ),
    (
        "a comma after the last field",
        f'{{"type": "record", "name": "T", "namespace": "ns", "fields": [{NAME}, {N_ZERO},]}}',
    ),
    ("text after the schema", V1 + " {}"),
    (
        "a second fields list (the last one counts)",
        V1[:-1] + ', "fields": [{"name": "n", "type": "int", "default": false}]}',
    ),
    ("a second name (the last one counts)", V1[:-1] + ', "name": "Other"}'),
    ("the known field's default 0 now false", V1.replace('"default": 0', '"default": false')),
    ("the known field's default 0 now 0.0", V1.replace('"default": 0', '"default": 0.0')),
    ("a known field twice", V1.replace(f"{N_ZERO}]", f"{N_ZERO}, {N_ZERO}]")),
    ("known fields in another namespace", V1.replace('"ns"', '"other"')),
    ("known fields, an escaped name", V1.replace('"name": "n"', '"name": "\\u006e"')),
    ("a byte order mark", "\ufeff" + V1),
    ("no fields key", '{"type": "record", "name": "T", "namespace": "ns"}'),
    ("fields not a list", '{"type": "record", "name": "T", "namespace": "ns", "fields": {}}'),
    ("an empty fields list", '{"type": "record", "name": "T", "namespace": "ns", "fields": []}'),
    (
        "a known field inside a nested record",
        V1.replace(N_ZERO, f'{{"name": "r", "type": {{"type": "record", "name": "R", "fields": [{N_ZERO}]}}}}'),
    ),
    (
        "the first two known fields dropped, the rest read",
        V1.replace(f"{NAME}, {N_ZERO}", '{"name": "z", "type": "long"}'),
    ),
    ("cut short inside a known field", V1[: V1.index(N_ZERO) + 10]),
]


@pytest.mark.parametrize(("what", "text"), TEXTS, ids=[t[0] for t in TEXTS])
def test_should_read_a_text_around_known_fields_as_the_whole_read(what: str, text: str) -> None:
    memo = ParseMemo()
    first = read(V1, memo)
    assert isinstance(first, Schema)
    assert isinstance(read(V1, memo), Schema) and read(V1, memo).layout is not None  # type: ignore[union-attr]
    same(read(text, memo), read(text, None), text)


def test_should_read_a_proven_versions_json_from_its_text_when_asked() -> None:
    memo = ParseMemo()
    read(V1, memo)
    text = V1.replace(f"{N_ZERO}]", f'{N_ZERO}, {{"name": "new", "type": ["null", "long"], "default": null}}]')
    found = read(text, memo)
    assert isinstance(found, Schema) and found.layout is not None
    assert found._text == text and found._json is None  # nothing read but the new field
    assert found.field_names == ["id", "n", "new"]
    assert found.json == json.loads(text)
    found.json["doc"] = "changed"  # a version's JSON is its own
    assert read(text, memo).json == json.loads(text)


def test_should_match_runs_of_the_last_versions_text() -> None:
    # Versions that drop a field from the middle and add one at the end (as a subject grows): found by runs.
    fields = [{"name": f"f{i}", "type": ["null", "long"], "default": None} for i in range(40)]
    memo = ParseMemo()
    versions = []
    for v in range(6):
        current = [*fields[v : v + 20], fields[39 - v]]
        versions.append(json.dumps(record(current), indent=2))
    read_fields = 0
    for text in versions:
        scanned = memo._scan(text)
        assert scanned is not None
        read_fields += len(scanned.values)
        assert read(text, memo) != []
        same(read(text, memo), read(text, None), text)
    assert read_fields <= 21 + 5 * 2  # the first version whole, then only what changed (or moved) is read


# Record parts a first version may have: a part not seen yet is checked on its own (as a record with no fields)
# before its fields are proven one by one, so every way of being wrong in the part must still be the whole read's.
PARTS: list[dict[str, Any]] = [
    {"type": "record", "name": "Thing", "namespace": "ns"},
    {"type": "record", "name": "Thing"},
    {"type": "record", "name": "a.b.Thing", "namespace": "ignored"},
    {"type": "record", "name": "Thing", "namespace": None},
    {"type": "record", "name": "Thing", "aliases": ["Old", "x.Older"]},
    {"type": "record", "name": "Thing", "aliases": ["1bad"]},
    {"type": "record", "name": "Thing", "aliases": "Old"},
    {"type": "record", "name": "1bad"},
    {"type": "record", "name": ""},
    {"type": "record", "name": 5},
    {"type": "record"},
    {"type": "record", "name": "Thing", "namespace": "1bad"},
    {"type": "record", "name": "string"},
    {"type": "record", "name": "Thing", "namespace": "ns", "doc": 5},
    {"type": "record", "name": "Thing", "custom": json.loads("[" * 120 + "]" * 120)},
    {"type": "error", "name": "Thing"},
    {"type": "enum", "name": "Thing", "symbols": ["A"]},
    {"type": "record", "name": "E", "namespace": "ns"},
]
PART_FIELDS: list[Any] = [
    ID,
    ENUM_E,
    {"name": "self", "type": ["null", "Thing"], "default": None},
    {"name": "self2", "type": ["null", "ns.Thing"], "default": None},
    {"name": "n", "type": "int", "default": 0},
    {"name": "n", "type": "long"},
    {"name": "bad", "type": "nope"},
    "not a field",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    part=st.sampled_from(PARTS),
    fields=st.lists(st.sampled_from(PART_FIELDS), max_size=4),
    layout=st.sampled_from(sorted(LAYOUTS)),
)
def test_should_read_a_first_version_by_its_parts_as_the_whole_read(
    part: dict[str, Any], fields: list[Any], layout: str
) -> None:
    text = LAYOUTS[layout]({**part, "fields": fields})
    memo = ParseMemo()
    same(read(text, memo), read(text, None), text)
    same(read(text, memo), read(text, None), text)  # and again, the memo knowing it


@pytest.mark.parametrize("part", PARTS, ids=[json.dumps(p)[:60] for p in PARTS])
def test_should_read_each_record_part_with_sound_fields_as_the_whole_read(part: dict[str, Any]) -> None:
    text = json.dumps({**part, "fields": [ID, ENUM_E]}, indent=2)
    memo = ParseMemo()
    same(read(text, memo), read(text, None), text)
