"""The cold load's shortcuts give the answers of the long ways, and hide no problem.

Three shortcuts, each checked against the way it replaces:

- a step that declares nothing, between two versions proven by their parts, is built from the versions' name
  sets (``operations._plain_step``): the general ``build_step`` on the same versions parsed whole (no layout,
  so the general path runs) must give the same implied fills and drops and the same problems, in order;
  and a registry whose such step adds a field without a default must still be refused by ``check``, cold;
- an ordinary YAML document's limits are checked by one plain walk (``input_limits.within_limits``): its answer
  must be the exact walks' for trees, shared objects, cycles, alias bombs, deep nesting and the limits' edges;
- a version file that starts with the last version's text up to its fields is read from there: what the scan
  reads (the record's part) and what the registry makes of the file must be the whole read's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from versioning.errors import RegistryError, SchemaError
from versioning.input_limits import (
    MAX_NESTING,
    MAX_NODES,
    QUICK_NODES,
    document_problem,
    nesting_problem,
    size_problem,
    within_limits,
)
from versioning.registry import Registry, _schema_from_bytes
from versioning.registry_cache import VerdictCache
from versioning.schema import ParseMemo, Schema, parse_schema
from versioning.upgrade.operations import build_step

ROOT = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------------------------------------------------------
# Steps that declare nothing


POOL = [
    {"name": "id", "type": "string"},
    {"name": "n", "type": "int", "default": 0},
    {"name": "note", "type": ["null", "string"], "default": None},
    {"name": "when", "type": "long"},
    {"name": "flag", "type": "boolean", "default": False},
    {"name": "tags", "type": {"type": "array", "items": "string"}, "default": []},
    {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
    {"name": "score", "type": "double"},
    {"name": "x1", "type": "long", "default": 1},
    {"name": "x2", "type": "string"},
    {"name": "x3", "type": "string", "default": ""},
    {"name": "x4", "type": "int"},
]


def record(fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "record", "name": "Thing", "namespace": "ns", "fields": fields}


def proven(versions: list[dict[str, Any]]) -> list[Schema]:
    """The versions read from their text as the registry reads a subject (one memo), each proven by its parts."""
    memo = ParseMemo()
    found = [
        _schema_from_bytes(json.dumps(v, indent=2).encode(), f"v{i + 1}.avsc", memo) for i, v in enumerate(versions)
    ]
    assert all(s.layout is not None for s in found)  # the shortcut's precondition: else this tests nothing
    return found


def whole(versions: list[dict[str, Any]]) -> list[Schema]:
    found = [parse_schema(json.loads(json.dumps(v)), f"v{i + 1}.avsc") for i, v in enumerate(versions)]
    assert all(s.layout is None for s in found)  # the general path
    return found


def step_answer(old: Schema, new: Schema) -> tuple[Any, ...]:
    step, problems = build_step(4, 5, [], old, new, "subject.yaml:steps[3].upgrade")
    return (step.operations, step.implied_adds, step.implied_removes, [str(p) for p in problems], step.up, step.down)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pair=st.tuples(
        st.lists(st.sampled_from(POOL), min_size=1, max_size=12, unique_by=lambda f: f["name"]),
        st.lists(st.sampled_from(POOL), min_size=1, max_size=12, unique_by=lambda f: f["name"]),
    )
)
def test_should_build_a_step_that_declares_nothing_as_the_general_path(
    pair: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    versions = [record(pair[0]), record(pair[1])]
    fast_old, fast_new = proven(versions)
    slow_old, slow_new = whole(versions)
    assert step_answer(fast_old, fast_new) == step_answer(slow_old, slow_new)


@pytest.mark.parametrize("added", [1, 3, 4, 5, 8], ids=lambda n: f"{n} added")
def test_should_report_every_added_field_without_a_default_in_schema_order(added: int) -> None:
    # A few added names are looked up one by one, many found in one pass: both must keep schema order.
    base = [{"name": f"keep{i}", "type": "long"} for i in range(6)]
    new_fields = [{"name": f"z{added - i}", "type": "string"} for i in range(added)]
    mixed = [base[0], *new_fields[: added // 2], *base[1:], *new_fields[added // 2 :]]
    versions = [record(base), record(mixed)]
    fast = step_answer(*proven(versions))
    assert fast == step_answer(*whole(versions))
    expected = [f["name"] for f in [*new_fields[: added // 2], *new_fields[added // 2 :]]]
    assert [p.split("adds field ")[1].split(" ")[0].strip("'") for p in fast[3]] == expected


def subject_folder(root: Path, versions: list[dict[str, Any]], steps: list[dict[str, Any]] | None = None) -> Path:
    folder = root / "things"
    folder.mkdir(parents=True)
    for i, version in enumerate(versions, 1):
        (folder / f"v{i}.avsc").write_text(json.dumps(version, indent=2) + "\n")
    document = {
        "compatibility": "NONE",
        "steps": steps or [{"from": v, "to": v + 1, "upgrade": []} for v in range(1, len(versions))],
    }
    (folder / "subject.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return root


NO_FILL = (
    "registry/things/subject.yaml:steps[1].upgrade: v3 adds field 'when' without a default and no operation "
    "fills it; add '- add: {field: when, value: ...}', '- copy: ...' or a default to the schema"
)


def test_should_refuse_a_step_that_leaves_a_new_field_unfilled_on_a_cold_load(tmp_path: Path) -> None:
    id_, note, when = POOL[0], POOL[2], POOL[3]
    versions = [record([id_]), record([id_, note]), record([id_, note, when])]
    root = subject_folder(tmp_path / "registry", versions)
    for attempt in ("cold", "again, the verdict cache in place"):
        with pytest.raises(RegistryError) as raised:
            Registry.load(root, verdicts=VerdictCache(tmp_path / "cache"))
        assert [str(p) for p in raised.value.problems] == [NO_FILL], attempt
    # As CI runs it: its own process, an empty verdict cache.
    done = subprocess.run(
        [sys.executable, "-m", "versioning", "check", "--registry", str(root)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "VERSIONING_CACHE_DIR": str(tmp_path / "cli-cache"), "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert NO_FILL.split(": ", 1)[1] in done.stdout + done.stderr
    # Filled by a declared add, the same registry is sound (the problem was the step's, nothing else).
    steps = [
        {"from": 1, "to": 2, "upgrade": []},
        {"from": 2, "to": 3, "upgrade": [{"add": {"field": "when", "value": 7}}]},
    ]
    fixed = subject_folder(tmp_path / "fixed", versions, steps)
    loaded = Registry.load(fixed, verdicts=VerdictCache(tmp_path / "cache"))
    assert loaded.subject("things").steps[2].upgrade({"id": "a", "note": None}) == {"id": "a", "note": None, "when": 7}


# ---------------------------------------------------------------------------------------------------------------
# A YAML document's limits


def exact(value: Any) -> str | None:
    return nesting_problem(value) or size_problem(value)


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def bomb(levels: int, width: int = 10) -> Any:
    text = "a0: &a0 [" + ", ".join(["x"] * width) + "]\n"
    for i in range(1, levels + 1):
        text += f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]\n"
    return yaml.load(text, Loader=yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader)


def cycle() -> Any:
    inner: list[Any] = [1]
    inner.append(inner)
    return {"a": inner}


def shared_wide(copies: int, width: int) -> Any:
    row = list(range(width))
    return [row] * copies  # one object reached many times: counted each time


DOCUMENTS: list[tuple[str, Any]] = [
    ("a scalar", "text"),
    ("nothing", None),
    ("empty mapping", {}),
    ("a registry's subject.yaml", yaml.safe_load((ROOT / "schemas" / "users" / "subject.yaml").read_text())),
    ("nested exactly to the limit", nested(MAX_NESTING)),
    ("one level past the limit", nested(MAX_NESTING + 1)),
    ("far too deep", nested(5000)),
    ("an alias bomb", bomb(8)),
    ("a small alias tree", bomb(2)),
    ("a cycle", cycle()),
    ("a wide tree beyond the plain walk's budget", [list(range(100)) for _ in range(QUICK_NODES // 100 + 5)]),
    ("shared rows just within the limit", shared_wide(MAX_NODES // 1001, 1000)),
    ("shared rows just past the limit", shared_wide(MAX_NODES // 1000 + 1, 1000)),
    ("too deep and too big: nesting named first", [nested(MAX_NESTING + 5), bomb(8)]),
    ("tuples count as lists", (1, (2, (3,)))),
]


@pytest.mark.parametrize(("what", "document"), DOCUMENTS, ids=[d[0] for d in DOCUMENTS])
def test_should_find_a_documents_limits_as_the_exact_walks(what: str, document: Any) -> None:
    assert document_problem(document) == exact(document)
    if within_limits(document):
        assert exact(document) is None  # the plain walk never passes what the exact walks refuse


def test_should_refuse_what_the_limits_exist_for() -> None:
    assert "nested more than 100 levels" in (document_problem(nested(MAX_NESTING + 1)) or "")
    assert document_problem(nested(MAX_NESTING)) is None
    assert "alias bomb" in (document_problem(bomb(8)) or "")
    assert "nested more than 100 levels" in (document_problem(cycle()) or "")  # a list inside itself
    assert "alias bomb" in (document_problem(shared_wide(MAX_NODES // 1000 + 1, 1000)) or "")


trees = st.recursive(
    st.none() | st.integers() | st.text(max_size=3),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=2), children, max_size=4),
    max_leaves=60,
)


@settings(max_examples=300, deadline=None)
@given(tree=trees, depth_limit=st.integers(0, 8), nodes=st.integers(1, 80))
def test_should_pass_a_tree_only_within_both_limits(tree: Any, depth_limit: int, nodes: int) -> None:
    # Small limits, so the trees drawn fall on both sides of each.
    from versioning.input_limits import expanded_size, nesting_depth

    fits = nesting_depth(tree, depth_limit) <= depth_limit and expanded_size(tree, nodes) <= nodes
    assert within_limits(tree, depth_limit, nodes) == fits


# ---------------------------------------------------------------------------------------------------------------
# Version files read from the last version's header on


FIELD_A = '{"name": "a", "type": "long"}'
FIELD_B = '{"name": "b", "type": ["null", "string"], "default": null}'
HEAD = '{"type": "record", "name": "T", "namespace": "ns", "fields": ['
V1 = HEAD + FIELD_A + "]}"

# (what, the file read after V1 and V2): each starts with V1's header text unless said otherwise.
AFTER_HEADER = [
    ("the same fields", V1),
    ("a field added", HEAD + FIELD_A + ", " + FIELD_B + "]}"),
    ("no fields", HEAD + "]}"),
    ("a key after the fields", HEAD + FIELD_A + '], "doc": "later"}'),
    ("aliases after the fields", HEAD + FIELD_A + '], "aliases": ["Old"]}'),
    ("the name again after the fields (the last counts)", HEAD + FIELD_A + '], "name": "U"}'),
    ("the namespace again after the fields", HEAD + FIELD_A + '], "namespace": "other"}'),
    ("a second fields list", HEAD + FIELD_A + '], "fields": []}'),
    ("cut short after the header", HEAD),
    ("not closed", HEAD + FIELD_A + "]"),
    ("whitespace after the bracket", HEAD + "\n   " + FIELD_A + "\n]}"),
    ("another name: a header of its own", V1.replace('"T"', '"T2"')),
    ("a longer name sharing the header's start", V1.replace('"T"', '"TT"')),
    ("another field type after the header", HEAD + '{"name": "a", "type": "string"}]}'),
    ("a field without a default the last had", HEAD + FIELD_B.replace(', "default": null', "") + "]}"),
]


def outcome(text: str, memo: ParseMemo | None) -> Schema | list[str]:
    try:
        return _schema_from_bytes(text.encode(), "v.avsc", memo)
    except SchemaError as err:
        return [str(p) for p in err.problems]


@pytest.mark.parametrize(("what", "text"), AFTER_HEADER, ids=[a[0] for a in AFTER_HEADER])
def test_should_read_a_file_sharing_the_last_header_as_the_whole_read(what: str, text: str) -> None:
    memo = ParseMemo()
    v2 = HEAD + FIELD_A + ", " + FIELD_B + '], "doc": "v2 has a key after its fields"}'
    for earlier in (V1, v2):
        assert isinstance(outcome(earlier, memo), Schema)
    resumed = text.startswith(memo._header[0]) if memo._header else False
    scanned = memo._scan(text) if not isinstance(outcome(text, None), list) else None
    if scanned is not None:
        # What the scan read of the record is what json.loads reads, whether or not it resumed at the fields.
        assert scanned.part == {k: v for k, v in json.loads(text).items() if k != "fields"}
    found, expected = outcome(text, memo), outcome(text, None)
    if isinstance(expected, Schema):
        assert isinstance(found, Schema)
        assert found.json == expected.json == json.loads(text)
        assert found.field_names == expected.field_names
        assert found.parsed.to_json() == expected.parsed.to_json()
        if found.layout is not None:  # proven by its parts: its record part is the one this text names
            assert found.layout.shell.record.fullname == expected.parsed.fullname  # type: ignore[attr-defined]
    else:
        assert found == expected
    assert resumed or what.startswith(("another name", "a longer name"))  # the cases mostly take the shortcut


def test_should_not_carry_keys_read_after_one_versions_fields_into_the_next() -> None:
    memo = ParseMemo()
    with_aliases = HEAD + FIELD_A + '], "aliases": ["Old"], "doc": "d"}'
    assert isinstance(outcome(V1, memo), Schema)
    assert isinstance(outcome(with_aliases, memo), Schema)  # read from V1's header on
    scanned = memo._scan(V1)  # and V1 again from the same header
    assert scanned is not None and scanned.part == {"type": "record", "name": "T", "namespace": "ns"}
    found = outcome(V1, memo)
    assert isinstance(found, Schema) and found.layout is not None
    assert found.layout.shell.record.props.get("aliases") is None
    assert found.parsed.to_json() == parse_schema(json.loads(V1)).parsed.to_json()
