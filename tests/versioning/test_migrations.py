"""SQL migrations: scripts as text for every dialect, and executed for real on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import sqlglot
import yaml
from sqlalchemy.dialects import mysql, postgresql, sqlite

from versioning import Registry, RegistryError, Subject
from versioning.migrations import (
    Dialect,
    MigrationError,
    apply_migration,
    column_spec,
    create_table_sql,
    migration_sql,
    migration_statements,
    parse_dialect,
)
from versioning.migrations.columns import sql_value
from versioning.schema import parse_schema


def _record(fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "record", "name": "Order", "namespace": "shop", "fields": fields}


ORDERS_V1 = _record(
    [
        {"name": "id", "type": "string"},
        {"name": "quantity", "type": "int"},
        {"name": "price", "type": "int"},
        {"name": "note", "type": "string", "default": ""},
        {"name": "fax", "type": ["null", "string"], "default": None},
        {"name": "tag", "type": "string", "default": "none"},
    ]
)
ORDERS_V2 = _record(
    [
        {"name": "id", "type": "string"},
        {"name": "quantity", "type": "long"},  # widened with no operation: the table follows anyway
        {"name": "price", "type": "double"},
        {"name": "comment", "type": "string", "default": "", "aliases": ["note"]},
        {"name": "status", "type": "string", "default": "new"},
        {"name": "priority", "type": "int"},
    ]
)
ORDERS_V3 = _record(
    [
        *ORDERS_V2["fields"],
        {"name": "extras", "type": {"type": "map", "values": "string"}, "default": {"gift": "no"}},
        {"name": "checksum", "type": "bytes", "default": "\u0000\u00ff"},
        {"name": "motto", "type": "string", "default": "100% O'Brien: 12:00; ok"},
        {"name": "shipped_on", "type": {"type": "int", "logicalType": "date"}, "default": 19000},
    ]
)
ORDERS_STEPS = [
    {
        "from": 1,
        "to": 2,
        "upgrade": [
            {"rename": {"from": "note", "to": "comment"}},
            {"remove": "fax"},
            {"promote": {"field": "price", "to": "double"}},
            {"add": {"field": "priority", "value": 3}},
        ],
    },
    {"from": 2, "to": 3, "upgrade": []},
]


def write_subject(
    root: Path, name: str, versions: list[dict[str, Any]], steps: list[dict[str, Any]], **config: Any
) -> Subject:
    """Write a subject folder under ``root`` and load it through the registry, as users would."""
    folder = root / name
    folder.mkdir(parents=True)
    for number, schema in enumerate(versions, start=1):
        (folder / f"v{number}.avsc").write_text(json.dumps(schema, indent=2), encoding="utf-8")
    document = {"compatibility": "NONE", "table": name, "steps": steps, **config}
    (folder / "subject.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    # The functions `call` operations name (the registry checks that they load): records move through them,
    # SQL migrations cannot, which is what the call-step tests here are about.
    (folder / "steps.py").write_text("def up(record):\n    return record\n\n\ndef down(record):\n    return record\n")
    return Registry.load(root).subject(name)


@pytest.fixture
def orders(tmp_path: Path) -> Subject:
    """A subject whose steps rename, remove, promote, widen, and add required and typed columns."""
    return write_subject(tmp_path / "registry", "orders", [ORDERS_V1, ORDERS_V2, ORDERS_V3], ORDERS_STEPS)


Database = tuple[sa.Engine, str | None]
DIALECTS = {"postgresql": postgresql.dialect(), "sqlite": sqlite.dialect(), "mysql": mysql.dialect()}
SQLGLOT_READERS = {Dialect.POSTGRESQL: "postgres", Dialect.SQLITE: "sqlite", Dialect.MYSQL: "mysql"}


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "mysql"],
)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """A real database and the namespace (schema or database) the test's tables go in."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_engine"), None
    if request.param == "postgresql":
        engine, name = request.getfixturevalue("postgres_schema")
        return engine, name
    engine, name = request.getfixturevalue("mysql_database")
    return engine, name


def create_table(database: Database, subject: Subject, version: int) -> None:
    """Create the subject's table as it is at ``version``, with the library's own CREATE TABLE."""
    engine, schema = database
    sql = create_table_sql(subject, version, engine.dialect.name, schema=schema)
    with engine.begin() as connection:
        connection.exec_driver_sql(sql.strip().removesuffix(";"))


def insert(database: Database, table: str, rows: list[dict[str, Any]]) -> None:
    engine, schema = database
    target = sa.Table(table, sa.MetaData(), schema=schema, autoload_with=engine)
    with engine.begin() as connection:
        connection.execute(target.insert(), rows)


def read(database: Database, table: str) -> list[dict[str, Any]]:
    """Every row, ordered by id, with JSON columns decoded as SQLAlchemy reflects them."""
    engine, schema = database
    target = sa.Table(table, sa.MetaData(), schema=schema, autoload_with=engine)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(sa.select(target).order_by(target.c.id))]


def layout(database: Database, table: str) -> dict[str, tuple[str, bool]]:
    """Each column's reflected type and nullability."""
    engine, schema = database
    columns = sa.inspect(engine).get_columns(table, schema=schema)
    return {c["name"]: (str(c["type"].compile(dialect=engine.dialect)), c["nullable"]) for c in columns}


def fresh_layout(database: Database, subject: Subject, version: int) -> dict[str, tuple[str, bool]]:
    """The layout of a table made directly at ``version``: what a migration must arrive at."""
    fresh = dataclasses.replace(subject, table=f"{subject.table}_fresh_v{version}")
    create_table(database, fresh, version)
    return layout(database, fresh.table)


USERS_V1_ROWS = [
    {"id": "u1", "name": "Ada", "created_at": "2024-01-02T03:04:05Z"},
    {"id": "u2", "name": "Grace", "created_at": "2024-02-03T04:05:06Z"},
]


# --- the script as text -------------------------------------------------------------------------------


def test_should_write_a_readable_script_with_a_header_and_a_comment_per_step(users: Subject) -> None:
    script = migration_sql(users, 1, 3, Dialect.POSTGRESQL)
    lines = script.splitlines()
    assert lines[0] == "-- Migration of subject 'users' (table users) from v1 to v3 (upgrade)"
    assert "-- Dialect: postgresql" in lines
    assert any(line.startswith("-- Generated by pipeline-platform versioning.migrations") for line in lines)
    assert "-- Step v1 -> v2 (upgrade)" in lines and "-- Step v2 -> v3 (upgrade)" in lines
    assert lines.index("-- Step v1 -> v2 (upgrade)") < lines.index("-- Step v2 -> v3 (upgrade)")
    statements = [line for line in lines if line and not line.startswith("--")]
    assert statements[0] == "BEGIN;" and statements[-1] == "COMMIT;"
    assert all(line.endswith(";") for line in statements)
    assert "UPDATE users SET updated_at=users.created_at WHERE users.updated_at IS NULL;" in lines


def test_should_reverse_each_step_in_reverse_order_on_the_way_down(users: Subject) -> None:
    lines = migration_sql(users, 3, 1, "sqlite").splitlines()
    assert lines[0].endswith("from v3 to v1 (downgrade)")
    assert lines.index("-- Step v3 -> v2 (downgrade)") < lines.index("-- Step v2 -> v1 (downgrade)")
    assert migration_statements(users, 3, 1, "sqlite") == [
        "ALTER TABLE users DROP COLUMN phone",
        "ALTER TABLE users DROP COLUMN updated_at",
        "ALTER TABLE users DROP COLUMN email",
    ]


def test_should_have_nothing_to_do_between_a_version_and_itself(users: Subject) -> None:
    assert migration_statements(users, 2, 2, Dialect.MYSQL) == []
    assert "-- Nothing to do: the table is already at v2." in migration_sql(users, 2, 2, Dialect.MYSQL)


@pytest.mark.parametrize("dialect", [Dialect.POSTGRESQL, Dialect.SQLITE, Dialect.MYSQL])
def test_should_render_statements_that_parse_in_their_dialect(orders: Subject, dialect: Dialect) -> None:
    for start, end in [(1, 3), (3, 1)]:
        for statement in migration_statements(orders, start, end, dialect):
            parsed = sqlglot.parse(statement, read=SQLGLOT_READERS[dialect], error_level=sqlglot.ErrorLevel.RAISE)
            assert len(parsed) == 1 and parsed[0] is not None


def test_should_qualify_the_table_with_a_schema(users: Subject) -> None:
    assert migration_statements(users, 2, 3, "postgresql", schema="analytics") == [
        "ALTER TABLE analytics.users ADD COLUMN phone TEXT"
    ]


def test_should_accept_dialects_as_people_write_them() -> None:
    assert parse_dialect("Postgres") is Dialect.POSTGRESQL
    assert parse_dialect("mariadb") is Dialect.MYSQL
    with pytest.raises(MigrationError, match="unknown SQL dialect 'oracle'; use one of: postgresql, sqlite"):
        parse_dialect("oracle")


# --- BigQuery -------------------------------------------------------------------------------------------


def bigquery_statements(subject: Subject, start: int, end: int) -> list[str]:
    statements = migration_statements(subject, start, end, Dialect.BIGQUERY, schema="shop")
    for statement in statements:
        if statement.startswith("ASSERT NOT EXISTS ("):
            # sqlglot has no parser for BigQuery's ASSERT statement; its query must parse.
            statement = statement.removeprefix("ASSERT NOT EXISTS (").rsplit(") AS '", 1)[0]
        sqlglot.parse_one(statement, read="bigquery", error_level=sqlglot.ErrorLevel.RAISE)
    return statements


def test_should_write_bigquery_ddl_by_its_rules(orders: Subject) -> None:
    up = bigquery_statements(orders, 1, 3)
    assert "ALTER TABLE shop.orders RENAME COLUMN note TO comment" in up
    assert "ALTER TABLE shop.orders DROP COLUMN IF EXISTS fax" in up
    assert "ALTER TABLE shop.orders ALTER COLUMN price SET DATA TYPE FLOAT64" in up
    assert "ALTER TABLE shop.orders ADD COLUMN IF NOT EXISTS priority INT64" in up
    assert "UPDATE shop.orders SET priority = 3 WHERE priority IS NULL" in up
    assert 'UPDATE shop.orders SET extras = PARSE_JSON(\'{"gift":"no"}\') WHERE extras IS NULL' in up
    assert "UPDATE shop.orders SET checksum = FROM_HEX('00ff') WHERE checksum IS NULL" in up
    # BigQuery rejects UPDATE without WHERE and cannot make an existing column REQUIRED.
    assert all(" WHERE " in s for s in up if s.startswith("UPDATE"))
    assert not any("NOT NULL" in s for s in up)
    # int -> long is INT64 either way: no statement for quantity.
    assert not any("quantity" in s for s in up)
    script = migration_sql(orders, 1, 2, Dialect.BIGQUERY)
    assert "-- Note: BigQuery cannot make the existing column status REQUIRED; it stays NULLABLE" in script


def test_should_move_a_column_through_a_copy_when_bigquery_cannot_change_its_type(orders: Subject) -> None:
    down = bigquery_statements(orders, 2, 1)
    start = down.index("ALTER TABLE shop.orders ADD COLUMN IF NOT EXISTS _migrating_price INT64")
    assert down[start : start + 4] == [
        "ALTER TABLE shop.orders ADD COLUMN IF NOT EXISTS _migrating_price INT64",
        "UPDATE shop.orders SET _migrating_price = CAST(price AS INT64) WHERE TRUE",
        "ALTER TABLE shop.orders DROP COLUMN IF EXISTS price",
        "ALTER TABLE shop.orders RENAME COLUMN _migrating_price TO price",
    ]


def test_should_create_bigquery_tables_with_bigquery_types(orders: Subject) -> None:
    sql = create_table_sql(orders, 3, "bigquery", schema="shop")
    sqlglot.parse_one(sql.strip().removesuffix(";"), read="bigquery", error_level=sqlglot.ErrorLevel.RAISE)
    assert sql.startswith("CREATE TABLE shop.orders (id STRING NOT NULL, quantity INT64 NOT NULL, price FLOAT64")
    assert "extras JSON NOT NULL, checksum BYTES NOT NULL" in sql


# --- column types and values ---------------------------------------------------------------------------


def field_type(avro_type: Any, dialect: str) -> tuple[str, bool]:
    schema = parse_schema({"type": "record", "name": "R", "fields": [{"name": "f", "type": avro_type}]})
    spec = column_spec(schema, "f")
    return str(spec.type.compile(dialect=DIALECTS[dialect])), spec.nullable


@pytest.mark.parametrize(
    ("avro_type", "dialect", "expected"),
    [
        ("string", "postgresql", ("TEXT", False)),
        (["null", "long"], "postgresql", ("BIGINT", True)),
        (["int", "null"], "mysql", ("INTEGER", True)),
        ("double", "postgresql", ("DOUBLE PRECISION", False)),
        ("boolean", "sqlite", ("BOOLEAN", False)),
        ("bytes", "postgresql", ("BYTEA", False)),
        ({"type": "fixed", "name": "Hash", "size": 16}, "mysql", ("LONGBLOB", False)),
        ({"type": "enum", "name": "Colour", "symbols": ["RED"]}, "postgresql", ("VARCHAR(255)", False)),
        (
            {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2},
            "postgresql",
            ("NUMERIC(10, 2)", False),
        ),
        ({"type": "int", "logicalType": "date"}, "sqlite", ("DATE", False)),
        ({"type": "long", "logicalType": "time-micros"}, "mysql", ("TIME(6)", False)),
        ({"type": "long", "logicalType": "timestamp-millis"}, "postgresql", ("TIMESTAMP WITH TIME ZONE", False)),
        ({"type": "long", "logicalType": "timestamp-micros"}, "mysql", ("DATETIME(6)", False)),
        (
            {"type": "long", "logicalType": "local-timestamp-millis"},
            "postgresql",
            ("TIMESTAMP WITHOUT TIME ZONE", False),
        ),
        ({"type": "string", "logicalType": "uuid"}, "postgresql", ("UUID", False)),
        ({"type": "string", "logicalType": "uuid"}, "sqlite", ("VARCHAR(36)", False)),
        ({"type": "string", "logicalType": "date"}, "postgresql", ("TEXT", False)),  # ignored, as Avro says
        ({"type": "map", "values": "long"}, "postgresql", ("JSON", False)),
        (["null", {"type": "array", "items": "string"}], "mysql", ("JSON", True)),
        (["null", "string", "long"], "sqlite", ("JSON", True)),
    ],
)
def test_should_map_avro_types_to_sql_columns(avro_type: Any, dialect: str, expected: tuple[str, bool]) -> None:
    assert field_type(avro_type, dialect) == expected


def test_should_read_avro_defaults_as_column_values() -> None:
    schema = parse_schema(
        {
            "type": "record",
            "name": "R",
            "fields": [
                {"name": "d", "type": {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2}},
                {"name": "t", "type": {"type": "long", "logicalType": "timestamp-millis"}},
                {"name": "l", "type": {"type": "long", "logicalType": "local-timestamp-micros"}},
                {"name": "tm", "type": {"type": "int", "logicalType": "time-millis"}},
            ],
        }
    )
    fields = schema.parsed.fields_dict  # type: ignore[attr-defined]
    assert sql_value(fields["d"].type, "\u00ff\u0085") == Decimal("-1.23")  # two's complement -123, scale 2
    assert sql_value(fields["t"].type, 86_400_001) == dt.datetime(1970, 1, 2, 0, 0, 0, 1000, tzinfo=dt.UTC)
    assert sql_value(fields["l"].type, 1) == dt.datetime(1970, 1, 1, 0, 0, 0, 1)
    assert sql_value(fields["tm"].type, 3_723_004) == dt.time(1, 2, 3, 4000)


# --- what cannot be derived ---------------------------------------------------------------------------


def test_should_refuse_a_call_step_naming_the_subject_and_the_step(tmp_path: Path) -> None:
    v2 = {**ORDERS_V1, "fields": [*ORDERS_V1["fields"], {"name": "total", "type": "long", "default": 0}]}
    steps = [{"from": 1, "to": 2, "upgrade": [{"call": {"upgrade": "steps:up", "downgrade": "steps:down"}}]}]
    subject = write_subject(tmp_path, "invoices", [ORDERS_V1, v2], steps)
    with pytest.raises(MigrationError) as caught:
        migration_sql(subject, 1, 2, Dialect.POSTGRESQL)
    assert caught.value.subject == "invoices" and caught.value.step == "v1->v2"
    assert "subject 'invoices' step v1->v2: a 'call' operation" in str(caught.value)
    assert "declare the step with add, copy, rename, remove and promote operations" in str(caught.value)


PEOPLE_V1 = {
    "type": "record",
    "name": "Person",
    "fields": [{"name": "id", "type": "string"}, {"name": "full_name", "type": "string"}],
}
PEOPLE_V2 = {
    "type": "record",
    "name": "Person",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "given_name", "type": ["null", "string"], "default": None},
        {"name": "family_name", "type": ["null", "string"], "default": None},
    ],
}
PEOPLE_SQL = {
    "default": {
        "upgrade": [
            "ALTER TABLE {table} ADD COLUMN given_name TEXT",
            "ALTER TABLE {table} ADD COLUMN family_name TEXT",
            "UPDATE {table} SET given_name = full_name, family_name = full_name",
            "ALTER TABLE {table} DROP COLUMN full_name",
        ],
        "downgrade": [
            "ALTER TABLE {table} ADD COLUMN full_name TEXT",
            "UPDATE {table} SET full_name = given_name",
            "ALTER TABLE {table} DROP COLUMN given_name",
            "ALTER TABLE {table} DROP COLUMN family_name",
        ],
    },
    "bigquery": {"upgrade": "SELECT 1"},
}


def people_subject(root: Path, sql: dict[str, Any] | None) -> Subject:
    step: dict[str, Any] = {
        "from": 1,
        "to": 2,
        "upgrade": [{"call": {"upgrade": "steps:up", "downgrade": "steps:down"}}],
    }
    if sql is not None:
        step["sql"] = sql
    return write_subject(root, "people", [PEOPLE_V1, PEOPLE_V2], [step])


def test_should_use_a_steps_hand_written_sql_with_the_table_filled_in(tmp_path: Path) -> None:
    subject = people_subject(tmp_path, PEOPLE_SQL)
    assert (
        migration_statements(subject, 1, 2, "postgresql", schema="crm")[0]
        == "ALTER TABLE crm.people ADD COLUMN given_name TEXT"
    )
    assert migration_statements(subject, 1, 2, "bigquery") == ["SELECT 1"]
    assert "-- hand-written SQL (upgrade) from people/subject.yaml" in migration_sql(subject, 1, 2, "sqlite")
    only_postgresql = people_subject(tmp_path / "other", {"postgresql": PEOPLE_SQL["default"]})
    with pytest.raises(MigrationError, match=r"step v1->v2 \(people\): its hand-written sql has nothing for sqlite"):
        migration_statements(only_postgresql, 1, 2, "sqlite")


def test_should_point_a_call_step_to_hand_written_sql(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="or give the step hand-written 'sql:'"):
        migration_sql(people_subject(tmp_path, None), 1, 2, "sqlite")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ({"oracle": {"upgrade": "SELECT 1"}}, "steps[0].sql.oracle: unknown dialect"),
        ({"default": {"sideways": "SELECT 1"}}, "steps[0].sql.default: needs 'upgrade' and/or 'downgrade'"),
        ({"default": {"upgrade": [1]}}, "steps[0].sql.default.upgrade: must be a SQL statement or a list of them"),
    ],
)
def test_should_report_malformed_hand_written_sql(tmp_path: Path, sql: dict[str, Any], message: str) -> None:
    with pytest.raises(RegistryError) as caught:
        people_subject(tmp_path, sql)
    assert any(message in str(problem) for problem in caught.value.problems)


def test_should_run_hand_written_sql_up_and_down(database: Database, tmp_path: Path) -> None:
    engine, schema = database
    subject = people_subject(tmp_path, PEOPLE_SQL)
    create_table(database, subject, 1)
    insert(database, "people", [{"id": "p1", "full_name": "Ada"}])
    apply_migration(engine, subject, 1, 2, schema=schema)
    assert read(database, "people") == [{"id": "p1", "given_name": "Ada", "family_name": "Ada"}]
    apply_migration(engine, subject, 2, 1, schema=schema)
    assert read(database, "people") == [{"id": "p1", "full_name": "Ada"}]


def test_should_refuse_to_put_back_a_required_field_without_a_default(tmp_path: Path) -> None:
    v1 = {**ORDERS_V1, "fields": [*ORDERS_V1["fields"], {"name": "code", "type": "string"}]}
    subject = write_subject(
        tmp_path, "parcels", [v1, ORDERS_V1], [{"from": 1, "to": 2, "upgrade": [{"remove": "code"}]}]
    )
    assert migration_statements(subject, 1, 2, "sqlite") == ["ALTER TABLE parcels DROP COLUMN code"]
    with pytest.raises(MigrationError, match=r"field 'code': v1 gives the field no default.*add a default to v1.avsc"):
        migration_statements(subject, 2, 1, "sqlite")


# --- executed for real ----------------------------------------------------------------------------------


def test_should_migrate_users_up_and_down_keeping_the_data(database: Database, users: Subject) -> None:
    engine, schema = database
    create_table(database, users, 1)
    insert(database, "users", USERS_V1_ROWS)

    apply_migration(engine, users, 1, 2, schema=schema)
    assert read(database, "users") == [{**row, "email": None, "updated_at": row["created_at"]} for row in USERS_V1_ROWS]

    apply_migration(engine, users, 2, 3, schema=schema)
    v3_rows = [{**row, "email": None, "updated_at": row["created_at"], "phone": None} for row in USERS_V1_ROWS]
    assert read(database, "users") == v3_rows
    assert layout(database, "users") == fresh_layout(database, users, 3)

    apply_migration(engine, users, 3, 2, schema=schema)
    assert read(database, "users") == [{k: v for k, v in row.items() if k != "phone"} for row in v3_rows]
    assert layout(database, "users") == fresh_layout(database, users, 2)

    apply_migration(engine, users, 2, 1, schema=schema)
    assert read(database, "users") == USERS_V1_ROWS
    assert layout(database, "users") == fresh_layout(database, users, 1)


ORDERS_V1_ROWS = [
    {"id": "o1", "quantity": 2, "price": 10, "note": "first", "fax": "555-0100", "tag": "red"},
    {"id": "o2", "quantity": 5, "price": 7, "note": "", "fax": None, "tag": "blue"},
]


def test_should_migrate_renames_removals_promotions_and_required_columns(database: Database, orders: Subject) -> None:
    engine, schema = database
    create_table(database, orders, 1)
    insert(database, "orders", ORDERS_V1_ROWS)

    apply_migration(engine, orders, 1, 2, schema=schema)
    v2 = read(database, "orders")
    assert v2 == [
        {"id": "o1", "quantity": 2, "price": 10.0, "comment": "first", "status": "new", "priority": 3},
        {"id": "o2", "quantity": 5, "price": 7.0, "comment": "", "status": "new", "priority": 3},
    ]
    assert not any(isinstance(row["price"], int) for row in v2)  # a floating type, whatever the driver returns
    assert layout(database, "orders") == fresh_layout(database, orders, 2)

    apply_migration(engine, orders, 2, 3, schema=schema)
    for row in read(database, "orders"):
        extras = row["extras"] if isinstance(row["extras"], dict) else json.loads(row["extras"])
        assert extras == {"gift": "no"}
        assert bytes(row["checksum"]) == b"\x00\xff"
        assert row["motto"] == "100% O'Brien: 12:00; ok"
        assert row["shipped_on"] == dt.date(2022, 1, 8)
    assert layout(database, "orders") == fresh_layout(database, orders, 3)

    apply_migration(engine, orders, 3, 1, schema=schema)
    assert read(database, "orders") == [
        {"id": "o1", "quantity": 2, "price": 10, "note": "first", "fax": None, "tag": "none"},
        {"id": "o2", "quantity": 5, "price": 7, "note": "", "fax": None, "tag": "none"},
    ]
    assert layout(database, "orders") == fresh_layout(database, orders, 1)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_should_roll_back_the_whole_migration_when_a_statement_fails(
    request: pytest.FixtureRequest, backend: str, users: Subject
) -> None:
    database: Database = (
        (request.getfixturevalue("sqlite_engine"), None)
        if backend == "sqlite"
        else request.getfixturevalue("postgres_schema")
    )
    engine, schema = database
    create_table(database, users, 1)
    insert(database, "users", USERS_V1_ROWS)
    with engine.begin() as connection:  # a column the v2 -> v3 step will try to add again
        connection.execute(sa.text(f"ALTER TABLE {schema + '.' if schema else ''}users ADD COLUMN phone TEXT"))
    with pytest.raises(MigrationError) as caught:
        apply_migration(engine, users, 1, 3, schema=schema)
    assert "statement 4 of 4 failed" in str(caught.value)
    assert "ADD COLUMN phone TEXT" in str(caught.value)
    assert "the migration was rolled back, the table is unchanged" in str(caught.value)
    assert set(layout(database, "users")) == {"id", "name", "created_at", "phone"}
    assert read(database, "users") == [{**row, "phone": None} for row in USERS_V1_ROWS]


def test_should_run_inside_the_callers_transaction(sqlite_engine: sa.Engine, users: Subject) -> None:
    database: Database = (sqlite_engine, None)
    create_table(database, users, 1)
    with sqlite_engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))  # the caller's transaction has begun
        apply_migration(connection, users, 1, 3)
        connection.rollback()
    assert set(layout(database, "users")) == {"id", "name", "created_at"}


def test_should_convert_text_to_bytes_and_back_as_utf8(database: Database, tmp_path: Path) -> None:
    v1 = {
        "type": "record",
        "name": "Note",
        "fields": [{"name": "id", "type": "string"}, {"name": "body", "type": "string"}],
    }
    v2 = {**v1, "fields": [v1["fields"][0], {"name": "body", "type": "bytes"}]}
    steps = [{"from": 1, "to": 2, "upgrade": [{"promote": {"field": "body", "to": "bytes"}}]}]
    notes = write_subject(tmp_path / "registry", "notes", [v1, v2], steps)
    engine, schema = database
    create_table(database, notes, 1)
    insert(database, "notes", [{"id": "n1", "body": "héllo 100%"}])

    apply_migration(engine, notes, 1, 2, schema=schema)
    assert [bytes(row["body"]) for row in read(database, "notes")] == ["héllo 100%".encode()]
    assert layout(database, "notes") == fresh_layout(database, notes, 2)

    apply_migration(engine, notes, 2, 1, schema=schema)
    assert read(database, "notes") == [{"id": "n1", "body": "héllo 100%"}]
    assert layout(database, "notes") == fresh_layout(database, notes, 1)


def test_should_refuse_an_sqlite_too_old_to_drop_columns(
    sqlite_engine: sa.Engine, users: Subject, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_table((sqlite_engine, None), users, 1)
    monkeypatch.setattr(sqlite_engine.dialect, "server_version_info", (3, 31, 1))
    with pytest.raises(MigrationError, match=r"SQLite 3\.31\.1 cannot drop columns; migrations need SQLite 3\.35"):
        apply_migration(sqlite_engine, users, 1, 2)
    assert set(layout((sqlite_engine, None), "users")) == {"id", "name", "created_at"}
