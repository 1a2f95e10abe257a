"""Right answers for every Avro type: each class of defect found against ground truth has a test here.

Ground truth is what we did not write: fastavro writing a record and reading it back, the Apache ``avro``
package's schema resolution, and the databases executing our SQL.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import avro.io
import avro.schema
import fastavro
import pytest
import sqlalchemy as sa
from registry_factory import field, record, write_subject

from versioning import (
    Compatibility,
    DataVersionManager,
    Registry,
    SchemaError,
    StepError,
    check_compatibility,
    parse_schema,
)
from versioning.upgrade import RowUpgrader
from versioning.upgrade.pipeline import upgrade_rows
from versioning.validation import RowValidator, Validator

# --- helpers ---------------------------------------------------------------------------------------------


def load(root: Path, versions: list[Any], steps: list[dict[str, Any]] | None = None, name: str = "things"):
    write_subject(root, name, versions, steps=steps, compatibility="NONE")
    return Registry.load(root).subject(name)


def round_trip(schema: dict[str, Any], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records written by fastavro with ``schema`` and read back: what a file would hold."""
    buffer = io.BytesIO()
    fastavro.writer(buffer, fastavro.parse_schema(schema), records)
    buffer.seek(0)
    return list(fastavro.reader(buffer))


def without_version(record_: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record_.items() if k != "schema_version"}


# --- typed defaults are values ---------------------------------------------------------------------------

TYPED_DEFAULTS = [
    # (type, default as Avro JSON, the Python value fastavro reads for it)
    ("bytes", "\u00ff\u0001", b"\xff\x01"),
    ({"type": "fixed", "name": "Pair", "size": 2}, "ab", b"ab"),
    ({"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2}, "\u0004\u00d2", Decimal("12.34")),
    ({"type": "int", "logicalType": "date"}, 19_000, dt.date(2022, 1, 8)),
    ({"type": "int", "logicalType": "time-millis"}, 3_600_500, dt.time(1, 0, 0, 500_000)),
    ({"type": "long", "logicalType": "time-micros"}, 61_000_001, dt.time(0, 1, 1, 1)),
    (
        {"type": "long", "logicalType": "timestamp-millis"},
        1_000,
        dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=dt.UTC),
    ),
    (
        {"type": "long", "logicalType": "timestamp-micros"},
        1_000_001,
        dt.datetime(1970, 1, 1, 0, 0, 1, 1, tzinfo=dt.UTC),
    ),
    ({"type": "long", "logicalType": "local-timestamp-millis"}, 2_000, dt.datetime(1970, 1, 1, 0, 0, 2)),
    (["null", "bytes"], None, None),
    ({"type": "array", "items": "bytes"}, ["\u0001"], [b"\x01"]),
]


@pytest.mark.parametrize(("kind", "default", "value"), TYPED_DEFAULTS)
def test_should_fill_an_added_field_with_its_default_as_a_value(
    tmp_path: Path, kind: Any, default: Any, value: Any
) -> None:
    v1 = record(field("id", "long"))
    v2 = record(field("id", "long"), field("extra", kind, default=default))
    subject = load(tmp_path, [v1, v2])
    reference = subject.convert({"id": 1}, 2, from_version=1)
    fast = RowUpgrader(subject, 1, 2).upgrade([{"id": 1}])[0]
    assert reference["extra"] == value
    assert fast == reference
    assert subject.validator(2).errors(reference) == []
    # Ground truth: fastavro writes the upgraded record and reads back the same value.
    assert round_trip(v2, [without_version(reference)]) == [{"id": 1, "extra": value}]


def test_should_upgrade_an_avro_file_to_a_version_that_adds_typed_defaults(tmp_path: Path) -> None:
    from versioning.datafiles.upgrade import upgrade_file

    v1 = record(field("id", "long"))
    v2 = record(field("id", "long"), *(field(f"f{i}", k, default=d) for i, (k, d, _) in enumerate(TYPED_DEFAULTS)))
    subject = load(tmp_path / "registry", [v1, v2])
    source, target = tmp_path / "in.avro", tmp_path / "out.avro"
    with source.open("wb") as handle:
        fastavro.writer(handle, v1, [{"id": 1}, {"id": 2}])
    upgrade_file(subject, source, target, 2, 1)
    with target.open("rb") as handle:
        rows = list(fastavro.reader(handle))
    assert [r["id"] for r in rows] == [1, 2]
    assert all(r[f"f{i}"] == value for r in rows for i, (_, _, value) in enumerate(TYPED_DEFAULTS))


# --- upgraded records own their values -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["reference", "fast"])
def test_should_give_each_upgraded_record_its_own_copy_of_a_mutable_default(tmp_path: Path, path: str) -> None:
    v1 = record(field("id", "long"))
    v2 = record(
        field("id", "long"),
        field("tags", {"type": "array", "items": "string"}, default=["a"]),
        field("labels", {"type": "map", "values": "string"}, default={}),
    )
    subject = load(tmp_path, [v1, v2])
    if path == "reference":
        first, second = (subject.convert({"id": i}, 2, from_version=1) for i in (1, 2))
    else:
        first, second = RowUpgrader(subject, 1, 2).upgrade([{"id": 1}, {"id": 2}])
    first["tags"].append("changed")
    first["labels"]["k"] = "v"
    assert second["tags"] == ["a"] and second["labels"] == {}
    assert subject.schema(2)["fields"][1]["default"] == ["a"]
    assert subject.schema(2)["fields"][2]["default"] == {}


# --- narrowing refuses any change of value ---------------------------------------------------------------


def promoted_subject(root: Path, source: str, target: str) -> Any:
    v1 = record(field("id", "long"), field("amount", source))
    v2 = record(field("id", "long"), field("amount", target))
    steps = [{"from": 1, "to": 2, "upgrade": [{"promote": {"field": "amount", "to": target}}]}]
    return load(root, [v1, v2], steps)


NARROWINGS = [
    # (source type, promoted type, a value of the promoted type that the source type cannot hold exactly)
    ("float", "double", 1e300),
    ("float", "double", 0.1),
    ("int", "long", 2**40),
    ("int", "double", 1.5),
    ("long", "double", 1e30),
    ("string", "bytes", b"\xff"),
]


@pytest.mark.parametrize(("source", "target", "value"), NARROWINGS)
def test_should_refuse_a_downgrade_that_would_change_a_value(
    tmp_path: Path, source: str, target: str, value: Any
) -> None:
    subject = promoted_subject(tmp_path, source, target)
    with pytest.raises(StepError, match="amount"):
        subject.convert({"id": 1, "amount": value, "schema_version": 2}, 1)


@pytest.mark.parametrize(("source", "target", "value"), NARROWINGS)
def test_should_reject_only_the_record_that_cannot_narrow_in_a_batch(
    tmp_path: Path, source: str, target: str, value: Any
) -> None:
    subject = promoted_subject(tmp_path, source, target)
    fine = {"float": 0.5, "int": 7, "long": 7, "string": "ok"}[source]
    fine_value = b"ok" if target == "bytes" else (float(fine) if target in ("float", "double") else fine)
    rows = [{"id": 1, "amount": fine_value}, {"id": 2, "amount": value}, {"id": 3, "amount": fine_value}]
    result = upgrade_rows(subject, rows, 1, 2)
    assert [r["id"] for r in result.records] == [1, 3]
    assert [e.position for e in result.invalid + result.invalid_output] == [2]
    assert "amount" in str(result.invalid_output[0].errors[0] if result.invalid_output else result.invalid[0])


def test_should_keep_values_that_narrow_exactly(tmp_path: Path) -> None:
    subject = promoted_subject(tmp_path, "float", "double")
    assert subject.convert({"id": 1, "amount": 0.5, "schema_version": 2}, 1)["amount"] == 0.5
    subject = promoted_subject(tmp_path / "b", "int", "long")
    assert subject.convert({"id": 1, "amount": 2**31 - 1, "schema_version": 2}, 1)["amount"] == 2**31 - 1


def test_should_reject_a_record_of_an_unknown_version_in_a_batch(tmp_path: Path) -> None:
    v1 = record(field("id", "long"))
    v2 = record(field("id", "long"), field("note", "string", default=""))
    subject = load(tmp_path, [v1, v2])
    rows = [{"id": 1}, {"id": 2, "schema_version": 99}, {"id": 3}]
    result = upgrade_rows(subject, rows, 2, 1)
    assert [r["id"] for r in result.records] == [1, 3]
    rejected = result.invalid + result.invalid_output
    assert [e.position for e in rejected] == [2]
    assert "no version 99" in str(rejected[0].errors[0])


def test_should_reject_the_record_of_an_unknown_version_in_the_cli(tmp_path: Path) -> None:
    from versioning.cli import main

    v1 = record(field("id", "long"))
    v2 = record(field("id", "long"), field("note", "string", default=""))
    load(tmp_path / "registry", [v1, v2])
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": 1}\n{"id": 2, "schema_version": 99}\n{"id": 3}\n')
    rejects = tmp_path / "rejects.jsonl"
    arguments = ["things", str(source), str(tmp_path / "out.jsonl"), "--to", "2", "--from", "1"]
    code = main(["upgrade", *arguments, "--rejects", str(rejects), "--registry", str(tmp_path / "registry")])
    assert code == 1
    assert [json.loads(line)["position"] for line in rejects.read_text().splitlines()] == [2]
    assert [json.loads(line)["id"] for line in (tmp_path / "out.jsonl").read_text().splitlines()] == [1, 3]


# --- validation refuses what cannot be written faithfully ------------------------------------------------

UUID_TYPE = {"type": "string", "logicalType": "uuid"}
DECIMAL_TYPE = {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2}
UNFAITHFUL = [
    ("float", 1e39),
    ("float", -1e39),
    ("float", 2**128),
    ("double", 2**53 + 1),
    ("double", 10**400),
    ("string", "a\ud800b"),
    ({"type": "map", "values": "long"}, {"\udfff": 1}),
    ({"type": "array", "items": "string"}, ["\ud83d"]),
    (DECIMAL_TYPE, 5),
    (UUID_TYPE, "{12345678-1234-5678-1234-567812345678}"),
    (UUID_TYPE, "12345678123456781234567812345678"),
    (UUID_TYPE, "12345678-1234-5678-1234-56781234567A"),
    (UUID_TYPE, "urn:uuid:12345678-1234-5678-1234-567812345678"),
    # A naive datetime for a moment is read in the machine's own time zone; an aware one for a local timestamp
    # loses its zone: either way fastavro reads back another value.
    ({"type": "long", "logicalType": "timestamp-millis"}, dt.datetime(2024, 1, 1, 12, 0)),
    ({"type": "long", "logicalType": "timestamp-micros"}, dt.datetime(2024, 1, 1, 12, 0)),
    ({"type": "long", "logicalType": "local-timestamp-micros"}, dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.UTC)),
]
FAITHFUL = [
    ("float", 1.5),
    ("float", 2.0**127),
    ("float", float("inf")),
    ("double", 2**53),
    ("double", 1e308),
    ("string", "caf\u00e9 \U0001f600"),
    (DECIMAL_TYPE, Decimal("1234.56")),
    (UUID_TYPE, "12345678-1234-5678-1234-567812345678"),
    (UUID_TYPE, uuid.UUID("12345678-1234-5678-1234-567812345678")),
    ({"type": "long", "logicalType": "timestamp-micros"}, dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.UTC)),
    ({"type": "long", "logicalType": "local-timestamp-micros"}, dt.datetime(2024, 1, 1, 12, 0)),
]


def one_field(kind: Any) -> dict[str, Any]:
    return record(field("value", kind))


@pytest.mark.parametrize(("kind", "value"), UNFAITHFUL)
@pytest.mark.parametrize("implementation", ["reference", "fast"])
def test_should_refuse_values_no_writer_can_store_faithfully(kind: Any, value: Any, implementation: str) -> None:
    schema = parse_schema(one_field(kind))
    validator = Validator(schema) if implementation == "reference" else RowValidator(schema)
    assert list(validator.invalid([{"value": value}]))


@pytest.mark.parametrize(("kind", "value"), FAITHFUL)
@pytest.mark.parametrize("implementation", ["reference", "fast"])
def test_should_accept_values_written_faithfully(kind: Any, value: Any, implementation: str) -> None:
    schema = parse_schema(one_field(kind))
    validator = Validator(schema) if implementation == "reference" else RowValidator(schema)
    assert not list(validator.invalid([{"value": value}]))
    (back,) = round_trip(one_field(kind), [{"value": value}])
    assert str(back["value"]) == str(value) or back["value"] == value


# --- the specification's rules: aliases, logical types, union defaults -----------------------------------


def test_should_match_named_type_aliases_with_their_namespace() -> None:
    writer = {"type": "record", "name": "Old", "namespace": "other", "fields": [field("a", "int")]}
    reader = {"type": "record", "name": "New", "namespace": "ns", "aliases": ["Old"], "fields": [field("a", "int")]}
    result = check_compatibility(parse_schema(reader), [parse_schema(writer)], Compatibility.BACKWARD)
    # Ground truth: the Apache avro package refuses to read the writer's data with this reader.
    writer_parsed, reader_parsed = avro.schema.parse(json.dumps(writer)), avro.schema.parse(json.dumps(reader))
    buffer = io.BytesIO()
    avro.io.DatumWriter(writer_parsed).write({"a": 1}, avro.io.BinaryEncoder(buffer))
    buffer.seek(0)
    with pytest.raises(avro.errors.SchemaResolutionException):
        avro.io.DatumReader(writer_parsed, reader_parsed).read(avro.io.BinaryDecoder(buffer))
    assert not result.compatible
    qualified = {**reader, "aliases": ["other.Old"]}
    assert check_compatibility(parse_schema(qualified), [parse_schema(writer)], Compatibility.BACKWARD).compatible


INVALID_LOGICAL = [
    {"type": "bytes", "logicalType": "decimal", "precision": 0},
    {"type": "bytes", "logicalType": "decimal", "precision": 3, "scale": 5},
    {"type": "fixed", "name": "Small", "size": 2, "logicalType": "decimal", "precision": 10},
]


@pytest.mark.parametrize("kind", INVALID_LOGICAL)
def test_should_read_an_invalid_logical_type_as_its_underlying_type(kind: dict[str, Any]) -> None:
    schema = parse_schema(one_field(kind))  # not a SchemaError
    size = kind.get("size", 3)
    for validator in (Validator(schema), RowValidator(schema)):
        assert not list(validator.invalid([{"value": b"\x01" * size}]))
        assert list(validator.invalid([{"value": Decimal("1")}]))


def test_should_accept_a_union_default_of_any_branch(tmp_path: Path) -> None:
    v1 = record(field("id", "long"))
    v2 = record(field("id", "long"), field("note", ["null", "string"], default="none"))
    v3 = record(field("id", "long"), field("note", ["null", "bytes", "string"], default="\u00ff"))
    parse_schema(v2)
    subject = load(tmp_path, [v1, v2])
    upgraded = subject.convert({"id": 1}, 2, from_version=1)
    assert upgraded["note"] == "none"
    assert round_trip(v2, [without_version(upgraded)]) == [{"id": 1, "note": "none"}]
    # The first matching branch decides: a string default of a ["null", "bytes", ...] union is bytes.
    subject3 = load(tmp_path / "three", [v1, v3])
    assert subject3.convert({"id": 1}, 2, from_version=1)["note"] == b"\xff"


def test_should_still_refuse_a_union_default_that_matches_no_branch() -> None:
    with pytest.raises(SchemaError, match="note"):
        parse_schema(record(field("note", ["null", "long"], default="x")))


# --- the facade: no schema_version means version 1 -------------------------------------------------------


def test_should_take_a_record_without_schema_version_as_version_1_in_the_facade(users_registry_dir: Path) -> None:
    manager = DataVersionManager(users_registry_dir)
    legacy = {"id": "42", "name": "Grace", "created_at": "2023-05-06T07:08:09Z"}
    assert manager.validate_schema(legacy) == {"valid": True, "version": 1, "errors": []}
    assert manager.upgrade_data(legacy, 3)["schema_version"] == 3


# --- SQL that each dialect accepts and that keeps every value --------------------------------------------


def test_should_write_a_timestamp_default_that_mariadb_accepts(
    mysql_database: tuple[sa.Engine, str], tmp_path: Path
) -> None:
    from versioning.migrations import apply_migration, create_table_sql

    engine, name = mysql_database
    stamp = {"type": "long", "logicalType": "timestamp-millis"}
    v1 = record(field("id", "long"))
    v2 = record(field("id", "long"), field("seen", stamp, default=1_700_000_000_123))
    subject = load(tmp_path, [v1, v2])
    with engine.begin() as connection:
        connection.exec_driver_sql(create_table_sql(subject, 1, "mysql", schema=name).strip().removesuffix(";"))
        connection.exec_driver_sql(f"INSERT INTO {name}.things (id) VALUES (1)")
    apply_migration(engine, subject, 1, 2, schema=name)
    with engine.connect() as connection:
        seen = connection.exec_driver_sql(f"SELECT seen FROM {name}.things").scalar_one()
    assert seen == dt.datetime(2023, 11, 14, 22, 13, 20, 123_000)


def test_should_keep_a_long_string_whole_on_mariadb(mysql_database: tuple[sa.Engine, str], tmp_path: Path) -> None:
    from versioning.migrations import create_table_sql

    engine, name = mysql_database
    subject = load(tmp_path, [record(field("id", "long"), field("text", "string"))])
    long_text = "x" * 70_000
    with engine.begin() as connection:
        connection.exec_driver_sql(create_table_sql(subject, 1, "mysql", schema=name).strip().removesuffix(";"))
        connection.execute(sa.text(f"INSERT INTO {name}.things (id, text) VALUES (1, :text)"), {"text": long_text})
    with engine.connect() as connection:
        assert connection.exec_driver_sql(f"SELECT text FROM {name}.things").scalar_one() == long_text


@pytest.mark.parametrize(
    ("precision", "scale", "expected"),
    [
        (10, 2, "NUMERIC(10, 2)"),
        (38, 2, "BIGNUMERIC(38, 2)"),
        (30, 0, "BIGNUMERIC(30, 0)"),
        (20, 12, "BIGNUMERIC(20, 12)"),
        (38, 9, "NUMERIC"),
    ],
)
def test_should_give_bigquery_the_same_decimal_type_in_ddl_and_export(
    tmp_path: Path, precision: int, scale: int, expected: str
) -> None:
    from versioning.exports.bigquery import to_bigquery
    from versioning.migrations import create_table_sql

    kind = {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}
    subject = load(tmp_path, [record(field("id", "long"), field("amount", kind))])
    ddl = create_table_sql(subject, 1, "bigquery")
    assert f"amount {expected} NOT NULL" in ddl
    exported = {f["name"]: f for f in to_bigquery(subject.schema(1))}["amount"]
    shown = exported["type"] + (f"({exported['precision']}, {exported['scale']})" if "precision" in exported else "")
    assert shown == expected


@pytest.mark.parametrize(
    ("source", "target", "value"),
    [("float", "double", 0.1), ("int", "long", 2**40), ("long", "double", 1.5), ("int", "double", 2.5)],
)
@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "mysql"])
def test_should_refuse_a_sql_downgrade_that_would_change_a_value(
    request: pytest.FixtureRequest, tmp_path: Path, dialect: str, source: str, target: str, value: Any
) -> None:
    from versioning.migrations import MigrationError, apply_migration, create_table_sql

    if dialect == "sqlite":
        engine, schema = request.getfixturevalue("sqlite_engine"), None
    elif dialect == "postgresql":
        engine, schema = request.getfixturevalue("postgres_schema")
    else:
        engine, schema = request.getfixturevalue("mysql_database")
    if dialect == "sqlite" and (source, target) == ("float", "double"):
        pytest.skip("SQLite stores float and double alike (8-byte REAL): nothing narrows")
    subject = promoted_subject(tmp_path, source, target)
    table = f"{schema}.things" if schema else "things"
    with engine.begin() as connection:
        connection.exec_driver_sql(create_table_sql(subject, 2, dialect, schema=schema).strip().removesuffix(";"))
        connection.execute(sa.text(f"INSERT INTO {table} (id, amount) VALUES (1, :v)"), {"v": value})
    with pytest.raises(MigrationError, match="amount"):
        apply_migration(engine, subject, 2, 1, schema=schema)
    with engine.connect() as connection:
        assert connection.exec_driver_sql(f"SELECT amount FROM {table}").scalar_one() == value


@pytest.mark.parametrize("value", [0.1, 1e300])
def test_should_refuse_a_narrowing_file_downgrade_naming_the_record(tmp_path: Path, value: float) -> None:
    from versioning.datafiles.errors import DataFileError
    from versioning.datafiles.upgrade import upgrade_file

    subject = promoted_subject(tmp_path / "registry", "float", "double")
    source, target = tmp_path / "in.avro", tmp_path / "out.avro"
    with source.open("wb") as handle:
        fastavro.writer(handle, subject.schema(2), [{"id": 1, "amount": 0.5}, {"id": 2, "amount": value}])
    with pytest.raises(DataFileError, match=r"record 2: .*'amount' cannot go back to float"):
        upgrade_file(subject, source, target, 1, 2)
    assert not target.exists()


@pytest.mark.parametrize("value", [0.1, 1e300])
def test_should_reject_the_narrowing_record_in_the_cli(tmp_path: Path, value: float) -> None:
    from versioning.cli import main

    promoted_subject(tmp_path / "registry", "float", "double")
    source, target, rejects = tmp_path / "in.avro", tmp_path / "out.avro", tmp_path / "rejects.jsonl"
    schema = record(field("id", "long"), field("amount", "double"))
    with source.open("wb") as handle:
        fastavro.writer(handle, schema, [{"id": 1, "amount": 0.5}, {"id": 2, "amount": value}])
    arguments = ["things", str(source), str(target), "--to", "1", "--from", "2", "--rejects", str(rejects)]
    code = main(["upgrade", *arguments, "--registry", str(tmp_path / "registry")])
    assert code == 1
    assert [json.loads(line)["position"] for line in rejects.read_text().splitlines()] == [2]
    with target.open("rb") as handle:
        assert list(fastavro.reader(handle)) == [{"id": 1, "amount": 0.5}]
