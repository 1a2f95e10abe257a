"""SQL migrations: the DDL and data backfills that move a subject's table from one version to another.

A subject's steps (see :mod:`versioning.upgrade.operations`) say what changed between versions; this package turns them
into SQL for PostgreSQL, SQLite, MySQL/MariaDB and BigQuery, up or down::

    from versioning import Registry
    from versioning.migrations import Dialect, apply_migration, migration_sql

    users = Registry.load("schemas").subject("users")
    print(migration_sql(users, 1, 3, Dialect.POSTGRESQL))   # a script to read or hand to psql
    apply_migration(engine, users, 1, 3)                     # or run it, in one transaction

Operations map to SQL as: add -> ADD COLUMN (then UPDATE to the value or default, then NOT NULL when the
field is required); copy -> ADD COLUMN and UPDATE from the source column; rename -> RENAME COLUMN;
remove -> DROP COLUMN (a downgrade adds it back filled with the old default); promote -> a column type
change; implied adds and removes like add and remove. A ``call`` step runs Python code and has no SQL: it
raises :class:`MigrationError`. Statements are rendered by Alembic (offline mode) and SQLAlchemy types,
and for BigQuery transpiled by sqlglot; see :mod:`versioning.migrations.columns` for the column types.
"""

from versioning.migrations.columns import ColumnSpec, column_spec, table_columns
from versioning.migrations.dialects import Dialect, parse_dialect
from versioning.migrations.errors import MigrationError
from versioning.migrations.runner import apply_migration
from versioning.migrations.script import create_table_sql, migration_sql, migration_statements

__all__ = [
    "ColumnSpec",
    "Dialect",
    "MigrationError",
    "apply_migration",
    "column_spec",
    "create_table_sql",
    "migration_sql",
    "migration_statements",
    "parse_dialect",
    "table_columns",
]
