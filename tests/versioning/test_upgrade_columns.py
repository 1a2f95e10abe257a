"""Columns: validation by Arrow types and null counts; upgrades as Arrow operations with Subject.convert's results."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from versioning.registry import VERSION_FIELD, Registry, Subject
from versioning.upgrade import ColumnUpgrader
from versioning.validation import ColumnValidator, InvalidColumnsError

USERS = Registry.load("schemas").subject("users")


def _users_v1(rows: int) -> pa.Table:
    return pa.table(
        {
            "id": [f"u{i}" for i in range(rows)],
            "name": [f"n{i}" for i in range(rows)],
            "created_at": ["2024-01-01"] * rows,
        }
    )


def test_should_upgrade_users_columns_as_convert_upgrades_their_rows() -> None:
    table = _users_v1(5)
    out = ColumnUpgrader(USERS, 1, 3).upgrade(table)
    expected = [{k: v for k, v in USERS.convert(r, 3, 1).items() if k != VERSION_FIELD} for r in table.to_pylist()]
    assert out.to_pylist() == expected
    assert out.schema.names == USERS.schemas[3].field_names


def test_should_copy_columns_without_copying_their_data() -> None:
    table = _users_v1(3)
    out = ColumnUpgrader(USERS, 1, 3).upgrade(table)
    source = table.column("created_at").chunk(0).buffers()[2]
    assert out.column("updated_at").chunk(0).buffers()[2].address == source.address


def test_should_upgrade_record_batches_too() -> None:
    batch = _users_v1(4).to_batches()[0]
    out = ColumnUpgrader(USERS, 1, 2).upgrade(batch)
    assert isinstance(out, pa.RecordBatch)
    assert out.column("updated_at").to_pylist() == ["2024-01-01"] * 4


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            pa.table({"id": ["a"], "name": ["b"]}),
            ["created_at: missing column (the field has no default); add it"],
        ),
        (
            pa.table({"id": [1], "name": ["b"], "created_at": ["c"]}),
            ["id: is int64 but schemas/users/v1.avsc says string; cast the column"],
        ),
        (
            pa.table({"id": ["a", None, None], "name": ["b"] * 3, "created_at": ["c"] * 3}),
            ["id: null where the schema allows none; fill it or make the field nullable (rows 1, 2)"],
        ),
        (
            pa.table({"id": ["a"], "name": ["b"], "created_at": ["c"], "fax": ["d"]}),
            ["fax: unexpected column (not in schemas/users/v1.avsc); drop it"],
        ),
    ],
)
def test_should_name_every_column_problem(table: pa.Table, expected: list[str]) -> None:
    assert [str(e) for e in ColumnValidator(USERS.schemas[1]).errors(table)] == expected


def test_should_refuse_to_upgrade_invalid_columns_naming_the_version() -> None:
    with pytest.raises(InvalidColumnsError, match=r"(?s)v1 of .users.*created_at: missing column"):
        ColumnUpgrader(USERS, 1, 3).upgrade(pa.table({"id": ["a"], "name": ["b"]}))


def test_should_allow_a_schema_version_column_and_drop_it() -> None:
    table = _users_v1(2).append_column(VERSION_FIELD, pa.array([1, 1]))
    assert ColumnValidator(USERS.schemas[1]).errors(table) == []
    assert VERSION_FIELD not in ColumnUpgrader(USERS, 1, 3).upgrade(table).schema.names


ARROW = {"int": pa.int32(), "long": pa.int64(), "float": pa.float32(), "double": pa.float64(), "string": pa.string()}
VALUES = {
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**53), 2**53),
    "float": st.integers(-1000, 1000).map(float),
    "double": st.floats(allow_nan=False),
    "string": st.text(max_size=3),
}
PROMOTIONS = {"int": ["long", "double"], "long": ["double"]}
CALL_MODULE = "def tag(record):\n    return {**record, 'tag': 'called'}\n"


@st.composite
def subjects(draw: st.DrawFn) -> dict[str, Any]:
    kinds = draw(st.lists(st.sampled_from(sorted(ARROW)), min_size=1, max_size=4))
    v1 = [{"name": f"f{i}", "type": k} for i, k in enumerate(kinds)]
    v2 = [dict(f) for f in v1]
    ops: list[Any] = []
    for f in v1:
        action = draw(st.sampled_from(["keep", "remove", "rename", "copy", "promote"]))
        if action == "remove":
            v2 = [g for g in v2 if g["name"] != f["name"]]
        elif action == "rename":
            v2 = [{**g, "name": g["name"] + "r", "aliases": [g["name"]]} if g["name"] == f["name"] else g for g in v2]
            ops.append({"rename": {"from": f["name"], "to": f["name"] + "r"}})
        elif action == "copy":
            v2.append({"name": f["name"] + "c", "type": ["null", f["type"]], "default": None})
            ops.append({"copy": {"field": f["name"] + "c", "from": f["name"]}})
        elif action == "promote" and f["type"] in PROMOTIONS:
            to = draw(st.sampled_from(PROMOTIONS[f["type"]]))
            v2 = [{**g, "type": to} if g["name"] == f["name"] else g for g in v2]
            ops.append({"promote": {"field": f["name"], "to": to}})
    v2.append({"name": "added", "type": ["null", "string"], "default": None})
    v2.append({"name": "given", "type": "long", "default": 7})
    versions, steps = [v1, v2], [{"from": 1, "to": 2, "upgrade": ops}]
    if draw(st.booleans()):
        versions.append([*v2, {"name": "tag", "type": "string", "default": ""}])
        steps.append({"from": 2, "to": 3, "upgrade": [{"call": {"upgrade": "steps:tag"}}]})
    return {"versions": versions, "steps": steps}


def _load(files: dict[str, Any], root: Path) -> Subject:
    folder = root / "thing"
    folder.mkdir()
    for n, fields in enumerate(files["versions"], 1):
        (folder / f"v{n}.avsc").write_text(json.dumps({"type": "record", "name": "Thing", "fields": fields}))
    (folder / "subject.yaml").write_text(yaml.safe_dump({"compatibility": "NONE", "steps": files["steps"]}))
    (folder / "steps.py").write_text(CALL_MODULE)
    return Registry.load(root).subject("thing")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_should_give_the_rows_subject_convert_gives(data: st.DataObject) -> None:
    files = data.draw(subjects())
    with tempfile.TemporaryDirectory() as root:
        subject = _load(files, Path(root))
        v1 = files["versions"][0]
        rows = data.draw(st.lists(st.fixed_dictionaries({f["name"]: VALUES[f["type"]] for f in v1}), max_size=6))
        table = pa.Table.from_pylist(rows, schema=ColumnValidator(subject.schemas[1]).arrow)
        out = ColumnUpgrader(subject, 1, subject.latest).upgrade(table)
        expected = [
            {k: v for k, v in subject.convert(r, subject.latest, 1).items() if k != VERSION_FIELD} for r in rows
        ]
        assert out.to_pylist() == expected


def _vouching_subject(root: Path, call: bool = False) -> Subject:
    """v1 -> v2 under NONE: the uuid and one enum pass through unchanged, one enum loses a symbol, one is copied."""
    level = {"type": "enum", "name": "Level", "symbols": ["low", "mid", "high"]}
    code = {"type": "enum", "name": "Code", "symbols": ["a", "b"]}
    uuid = {"type": "string", "logicalType": "uuid"}
    v1 = [{"name": "id", "type": uuid}, {"name": "level", "type": level}, {"name": "code", "type": code}]
    v2 = [
        {"name": "id", "type": uuid, "doc": "docs do not change what a field takes"},
        {"name": "level", "type": {**level, "symbols": ["low", "high"]}},
        {"name": "code", "type": code},
        {"name": "code_copy", "type": ["null", "Code"], "default": None},
    ]
    ops: list[Any] = [{"copy": {"field": "code_copy", "from": "code"}}]
    if call:
        ops = [{"call": {"upgrade": "steps:tag"}}]
    files = {"versions": [v1, v2], "steps": [{"from": 1, "to": 2, "upgrade": ops}]}
    return _load(files, root)


def test_should_not_check_again_the_values_of_columns_passed_on_under_the_same_rules(tmp_path: Path) -> None:
    upgrader = ColumnUpgrader(_vouching_subject(tmp_path), 1, 2)
    # level: its v2 enum lost a symbol, so its values are checked again; code_copy is nullable, another rule.
    assert upgrader.vouched == {"id", "code"}
    table = pa.table(
        {
            "id": ["123e4567-e89b-12d3-a456-426614174000"] * 3,
            "level": ["low", "mid", "high"],
            "code": ["a", "b", "a"],
        }
    )
    with pytest.raises(InvalidColumnsError) as caught:
        upgrader.upgrade(table)
    assert caught.value.version == 2
    assert [str(e) for e in caught.value.errors] == [
        "level: 1 values not among the enum's symbols (low, high), e.g. 'mid'; fix the values (rows 1)"
    ]
    out = upgrader.upgrade(table.set_column(1, "level", pa.array(["low", "high", "high"])))
    assert out.column("code_copy").to_pylist() == ["a", "b", "a"]


def test_should_check_every_column_after_a_call_step(tmp_path: Path) -> None:
    assert ColumnUpgrader(_vouching_subject(tmp_path, call=True), 1, 2).vouched == frozenset()
