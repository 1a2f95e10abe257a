"""Loading a registry folder: the project's own subjects, and every kind of problem, all reported at once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from registry_factory import field, optional, record, write_subject

from versioning import (
    Compatibility,
    IncompatibleSchemaError,
    Registry,
    RegistryError,
    UnknownSubjectError,
    UnknownVersionError,
)


def problems_of(root: Path) -> list[str]:
    with pytest.raises(RegistryError) as caught:
        Registry.load(root)
    return [str(p) for p in caught.value.problems]


def test_should_load_the_projects_users_subject(users_registry_dir: Path) -> None:
    users = Registry.load(users_registry_dir).subject("users")
    assert users.versions == [1, 2, 3]
    assert users.compatibility is Compatibility.BACKWARD
    assert users.table == "users"
    assert users.schemas[1].field_names == ["id", "name", "created_at"]
    assert users.schemas[2].field_names[-2:] == ["email", "updated_at"]
    assert users.schemas[3].field_names[-1] == "phone"


def test_should_report_every_problem_with_file_and_location(tmp_path: Path) -> None:
    write_subject(tmp_path, "broken_json", ['{"type": "record", "name": "X", "fields": [}'])
    write_subject(tmp_path, "bad_default", [record(field("n", "int", default="seven"))])
    write_subject(tmp_path, "gap", [record(field("a", "int"))])
    (tmp_path / "gap" / "v3.avsc").write_text('{"type": "record", "name": "Thing", "fields": []}')
    found = [p.removeprefix(f"{tmp_path.name}/") for p in problems_of(tmp_path)]
    assert "bad_default/v1.avsc#/fields/0/default: field 'n': default \"seven\" is not a 32-bit integer (int)" in found
    assert any(p.startswith("broken_json/v1.avsc: not valid JSON at line 1, column") for p in found)
    assert "gap/v2.avsc: missing: version numbers must have no gaps" in found
    assert len(found) >= 3


def test_should_report_a_missing_step(tmp_path: Path) -> None:
    write_subject(tmp_path, "s", [record(field("a", "int")), record(field("a", "int"), optional("b"))], steps=[])
    (problem,) = problems_of(tmp_path)
    assert (
        problem.removeprefix(f"{tmp_path.name}/")
        == "s/subject.yaml:steps: no step from v1 to v2; add '- {from: 1, to: 2, upgrade: []}'"
    )


def test_should_report_a_new_field_that_nothing_fills(tmp_path: Path) -> None:
    write_subject(tmp_path, "s", [record(field("a", "int")), record(field("a", "int"), field("b", "string"))])
    found = problems_of(tmp_path)
    assert any("v2 adds field 'b' without a default and no operation fills it" in p for p in found)


def test_should_report_a_chain_that_breaks_the_subjects_mode(tmp_path: Path) -> None:
    # The step can fill b (it gives a value), but v2 cannot read v1 data: b has no default.
    versions = [record(field("a", "int")), record(field("a", "int"), field("b", "int"))]
    steps = [{"from": 1, "to": 2, "upgrade": [{"add": {"field": "b", "value": 0}}]}]
    write_subject(tmp_path, "s", versions, steps=steps)
    assert problems_of(tmp_path) == [
        f"{tmp_path.name}/s/v2.avsc: breaks BACKWARD: s v2 reading v1: READER_FIELD_MISSING_DEFAULT_VALUE at "
        "/fields/1: field 'b' is not written by the writer and has no default; give it a default "
        "(e.g. make it nullable with default null)"
    ]


@pytest.mark.parametrize(
    ("subject_yaml", "expected"),
    [
        ("compatibility: SIDEWAYS\n", "/s/subject.yaml:compatibility: unknown compatibility mode 'SIDEWAYS'"),
        ("table: 'drop table x'\n", "s/subject.yaml:table: 'drop table x' is not a plain SQL table name"),
        ("colour: blue\n", "s/subject.yaml:colour: unknown key"),
        (
            "steps: [{from: 1, to: 3}]\n",
            "s/subject.yaml:steps[0]: steps join consecutive versions; 1->3 skips a version",
        ),
        (
            "steps: [{from: 1, to: 2, upgrade: [{explode: x}]}]\n",
            "s/subject.yaml:steps[0].upgrade[0]: explode: unknown operation",
        ),
        (
            "steps: [{from: 1, to: 2, upgrade: [{copy: {field: b, from: zz}}]}]\n",
            "copy source 'zz' is not a field of v1",
        ),
        ("key: [unclosed\n", "s/subject.yaml:2: not valid YAML"),
        (
            "steps: [{from: 1, to: 2, upgrade: [{copy: {field: b, from: a}}]}]\n",
            "copy: 'b' in v2 cannot hold every value of 'a' (\"int\"); give 'b' the same type",
        ),
    ],
)
def test_should_explain_bad_subject_files(tmp_path: Path, subject_yaml: str, expected: str) -> None:
    write_subject(tmp_path, "s", [record(field("a", "int")), record(field("a", "int"), optional("b"))])
    (tmp_path / "s" / "subject.yaml").write_text(subject_yaml)
    found = problems_of(tmp_path)
    assert any(expected in p for p in found), found


def test_should_name_known_subjects_and_versions(users_registry_dir: Path) -> None:
    registry = Registry.load(users_registry_dir)
    with pytest.raises(UnknownSubjectError, match="unknown subject 'orders'; the registry holds: users"):
        registry.subject("orders")
    with pytest.raises(UnknownVersionError, match="subject 'users' has no version 9; known versions: 1, 2, 3"):
        registry.subject("users").schema(9)


def test_should_refuse_a_missing_registry_folder(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "nowhere") == [
        f"{tmp_path / 'nowhere'}: no such registry folder; pass --registry DIR"
    ]


@pytest.mark.parametrize(
    ("live", "candidate", "compatible"),
    [(1, 3, True), (3, 1, True), (2, 2, True)],
)
def test_should_gate_transitions_between_the_users_versions(
    users_registry_dir: Path, live: int, candidate: int, compatible: bool
) -> None:
    assert Registry.load(users_registry_dir).check_transition("users", live, candidate).compatible is compatible


def test_should_check_a_rollback_in_its_own_direction(tmp_path: Path) -> None:
    # v2 drops a field without default: fine BACKWARD (v2 reads v1), but rolling back to v1 needs v1 to read v2.
    write_subject(tmp_path, "s", [record(field("a", "int"), field("b", "int")), record(field("a", "int"))])
    registry = Registry.load(tmp_path)
    assert registry.check_transition("s", 1, 2).compatible
    rollback = registry.check_transition("s", live_version=2, candidate_version=1)
    assert [(i.kind.value, i.location, i.reader_version, i.writer_version) for i in rollback.incompatibilities] == [
        ("READER_FIELD_MISSING_DEFAULT_VALUE", "/fields/1", 1, 2)
    ]


def test_should_add_a_version_with_a_derived_step(tmp_path: Path, users_registry_dir: Path) -> None:
    shutil.copytree(users_registry_dir, tmp_path / "reg")
    registry = Registry.load(tmp_path / "reg")
    v4 = registry.subject("users").schema(3) | {
        "fields": [*registry.subject("users").schema(3)["fields"], optional("city")]
    }
    version, result = registry.add_version("users", v4)
    assert (version, result.compatible) == (4, True)
    reloaded = Registry.load(tmp_path / "reg").subject("users")
    assert reloaded.versions == [1, 2, 3, 4]
    assert reloaded.convert({"id": "1", "name": "a", "created_at": "t", "schema_version": 1}, 4)["city"] is None


def test_should_refuse_an_incompatible_new_version_and_write_nothing(tmp_path: Path, users_registry_dir: Path) -> None:
    shutil.copytree(users_registry_dir, tmp_path / "reg")
    registry = Registry.load(tmp_path / "reg")
    bad = record(field("id", "int"), name="User")
    with pytest.raises(IncompatibleSchemaError, match="v4 of 'users' is incompatible"):
        registry.add_version("users", bad)
    assert not (tmp_path / "reg" / "users" / "v4.avsc").exists()
    assert Registry.load(tmp_path / "reg").subject("users").versions == [1, 2, 3]


def test_should_create_a_new_subject(tmp_path: Path) -> None:
    registry = Registry.load(tmp_path)
    version, _ = registry.add_version("orders", record(field("id", "long")), Compatibility.FULL)
    assert version == 1
    loaded = Registry.load(tmp_path).subject("orders")
    assert (loaded.versions, loaded.compatibility, loaded.table) == ([1], Compatibility.FULL, "orders")


def test_should_let_a_copy_go_into_a_union_naming_the_same_named_type(tmp_path: Path) -> None:
    # A schema writes a named type out once; a second field holding it names it: ["null", "Code"].
    code = {"type": "enum", "name": "Code", "symbols": ["a", "b"]}
    steps = [{"from": 1, "to": 2, "upgrade": [{"copy": {"field": "c2", "from": "c"}}]}]

    def subject(name: str, v2_code: dict[str, Any]) -> None:
        v2 = record(field("c", v2_code), field("c2", ["null", "Code"], default=None))
        write_subject(tmp_path, name, [record(field("c", code)), v2], steps=steps, compatibility="NONE")

    subject("same", code)
    subject("fewer", {**code, "symbols": ["a"]})  # v2's Code lost a symbol: a v1 value may not fit it
    assert problems_of(tmp_path) == [
        f"{tmp_path.name}/fewer/subject.yaml:steps[0].upgrade[0]: copy: 'c2' in v2 cannot hold every value of "
        f"'c' ({json.dumps(code)}); give 'c2' the same type (or a union including it)"
    ]
    shutil.rmtree(tmp_path / "fewer")
    assert Registry.load(tmp_path).subject("same").convert({"c": "b"}, 2, 1)["c2"] == "b"
