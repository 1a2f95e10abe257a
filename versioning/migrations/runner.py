"""Running a migration against a live database through SQLAlchemy."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from versioning.migrations.dialects import Dialect, parse_dialect
from versioning.migrations.errors import MigrationError
from versioning.migrations.script import migration_statements
from versioning.registry import Subject


def apply_migration(
    bind: Engine | Connection,
    subject: Subject,
    from_version: int,
    to_version: int,
    *,
    schema: str | None = None,
) -> list[str]:
    """Move ``subject.table`` from one version to another on a database; returns the statements run.

    With an :class:`~sqlalchemy.engine.Engine`, the migration runs in a transaction of its own, committed
    at the end. With a :class:`~sqlalchemy.engine.Connection` already in a transaction, it runs inside that
    transaction and the caller commits; otherwise it begins and commits one. On PostgreSQL and SQLite a
    failure rolls everything back; MySQL and MariaDB commit each DDL statement, so the statements before a
    failure stay applied (the error says how many). Raises :class:`MigrationError`.
    """
    dialect = _dialect_of(bind)
    _check_sqlite_version(bind, dialect)
    statements = migration_statements(subject, from_version, to_version, dialect, schema=schema)
    if isinstance(bind, Engine):
        with bind.connect() as connection, connection.begin():
            _run(connection, statements, dialect, subject)
    elif bind.in_transaction():
        _run(bind, statements, dialect, subject)
    else:
        with bind.begin():
            _run(bind, statements, dialect, subject)
    return statements


def _dialect_of(bind: Engine | Connection) -> Dialect:
    name = bind.dialect.name
    if name not in ("postgresql", "sqlite", "mysql", "mariadb"):
        raise MigrationError(
            f"cannot run migrations on a {name!r} database here; use migration_sql() for a script to run there"
        )
    return parse_dialect(name)


MINIMUM_SQLITE = (3, 35)
"""The first SQLite with ``ALTER TABLE ... DROP COLUMN``."""


def _check_sqlite_version(bind: Engine | Connection, dialect: Dialect) -> None:
    if dialect is not Dialect.SQLITE:
        return
    version = tuple(bind.dialect.server_version_info or ())
    if version and version < MINIMUM_SQLITE:
        found = ".".join(str(part) for part in version)
        raise MigrationError(
            f"SQLite {found} cannot drop columns; migrations need SQLite 3.35 or newer "
            "(upgrade the sqlite3 library Python is linked with, or use migration_sql() and migrate by hand)"
        )


def _run(connection: Connection, statements: list[str], dialect: Dialect, subject: Subject) -> None:
    if dialect is Dialect.SQLITE:
        _begin_sqlite(connection)
    for number, statement in enumerate(statements, start=1):
        try:
            # The statements carry their values as literals: no_parameters makes psycopg and pymysql take a
            # '%' in them as text, not as a parameter marker.
            connection.exec_driver_sql(statement, execution_options={"no_parameters": True})
        except sa.exc.DBAPIError as err:
            if dialect.transactional_ddl:
                outcome = "the migration was rolled back, the table is unchanged"
            else:
                outcome = f"the {number - 1} statements before it stay applied (DDL commits on {dialect.value})"
            raise MigrationError(
                f"statement {number} of {len(statements)} failed: {err.orig}\n    {statement}\n{outcome}; "
                f"check that {subject.table!r} is at the version the migration starts from",
                subject=subject.name,
            ) from None


def _begin_sqlite(connection: Connection) -> None:
    """Start the driver's transaction now, so the DDL is part of it.

    Python's sqlite3 module only opens a transaction before INSERT/UPDATE/DELETE; DDL before the first of
    those would commit on its own and survive a rollback.
    """
    driver_connection: Any = connection.connection.dbapi_connection
    if not driver_connection.in_transaction:
        connection.exec_driver_sql("BEGIN")
