"""Reading a table's shape from the source database through SQLAlchemy reflection."""

from __future__ import annotations

import difflib

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from datapipe.errors import SourceError, UnknownTableError
from datapipe.source import shown


def reflect_table(engine: Engine, name: str, schema: str | None) -> sa.Table:
    """Reflect table ``name`` (matched case-insensitively, as users write Oracle names in upper case).

    Oracle reflects unquoted names in lower case and PostgreSQL folds them to lower case, so ``VENTAS_CABECERA``
    in the config finds ``ventas_cabecera`` in either.
    """
    try:
        inspector = sa.inspect(engine)
        names = list(inspector.get_table_names(schema=schema)) + list(inspector.get_view_names(schema=schema))
        match = _match(name, names)
        if match is None:
            where = f"{shown(engine.url)}" + (f" schema {schema!r}" if schema else "")
            by_folded = {n.lower(): n for n in names}
            close = [by_folded[n] for n in difflib.get_close_matches(name.lower(), list(by_folded), n=3)]
            hint = f"did you mean: {', '.join(close)}?" if close else "check tables[].name and source.schema"
            raise UnknownTableError(name, where, sorted(names), hint=hint)
        table = sa.Table(match, sa.MetaData(), autoload_with=engine, schema=schema)
        if engine.dialect.name == "sqlite":
            _sqlite_zoned_timestamps(engine, table)
        return table
    except SQLAlchemyError as error:
        raise SourceError(shown(engine.url), _first_line(error)) from None


def _sqlite_zoned_timestamps(engine: Engine, table: sa.Table) -> None:
    # SQLite keeps the declared type's text, but SQLAlchemy reads `TIMESTAMP WITH TIME ZONE` by its affinity
    # (NUMERIC); the declared text says it holds instants.
    with engine.connect() as connection:
        declared = {row[1]: str(row[2]).upper() for row in connection.exec_driver_sql(
            f"PRAGMA table_info({connection.dialect.identifier_preparer.quote(table.name)})")}
    for column in table.columns:
        text = " ".join(declared.get(column.name, "").split())
        if "WITH TIME ZONE" in text or "WITH LOCAL TIME ZONE" in text or text == "TIMESTAMPTZ":
            column.type = sa.DateTime(timezone=True)


def _match(name: str, names: list[str]) -> str | None:
    if name in names:
        return name
    folded = [n for n in names if n.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def _first_line(error: Exception) -> str:
    # Driver messages can run to many lines (SQL, parameters, links); the first says what went wrong.
    text = str(getattr(error, "orig", None) or error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


def find_column(table: sa.Table, name: str) -> sa.Column[object] | None:
    """The column called ``name`` in ``table`` (case-insensitive), or ``None``."""
    for column in table.columns:
        if column.name == name or column.name.lower() == name.lower():
            return column
    return None
