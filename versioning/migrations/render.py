"""SQL for the planned changes, rendered by Alembic's operations in offline mode for each dialect.

Alembic knows each database's DDL (PostgreSQL's ``ALTER COLUMN ... TYPE``, MySQL's ``MODIFY``/``CHANGE``
that restate the column, SQLite's lack of ``ALTER COLUMN``), so statements are never assembled from
strings here. SQLite cannot change a column's type or nullability in place: those changes rebuild the
table with Alembic's batch mode (create a copy, copy the rows, drop, rename), which is SQLite's documented
procedure. DROP and RENAME COLUMN are native since SQLite 3.35 and 3.25.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement

from versioning.migrations.columns import ColumnSpec
from versioning.migrations.dialects import Dialect
from versioning.migrations.literals import literal
from versioning.migrations.plan import (
    AddColumn,
    Change,
    ChangeNullability,
    ChangeType,
    DropColumn,
    FillFromColumn,
    FillWithValue,
    RefuseNarrowing,
    RenameColumn,
    TableShape,
)
from versioning.values import FLOAT_MAX, INT_RANGE, LONG_RANGE


@dataclass(frozen=True)
class Note:
    """A remark for the script's reader (a comment), e.g. why a change is left out on this database."""

    text: str


Rendered = list[str | Note]
"""Statements (without their terminating ``;``) and notes, in order."""


class _StatementBuffer(io.StringIO):
    """Alembic's offline output, one ``write`` per statement: kept as a list instead of a text."""

    def __init__(self) -> None:
        super().__init__()
        self.statements: list[str] = []

    def write(self, text: str) -> int:
        # Alembic leaves a space before each newline in CREATE TABLE; a script should not carry it.
        statement = "\n".join(line.rstrip() for line in text.strip().splitlines())
        if statement:
            self.statements.append(statement.removesuffix(";").rstrip())
        return len(text)


class AlembicRenderer:
    """Renders changes to one table for PostgreSQL or MySQL/MariaDB (and the base of the others)."""

    def __init__(self, dialect: Dialect, table: str, schema: str | None = None) -> None:
        self.dialect = dialect
        self.table = table
        self.schema = schema
        self._buffer = _StatementBuffer()
        context = MigrationContext.configure(
            dialect_name=dialect.value,
            # Named parameters stop the psycopg2/pymysql dialects from doubling '%' in literal strings.
            dialect_opts={"paramstyle": "named"},
            opts={"as_sql": True, "output_buffer": self._buffer, "literal_binds": True},
        )
        self.op = Operations(context)

    def take(self) -> list[str]:
        """The statements rendered since the last call."""
        statements, self._buffer.statements = self._buffer.statements, []
        return statements

    def create_table(self, columns: list[ColumnSpec]) -> Rendered:
        """``CREATE TABLE`` with the given columns."""
        self.op.create_table(self.table, *(c.column() for c in columns), schema=self.schema)
        return list(self.take())

    def render(self, change: Change, shape: TableShape) -> Rendered:
        """The SQL for one change to a table that currently has ``shape``."""
        if isinstance(change, AddColumn):
            self.op.add_column(self.table, change.column.column(), schema=self.schema)
        elif isinstance(change, FillWithValue):
            table = self.table_clause(shape)
            target = table.c[change.column.name]
            self.op.execute(
                sa.update(table).values({target: literal(change.value, change.column.type)}).where(target.is_(None))
            )
        elif isinstance(change, FillFromColumn):
            table = self.table_clause(shape)
            target, source = table.c[change.column.name], table.c[change.source.name]
            value: Any = source if change.source.same_type(change.column) else sa.cast(source, change.column.type)
            self.op.execute(sa.update(table).values({target: value}).where(target.is_(None)))
        elif isinstance(change, RenameColumn):
            self.op.alter_column(
                self.table,
                change.column.name,
                new_column_name=change.new_name,
                existing_type=change.column.type,
                existing_nullable=change.column.nullable,
                schema=self.schema,
            )
        elif isinstance(change, DropColumn):
            self.op.drop_column(self.table, change.column.name, schema=self.schema)
        elif isinstance(change, ChangeType):
            self.change_type(change, shape)
        elif isinstance(change, RefuseNarrowing):
            self.refuse_narrowing(change, shape)
        elif isinstance(change, ChangeNullability):
            self.change_nullability(change, shape)
        else:
            return list[str | Note](
                change.for_dialect(self.dialect.value, f"{self.schema}.{self.table}" if self.schema else self.table)
            )
        return list(self.take())

    def finish_step(self, shape: TableShape) -> Rendered:
        """Statements a step still needs after its last change (none here; SQLite's table rebuild)."""
        return []

    def change_type(self, change: ChangeType, shape: TableShape) -> None:
        """Alter a column's type; PostgreSQL is told how to convert text and bytes, which it will not guess."""
        using: dict[str, Any] = {}
        if self.dialect is Dialect.POSTGRESQL:
            conversion = _postgresql_conversion(change.column, change.new)
            if conversion is not None:
                using["postgresql_using"] = conversion
        self.op.alter_column(
            self.table,
            change.column.name,
            type_=change.new.type,
            existing_type=change.column.type,
            existing_nullable=change.column.nullable,
            schema=self.schema,
            **using,
        )

    def refuse_narrowing(self, change: RefuseNarrowing, shape: TableShape) -> None:
        """Fail (a CHECK constraint on a temporary table) if any value would change in the narrower type.

        No dialect here can raise an error from plain SQL, but all enforce CHECK constraints: the count of
        rows whose value would change goes into a table that only takes 0, so the statement fails, and the
        constraint's name in the database's message says which column and why.
        """
        table = self.table_clause(shape)
        name = change.column.name
        guard = sa.Table(
            f"versioning_guard_{name}"[:60],
            sa.MetaData(),
            sa.Column("changed_rows", sa.Integer(), nullable=False),
            sa.CheckConstraint("changed_rows = 0", name=f"{name}_would_change_as_{change.new.kind}"[:60]),
            prefixes=["TEMPORARY"],
        )
        changed = sa.select(sa.func.count()).select_from(table).where(narrowing_changes(table.c[name], change))
        self.op.execute(sa.schema.CreateTable(guard, if_not_exists=True))
        self.op.execute(sa.insert(guard).from_select(["changed_rows"], changed))
        self.op.execute(sa.schema.DropTable(guard))

    def change_nullability(self, change: ChangeNullability, shape: TableShape) -> None:
        """Make a column ``NOT NULL`` or nullable."""
        self.op.alter_column(
            self.table,
            change.column.name,
            nullable=change.new.nullable,
            existing_type=change.column.type,
            schema=self.schema,
        )

    def table_clause(self, shape: TableShape) -> sa.TableClause:
        """The table as a SQL expression, for UPDATE statements."""
        return sa.table(self.table, *(sa.column(c.name, c.type) for c in shape.columns.values()), schema=self.schema)


class SQLiteRenderer(AlembicRenderer):
    """SQLite: type and nullability changes rebuild the table (Alembic's batch mode); the rest is native.

    A rebuild copies every row, so the type and ``NOT NULL`` changes of a step are collected and made in one
    rebuild at the end of the step (after the step's backfills, which is also what ``NOT NULL`` needs).
    """

    def __init__(self, dialect: Dialect, table: str, schema: str | None = None) -> None:
        super().__init__(dialect, table, schema)
        self._pending: dict[str, ColumnSpec] = {}
        """Columns whose type or nullability is to change, as the database has them now."""

    def render(self, change: Change, shape: TableShape) -> Rendered:
        if isinstance(change, RefuseNarrowing) and change.new.kind == "float":
            return [Note(f"{change.column.name}: SQLite stores float and double alike (8-byte REAL); no value changes")]
        if isinstance(change, (ChangeType, ChangeNullability)):
            self._pending.setdefault(change.column.name, change.column)
            return [Note(f"{change.column.name} changes when the table is rebuilt at the end of this step")]
        if isinstance(change, RenameColumn) and change.column.name in self._pending:
            before = self._pending.pop(change.column.name)
            self._pending[change.new_name] = ColumnSpec(change.new_name, before.type, before.nullable, before.kind)
        elif isinstance(change, DropColumn):
            self._pending.pop(change.column.name, None)
        return super().render(change, shape)

    def finish_step(self, shape: TableShape) -> Rendered:
        if not self._pending:
            return []
        # Offline, Alembic cannot read the table, so it is given the table as the database has it now.
        now = [self._pending.get(name, spec).column() for name, spec in shape.columns.items()]
        current = sa.Table(self.table, sa.MetaData(), *now, schema=self.schema)
        with self.op.batch_alter_table(self.table, schema=self.schema, copy_from=current, recreate="always") as batch:
            for name, before in self._pending.items():
                after = shape.columns[name]
                batch.alter_column(name, type_=after.type, nullable=after.nullable, existing_type=before.type)
        self._pending.clear()
        return list(self.take())


class Float32(ColumnElement[float]):
    """A value rounded to a 32-bit float, as a ``float`` column would store it."""

    inherit_cache = True
    type = sa.Double()

    def __init__(self, value: ColumnElement[Any]) -> None:
        self.value = value


@compiles(Float32)
def _float32(element: Float32, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.value, **kw)} AS REAL)"


@compiles(Float32, "mysql")
@compiles(Float32, "mariadb")
def _float32_mysql(element: Float32, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.value, **kw)} AS FLOAT)"


def narrowing_changes(column: ColumnElement[Any], change: RefuseNarrowing) -> ColumnElement[bool]:
    """True for a row whose value would change (or not fit) in the narrower type."""
    if change.new.kind == "float":
        outside = sa.or_(column > FLOAT_MAX, column < -FLOAT_MAX)
        return sa.case((outside, sa.true()), else_=Float32(column) != column) == sa.true()
    low, high = INT_RANGE if change.new.kind == "int" else LONG_RANGE
    outside = sa.or_(column < low, column > high)
    # CASE: the cast runs only for values in range (PostgreSQL raises on a cast out of range).
    return sa.case((outside, sa.true()), else_=sa.cast(column, change.new.type) != column) == sa.true()


def _postgresql_conversion(old: ColumnSpec, new: ColumnSpec) -> str | None:
    """The ``USING`` expression for conversions PostgreSQL has no automatic cast for."""
    column: sa.ColumnClause[Any] = sa.column(old.name)
    if isinstance(old.type, sa.Text) and isinstance(new.type, sa.LargeBinary):
        expression = sa.func.convert_to(column, sa.literal("UTF8"))
    elif isinstance(old.type, sa.LargeBinary) and isinstance(new.type, sa.Text):
        expression = sa.func.convert_from(column, sa.literal("UTF8"))
    else:
        return None
    return str(expression.compile(compile_kwargs={"literal_binds": True}))
