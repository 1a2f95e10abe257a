"""The BigQuery migrations run, not only parsed: ``migrate sql --dialect bigquery`` transpiled by sqlglot to
PostgreSQL and executed on a real table, giving the same rows as the PostgreSQL dialect's own migration.

No BigQuery runs here, so PostgreSQL stands in with three adjustments, all about spelling, none about behaviour:
BigQuery's ``ASSERT NOT EXISTS (query) AS 'message'`` (which sqlglot cannot parse) becomes a PL/pgSQL block
raising the message; ``FROM_HEX`` becomes PostgreSQL's ``decode(text, 'hex')``; ``JSON`` columns are compared as
decoded values.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import sqlglot
from sqlglot import exp
from test_migrations import ORDERS_STEPS, ORDERS_V1, ORDERS_V1_ROWS, ORDERS_V2, ORDERS_V3, read, write_subject

from versioning.migrations import Dialect, apply_migration, create_table_sql, migration_statements
from versioning.registry import Subject

pytestmark = pytest.mark.postgres

_ASSERT = re.compile(r"^ASSERT NOT EXISTS \((?P<query>.*)\) AS '(?P<message>(?:[^'\\]|\\.)*)'$", re.S)


def to_postgres(statement: str) -> str:
    """One BigQuery statement as PostgreSQL runs it (see the module docstring for the three adjustments)."""
    found = _ASSERT.match(statement)
    if found:
        query = sqlglot.transpile(found["query"], read="bigquery", write="postgres")[0]
        message = found["message"].replace("\\'", "'").replace("'", "''")
        return f"DO $$ BEGIN IF EXISTS ({query}) THEN RAISE EXCEPTION '%', '{message}'; END IF; END $$"
    tree = sqlglot.parse_one(statement, read="bigquery")
    for call in list(tree.find_all(exp.Unhex)):
        call.replace(exp.Anonymous(this="decode", expressions=[call.this, exp.Literal.string("hex")]))
    return tree.sql(dialect="postgres")


@pytest.fixture
def orders(tmp_path: Path) -> Subject:
    return write_subject(tmp_path / "registry", "orders", [ORDERS_V1, ORDERS_V2, ORDERS_V3], ORDERS_STEPS)


def run_bigquery(engine: sa.Engine, statements: list[str]) -> None:
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(to_postgres(statement).replace("%", "%%"))


def fill(engine: sa.Engine, schema: str, table: str, rows: list[dict[str, Any]]) -> None:
    target = sa.Table(table, sa.MetaData(), schema=schema, autoload_with=engine)
    with engine.begin() as connection:
        connection.execute(target.insert(), rows)


def plain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with JSON decoded and bytes as bytes, so both tables compare by value."""
    out = []
    for row in rows:
        item = dict(row)
        for key, value in item.items():
            if isinstance(value, str) and key == "extras":
                item[key] = json.loads(value)
            elif isinstance(value, memoryview):
                item[key] = bytes(value)
        out.append(item)
    return out


def test_should_move_rows_up_and_down_as_the_postgresql_migration_does(
    postgres_schema: tuple[sa.Engine, str], orders: Subject
) -> None:
    engine, schema = postgres_schema
    bigquery, native = f"{schema}_bq", f"{schema}_pg"
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{bigquery}"; CREATE SCHEMA "{native}"')
    try:
        run_bigquery(engine, [create_table_sql(orders, 1, "bigquery", schema=bigquery).strip().removesuffix(";")])
        with engine.begin() as connection:
            connection.execute(sa.text(create_table_sql(orders, 1, "postgresql", schema=native).strip()))
        for target in (bigquery, native):
            fill(engine, target, "orders", ORDERS_V1_ROWS)

        run_bigquery(engine, migration_statements(orders, 1, 3, Dialect.BIGQUERY, schema=bigquery))
        apply_migration(engine, orders, 1, 3, schema=native)
        upgraded = plain(read((engine, bigquery), "orders"))
        assert upgraded == plain(read((engine, native), "orders"))
        assert upgraded[0]["priority"] == 3 and upgraded[0]["status"] == "new"
        assert upgraded[0]["extras"] == {"gift": "no"} and upgraded[0]["checksum"] == b"\x00\xff"
        assert upgraded[0]["shipped_on"] == dt.date(2022, 1, 8) and upgraded[0]["price"] == 10.0

        run_bigquery(engine, migration_statements(orders, 3, 1, Dialect.BIGQUERY, schema=bigquery))
        apply_migration(engine, orders, 3, 1, schema=native)
        assert (
            read((engine, bigquery), "orders")
            == read((engine, native), "orders")
            == [
                {"id": "o1", "quantity": 2, "price": 10, "note": "first", "fax": None, "tag": "none"},
                {"id": "o2", "quantity": 5, "price": 7, "note": "", "fax": None, "tag": "none"},
            ]
        )
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{bigquery}" CASCADE; DROP SCHEMA "{native}" CASCADE')


def test_should_stop_a_narrowing_that_would_change_a_value(
    postgres_schema: tuple[sa.Engine, str], orders: Subject
) -> None:
    engine, schema = postgres_schema
    run_bigquery(engine, [create_table_sql(orders, 1, "bigquery", schema=schema).strip().removesuffix(";")])
    fill(engine, schema, "orders", ORDERS_V1_ROWS)
    run_bigquery(engine, migration_statements(orders, 1, 2, Dialect.BIGQUERY, schema=schema))
    with engine.begin() as connection:
        connection.exec_driver_sql(f"UPDATE \"{schema}\".orders SET price = 2.5 WHERE id = 'o2'")
    with pytest.raises(sa.exc.DBAPIError, match="price holds values that would change as int"):
        run_bigquery(engine, migration_statements(orders, 2, 1, Dialect.BIGQUERY, schema=schema))
    assert [row["price"] for row in read((engine, schema), "orders")] == [10.0, 2.5]  # nothing moved
