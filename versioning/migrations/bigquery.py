"""BigQuery: the PostgreSQL rendering, transpiled by sqlglot, with BigQuery's own DDL rules applied.

Alembic has no BigQuery dialect, and the ``sqlalchemy-bigquery`` package brings the Google Cloud client
libraries with it, so the statements are rendered for PostgreSQL and transpiled with sqlglot (types become
``STRING``, ``INT64``, ``FLOAT64``, ``BYTES``...). Where BigQuery's DDL differs, the statement is built on
sqlglot's syntax tree or replaced:

- ``ADD COLUMN IF NOT EXISTS`` and ``DROP COLUMN IF EXISTS``: BigQuery DDL is not transactional, so a script
  that stopped half way can be run again;
- a column cannot become ``REQUIRED`` after it is created: such a change is left out with a note, and the
  column stays ``NULLABLE`` (a fresh table from ``create_table_sql`` has it ``NOT NULL``);
- ``ALTER COLUMN ... SET DATA TYPE`` only widens ``INT64`` and ``NUMERIC``; other type changes (a demotion
  on the way down, ``STRING`` to ``BYTES``) go through a new column: add, fill with ``CAST``, drop the old
  one, rename the new one into its place;
- bytes and JSON constants become ``FROM_HEX(...)`` and ``PARSE_JSON(...)``.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlglot
from sqlalchemy.dialects import postgresql
from sqlglot import exp

from versioning.exports.bigquery import decimal_type
from versioning.exports.errors import ExportError
from versioning.migrations.columns import ColumnSpec
from versioning.migrations.dialects import Dialect
from versioning.migrations.errors import MigrationError
from versioning.migrations.plan import (
    AddColumn,
    Change,
    ChangeNullability,
    ChangeType,
    DropColumn,
    RefuseNarrowing,
    RenameColumn,
    TableShape,
)
from versioning.migrations.render import AlembicRenderer, Note, Rendered, narrowing_changes

# BigQuery's "ALTER COLUMN SET DATA TYPE" accepts only these coercions.
WIDENINGS = {
    ("INT64", "NUMERIC"),
    ("INT64", "BIGNUMERIC"),
    ("INT64", "FLOAT64"),
    ("NUMERIC", "BIGNUMERIC"),
    ("NUMERIC", "FLOAT64"),
}
TEMPORARY_PREFIX = "_migrating_"


class BigQueryRenderer:
    """Renders changes to one BigQuery table (``schema`` is its dataset)."""

    dialect = Dialect.BIGQUERY

    def __init__(self, table: str, schema: str | None = None) -> None:
        self.table = table
        self.schema = schema
        self._postgresql = AlembicRenderer(Dialect.POSTGRESQL, table, schema)

    def create_table(self, columns: list[ColumnSpec]) -> Rendered:
        """``CREATE TABLE`` with the given columns."""
        return [_transpile(s) for s in self._postgresql.create_table(columns) if isinstance(s, str)]

    def render(self, change: Change, shape: TableShape) -> Rendered:
        """The SQL for one change to a table that currently has ``shape``."""
        op = self._postgresql.op
        if isinstance(change, AddColumn):
            op.add_column(self.table, change.column.column(), schema=self.schema, if_not_exists=True)
            return [_transpile(s) for s in self._postgresql.take()]
        if isinstance(change, DropColumn):
            op.drop_column(self.table, change.column.name, schema=self.schema, if_exists=True)
            return [_transpile(s) for s in self._postgresql.take()]
        if isinstance(change, RenameColumn):
            return [self.rename(change.column.name, change.new_name)]
        if isinstance(change, ChangeNullability) and not change.new.nullable:
            return [Note(f"BigQuery cannot make the existing column {change.column.name} REQUIRED; it stays NULLABLE")]
        if isinstance(change, ChangeType):
            return self.change_type(change, shape)
        if isinstance(change, RefuseNarrowing):
            return [self.refuse_narrowing(change, shape)]
        return [_transpile(s) for s in self._postgresql.render(change, shape) if isinstance(s, str)]

    def finish_step(self, shape: TableShape) -> Rendered:
        """Statements a step still needs after its last change: none on BigQuery."""
        return []

    def change_type(self, change: ChangeType, shape: TableShape) -> Rendered:
        old, new = _bigquery_type(change.column), _bigquery_type(change.new)
        if old == new:
            return [Note(f"{change.column.name} is {new} in BigQuery either way; nothing to change")]
        if (old, new) in WIDENINGS:
            alter = exp.AlterColumn(
                this=exp.to_identifier(change.column.name),
                dtype=exp.DataType.build(new, dialect="bigquery"),
            )
            return [self.alter(alter)]
        name = change.column.name
        temporary = f"{TEMPORARY_PREFIX}{name}"
        moved = ColumnSpec(temporary, change.new.type, True, change.new.kind)
        widened = TableShape({**shape.columns, temporary: moved})
        rendered: Rendered = [
            Note(f"BigQuery cannot change {name} from {old} to {new} in place: copy it through {temporary}"),
            *self.render(AddColumn(moved), shape),
        ]
        table = self._postgresql.table_clause(widened)
        self._postgresql.op.execute(
            sa.update(table).values({table.c[temporary]: sa.cast(table.c[name], change.new.type)}).where(sa.true())
        )
        rendered += [_transpile(s) for s in self._postgresql.take()]
        rendered += self.render(DropColumn(change.column), widened)
        rendered.append(self.rename(temporary, name))
        if not change.column.nullable:
            rendered.append(Note(f"{name} was REQUIRED; BigQuery cannot make it REQUIRED again, it is NULLABLE"))
        return rendered

    def refuse_narrowing(self, change: RefuseNarrowing, shape: TableShape) -> str:
        """BigQuery's ``ASSERT``: the script stops if any value would change in the narrower type."""
        table = self._postgresql.table_clause(shape)
        column = table.c[change.column.name]
        query = sa.select(sa.literal(1)).select_from(table).where(narrowing_changes(column, change))
        select = _transpile(str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})))
        message = f"{change.column.name} holds values that would change as {change.new.kind}"
        return f"ASSERT NOT EXISTS ({select}) AS '{message}'"

    def rename(self, old: str, new: str) -> str:
        """``ALTER TABLE ... RENAME COLUMN old TO new`` (sqlglot misreads PostgreSQL's shorter form)."""
        return self.alter(exp.RenameColumn(this=exp.column(old), to=exp.column(new)))

    def alter(self, action: exp.Expression) -> str:
        table = exp.table_(self.table, db=self.schema)
        return exp.Alter(this=table, kind="TABLE", actions=[action]).sql("bigquery")


def _bigquery_type(column: ColumnSpec) -> str:
    rendered = column.type.compile(dialect=postgresql.dialect())
    return _decimals(exp.DataType.build(rendered, dialect="postgres")).sql("bigquery")


def _decimals(node: exp.Expression) -> exp.Expression:
    """``NUMERIC(P, S)`` as BigQuery takes it: NUMERIC or BIGNUMERIC by its rules, as the BigQuery export says."""
    if not isinstance(node, exp.DataType) or not node.is_type(exp.DataType.Type.DECIMAL):
        return node
    params = [int(p.name) for p in node.expressions]
    if not params:
        return node
    precision, scale = params[0], params[1] if len(params) > 1 else 0
    try:
        bq_type, p, s = decimal_type(precision, scale)
    except ExportError as err:
        raise MigrationError(f"a decimal({precision}, {scale}) column: {err.message}") from None
    text = bq_type if p is None else f"{bq_type}({p}, {s})"
    return exp.DataType.build(text, dialect="bigquery")


def _transpile(statement: str | Note) -> str:
    """A PostgreSQL statement in BigQuery's syntax, with bytes and JSON constants in BigQuery's functions."""
    assert isinstance(statement, str)
    tree = sqlglot.parse_one(statement, read="postgres")

    def to_bigquery(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Decode) and node.args.get("charset") == exp.Literal.string("hex"):
            return exp.Unhex(this=node.this)
        if isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.JSON):
            return exp.ParseJSON(this=node.this)
        if isinstance(node, exp.DataType):
            return _decimals(node)
        if isinstance(node, exp.Column) and node.args.get("table"):
            # PostgreSQL's "schema.table.column" would read as a field path in BigQuery; UPDATE has one table.
            return exp.column(node.this)
        return node

    return tree.transform(to_bigquery).sql("bigquery")
