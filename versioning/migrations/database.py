"""Migrating a live database by URL, with a version table that says where each subject's table stands.

As Alembic keeps ``alembic_version``, the database keeps ``versioning_version``: one row per subject with the
version its table is at. ``upgrade``/``downgrade`` read it, run the migration (:func:`apply_migration`) and
move the row in the same transaction, so on PostgreSQL and SQLite the table and its recorded version change
together or not at all. MySQL and MariaDB commit each DDL statement on their own: there each step is run and
recorded in turn, so after a failure the record names the last version the table fully reached (the steps
before the failing one stay applied; the failing step's own earlier statements may too, as the error says).

A subject's table that does not exist yet is created at the target version; one that exists without a row (a
table made before it was versioned) must be told its version once (``from_version``), as Alembic's ``stamp``.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from versioning.migrations.dialects import parse_dialect
from versioning.migrations.errors import MigrationError
from versioning.migrations.runner import apply_migration
from versioning.migrations.script import create_table_sql
from versioning.registry import Subject

VERSION_TABLE = "versioning_version"
"""The table that records each subject's version in a database."""


@dataclass(frozen=True)
class MigrationOutcome:
    """What :func:`migrate_database` did: from which version to which, and the statements it ran."""

    subject: str
    table: str
    from_version: int | None
    """None when the table did not exist and was created."""
    to_version: int
    statements: list[str]

    def __str__(self) -> str:
        if self.from_version is None:
            return f"{self.subject}: created table {self.table!r} at v{self.to_version}"
        if self.from_version == self.to_version:
            return f"{self.subject}: table {self.table!r} is already at v{self.to_version}; nothing to do"
        return (
            f"{self.subject}: table {self.table!r} moved from v{self.from_version} to v{self.to_version} "
            f"({len(self.statements)} statements)"
        )


def version_table(schema: str | None = None) -> sa.Table:
    """The version table (in ``schema``, the tables' namespace, when given)."""
    return sa.Table(
        VERSION_TABLE,
        sa.MetaData(),
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column("table_name", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        schema=schema,
    )


def open_database(url: str) -> Engine:
    """An engine for a SQLAlchemy URL; a malformed URL or a missing driver is a :class:`MigrationError`.

    The password never appears in a message (``URL.render_as_string(hide_password=True)``).
    """
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise MigrationError(
            "the database URL is not a SQLAlchemy URL; write it as dialect+driver://user@host/database"
        ) from None
    try:
        return sa.create_engine(parsed)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as err:
        shown = parsed.render_as_string(hide_password=True)
        raise MigrationError(f"cannot use the database {shown}: {err}") from None


def current_version(bind: Engine | Connection, subject: Subject, *, schema: str | None = None) -> int | None:
    """The version ``subject``'s table is at, as the version table records it; None when it records none."""
    with _connection(bind) as connection:
        if not sa.inspect(connection).has_table(VERSION_TABLE, schema=schema):
            return None
        table = version_table(schema)
        found = connection.execute(sa.select(table.c.version).where(table.c.subject == subject.name)).scalar()
        return int(found) if found is not None else None


def migrate_database(
    bind: Engine,
    subject: Subject,
    to_version: int | None = None,
    *,
    from_version: int | None = None,
    schema: str | None = None,
) -> MigrationOutcome:
    """Move ``subject``'s table to ``to_version`` (default: the newest), up or down, and record it.

    ``from_version`` is needed only for a table that exists but is not recorded yet; given for a recorded
    table, it must agree with the record. Raises :class:`MigrationError` (what failed, and what was kept).
    """
    target = subject.version_number(to_version if to_version is not None else subject.latest)
    _describe_failures(bind)
    with bind.connect() as connection:
        exists = sa.inspect(connection).has_table(subject.table, schema=schema)
    recorded = current_version(bind, subject, schema=schema)
    start = _start(subject, recorded, from_version, exists)
    with bind.connect() as connection:
        version_table(schema).create(connection, checkfirst=True)
        connection.commit()
    if start is None:
        with bind.connect() as connection, connection.begin():
            create = create_table_sql(subject, target, connection.dialect.name, schema=schema).strip()
            connection.exec_driver_sql(create.removesuffix(";"), execution_options={"no_parameters": True})
            _record(connection, subject, target, schema, update=False)
        return MigrationOutcome(subject.name, subject.table, None, target, [create])
    # Where DDL is transactional, the whole move and its record are one transaction. Elsewhere (MySQL, MariaDB)
    # each step is recorded as soon as it is done, so after a failure the record names the version the table
    # is really at, and running the command again goes on from there.
    transactional = parse_dialect(bind.dialect.name).transactional_ddl
    stops = [target] if transactional else _versions_between(start, target)
    statements: list[str] = []
    here, update = start, recorded is not None
    for stop in stops:
        with bind.connect() as connection, connection.begin():
            if here != stop:
                statements += apply_migration(connection, subject, here, stop, schema=schema)
            _record(connection, subject, stop, schema, update)
        here, update = stop, True
    return MigrationOutcome(subject.name, subject.table, start, target, statements)


def _versions_between(start: int, end: int) -> list[int]:
    """The versions after ``start`` up to ``end``, in the order a migration passes them (``[end]`` if equal)."""
    if start == end:
        return [end]
    step = 1 if end > start else -1
    return list(range(start + step, end + step, step))


def _start(subject: Subject, recorded: int | None, given: int | None, exists: bool) -> int | None:
    if given is not None:
        given = subject.version_number(given)
    if recorded is not None:
        if given is not None and given != recorded:
            raise MigrationError(
                f"the database records {subject.table!r} at v{recorded}, not v{given}; leave out --from, "
                "or correct the version table if the record is wrong",
                subject=subject.name,
            )
        return recorded
    if given is not None:
        if not exists:
            raise MigrationError(
                f"--from {given} was given but the table {subject.table!r} does not exist; leave out --from "
                "to create it",
                subject=subject.name,
            )
        return given
    if exists:
        raise MigrationError(
            f"the table {subject.table!r} exists but its version is not recorded; say which version it is "
            "once with --from N",
            subject=subject.name,
        )
    return None


def _record(connection: Connection, subject: Subject, version: int, schema: str | None, update: bool) -> None:
    table = version_table(schema)
    if update:
        connection.execute(table.update().where(table.c.subject == subject.name).values(version=version))
    else:
        connection.execute(table.insert().values(subject=subject.name, table_name=subject.table, version=version))


def _describe_failures(bind: Engine) -> None:
    """Fail early, with the URL (password hidden), when the database cannot be reached at all."""
    try:
        with bind.connect():
            pass
    except sa.exc.DBAPIError as err:
        shown = bind.url.render_as_string(hide_password=True)
        raise MigrationError(f"cannot connect to {shown}: {err.orig}") from None


class _connection:
    """A connection for a read: the given one, or a new one from an engine (closed afterwards)."""

    def __init__(self, bind: Engine | Connection) -> None:
        self.bind = bind
        self.owned: Connection | None = None

    def __enter__(self) -> Connection:
        if isinstance(self.bind, Connection):
            return self.bind
        self.owned = self.bind.connect()
        return self.owned

    def __exit__(self, *exc: object) -> None:
        if self.owned is not None:
            self.owned.close()
