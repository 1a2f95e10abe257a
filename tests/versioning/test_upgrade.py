"""Moving records between versions along the step chain, up and down."""

from __future__ import annotations

from pathlib import Path

import pytest
from registry_factory import field, optional, record, write_subject

from versioning import Registry, StepError, UnknownVersionError

LEGACY = {"id": "u1", "name": "Ana", "created_at": "2024-01-02T03:04:05Z"}


@pytest.fixture
def users(users_registry_dir: Path):
    return Registry.load(users_registry_dir).subject("users")


def test_should_upgrade_v1_to_v2_like_the_naive_manager(users) -> None:
    assert users.convert(LEGACY, 2, from_version=1) == {
        **LEGACY,
        "email": None,
        "updated_at": "2024-01-02T03:04:05Z",
        "schema_version": 2,
    }


def test_should_upgrade_v1_to_v3_like_the_naive_manager(users) -> None:
    assert users.convert(LEGACY, 3, from_version=1) == {
        **LEGACY,
        "email": None,
        "updated_at": "2024-01-02T03:04:05Z",
        "phone": None,
        "schema_version": 3,
    }


def test_should_take_the_start_from_the_records_own_version(users) -> None:
    v2 = {**LEGACY, "email": "a@b.c", "updated_at": "2025-01-01", "schema_version": 2}
    assert users.convert(v2, 3) == {**v2, "phone": None, "schema_version": 3}


def test_should_be_idempotent(users) -> None:
    once = users.convert(LEGACY, 3, from_version=1)
    assert users.convert(once, 3) == once
    assert users.convert(users.convert(once, 3), 3) == once


def test_should_give_back_the_original_when_downgrading_added_fields(users) -> None:
    original = {**LEGACY, "schema_version": 1}
    assert users.convert(users.convert(original, 3), 1) == original


def test_should_not_modify_the_input(users) -> None:
    record_in = dict(LEGACY)
    users.convert(record_in, 3, from_version=1)
    assert record_in == LEGACY


def test_should_produce_records_valid_for_the_target(users) -> None:
    for target in (1, 2, 3):
        converted = users.convert(LEGACY, target, from_version=1)
        assert users.validate(converted)[1] == []


def test_should_refuse_unknown_versions(users) -> None:
    with pytest.raises(UnknownVersionError):
        users.convert(LEGACY, 7, from_version=1)
    with pytest.raises(UnknownVersionError):
        users.convert({**LEGACY, "schema_version": "v9"}, 3)


STEPS_MODULE = """
def split_name(record):
    first, _, last = record.pop("full_name").partition(" ")
    return {**record, "first": first, "last": last}

def join_name(record):
    full_name = (record.pop("first") + " " + record.pop("last")).strip()
    return {**record, "full_name": full_name}
"""


@pytest.fixture
def evolving(tmp_path: Path):
    write_subject(
        tmp_path,
        "people",
        [
            record(
                field("id", "int"),
                field("mail", "string"),
                field("fax", ["null", "string"], default=None),
                field("full_name", "string"),
            ),
            record(
                field("id", "long"),
                field("email", "string", aliases=["mail"]),
                field("full_name", "string"),
                field("country", "string", default="ES"),
            ),
            record(
                field("id", "long"),
                field("email", "string", aliases=["mail"]),
                field("country", "string", default="ES"),
                field("first", "string"),
                field("last", "string"),
            ),
        ],
        steps=[
            {
                "from": 1,
                "to": 2,
                "upgrade": [
                    {"rename": {"from": "mail", "to": "email"}},
                    {"remove": "fax"},
                    {"promote": {"field": "id", "to": "long"}},
                ],
            },
            {
                "from": 2,
                "to": 3,
                "upgrade": [{"call": {"upgrade": "people_steps:split_name", "downgrade": "people_steps:join_name"}}],
            },
        ],
        compatibility="NONE",
    )
    (tmp_path / "people" / "people_steps.py").write_text(STEPS_MODULE)
    return Registry.load(tmp_path).subject("people")


def test_should_rename_remove_add_and_call_functions_along_the_chain(evolving) -> None:
    v1 = {"id": 7, "mail": "x@y", "fax": "123", "full_name": "Ada Lovelace", "schema_version": 1}
    v3 = evolving.convert(v1, 3)
    assert v3 == {"id": 7, "email": "x@y", "country": "ES", "first": "Ada", "last": "Lovelace", "schema_version": 3}
    back = evolving.convert(v3, 1)
    assert back == {"id": 7, "mail": "x@y", "fax": None, "full_name": "Ada Lovelace", "schema_version": 1}


def test_should_promote_int_to_double_and_refuse_a_lossy_way_back(tmp_path: Path) -> None:
    write_subject(
        tmp_path,
        "m",
        [record(field("amount", "int")), record(field("amount", "double"))],
        steps=[{"from": 1, "to": 2, "upgrade": [{"promote": {"field": "amount", "to": "double"}}]}],
    )
    m = Registry.load(tmp_path).subject("m")
    assert m.convert({"amount": 3}, 2, from_version=1) == {"amount": 3.0, "schema_version": 2}
    assert m.convert({"amount": 3.0, "schema_version": 2}, 1) == {"amount": 3, "schema_version": 1}
    with pytest.raises(StepError, match=r"'amount' cannot go back to int: 3.5 is not a whole number"):
        m.convert({"amount": 3.5, "schema_version": 2}, 1)


def test_should_name_the_step_when_a_function_fails(tmp_path: Path) -> None:
    write_subject(
        tmp_path,
        "p",
        [record(field("a", "int")), record(field("a", "int"), optional("b"))],
        steps=[{"from": 1, "to": 2, "upgrade": [{"call": {"upgrade": "p_steps:boom"}}]}],
    )
    (tmp_path / "p" / "p_steps.py").write_text("def boom(record):\n    raise KeyError('nope')\n")
    p = Registry.load(tmp_path).subject("p")
    with pytest.raises(StepError, match=r"step v1->v2: p_steps:boom failed on a record: KeyError"):
        p.convert({"a": 1}, 2, from_version=1)
    with pytest.raises(StepError, match="has no downgrade function"):
        p.convert({"a": 1, "b": None, "schema_version": 2}, 1)
