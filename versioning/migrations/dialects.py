"""The SQL databases a migration can be written for."""

from __future__ import annotations

from enum import StrEnum

from versioning.migrations.errors import MigrationError


class Dialect(StrEnum):
    """A SQL database family; the value is what users pass on the command line (``--dialect sqlite``)."""

    POSTGRESQL = "postgresql"
    """PostgreSQL: transactional DDL, so a migration runs in one transaction."""
    SQLITE = "sqlite"
    """SQLite 3.35 or newer (DROP COLUMN); type and NOT NULL changes rebuild the table."""
    MYSQL = "mysql"
    """MySQL and MariaDB: each DDL statement commits on its own."""
    BIGQUERY = "bigquery"
    """Google BigQuery (GoogleSQL DDL); existing columns cannot become REQUIRED."""

    @property
    def transactional_ddl(self) -> bool:
        """Whether DDL statements can be rolled back with the rest of a transaction."""
        return self in (Dialect.POSTGRESQL, Dialect.SQLITE)


_ALIASES = {"postgres": Dialect.POSTGRESQL, "pg": Dialect.POSTGRESQL, "mariadb": Dialect.MYSQL}


def parse_dialect(value: Dialect | str) -> Dialect:
    """Read a dialect as people write it (``postgresql``, ``postgres``, ``MariaDB``...); raises MigrationError."""
    if isinstance(value, Dialect):
        return value
    text = str(value).strip().lower()
    if text in _ALIASES:
        return _ALIASES[text]
    try:
        return Dialect(text)
    except ValueError:
        known = ", ".join(d.value for d in Dialect)
        raise MigrationError(f"unknown SQL dialect {value!r}; use one of: {known}") from None
