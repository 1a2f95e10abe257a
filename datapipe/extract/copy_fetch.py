"""PostgreSQL rows fetched as columns: ``COPY (SELECT ...) TO STDOUT`` in CSV, parsed in batches by Arrow.

psycopg builds a Python object per value; at a million rows that alone costs more than the whole budget of an
extraction. Here the server writes CSV, psycopg hands over its bytes, and ``pyarrow.csv``'s streaming reader parses
them straight into typed Arrow columns (one batch per block of :data:`BLOCK_BYTES`, so memory stays bounded
whatever the table size). The columns then go to the Avro block writer unchanged.

Only the types whose CSV text Arrow parses to exactly the value the reference path (psycopg objects through
:mod:`datapipe.extract.values`) gives take this path; :func:`plan` returns ``None`` for any other table, which then
takes the reference path. How exactness is kept:

- NULL is CSV's unquoted empty field, an empty string the quoted ``""``: Arrow is told that only unquoted empty
  fields are null.
- The session is pinned for the transaction (``SET LOCAL``): ``TimeZone`` UTC (``timestamptz`` prints ``+00``),
  ``DateStyle`` ISO, ``extra_float_digits`` 1 (shortest exact text of a double), ``bytea_output`` hex,
  ``client_encoding`` UTF8.
- Floats, including ``NaN`` and ``±Infinity``, are parsed by a correctly rounded parser; ``real`` read into an Avro
  ``float`` goes through a double first, as the reference path does.
- Decimals are parsed into ``decimal128(p, s)``, which refuses to round; wider ones through Python's ``Decimal``.
- A value Arrow cannot parse exactly (``infinity`` or BC timestamps, years past 9999, numeric ``NaN``, a NULL in a
  required field) raises :class:`NotExact`: the caller discards what it wrote and re-reads the table by the
  reference path, which writes the value or refuses it with its own message.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa

from datapipe.extract.avro_columns import arrow_type

BLOCK_BYTES = 4 << 20
"""CSV bytes parsed per batch (about 25,000 rows of a 12-column table): the bound on what is held in memory."""

SESSION = (
    "SET LOCAL TimeZone = 'UTC'",
    "SET LOCAL DateStyle = 'ISO, MDY'",
    "SET LOCAL extra_float_digits = 1",
    "SET LOCAL bytea_output = 'hex'",
    "SET LOCAL client_encoding = 'UTF8'",
)


class NotExact(Exception):
    """A value the CSV path cannot carry exactly: the table is re-read by the reference path."""


@dataclass(frozen=True)
class _Column:
    name: str
    kind: str
    nullable: bool
    parse_as: pa.DataType
    target: pa.DataType


def _kind(avro: Any) -> tuple[str, bool]:
    nullable = isinstance(avro, list) and "null" in avro
    branch = next(b for b in avro if b != "null") if isinstance(avro, list) else avro
    kind = branch if isinstance(branch, str) else branch.get("logicalType") or branch["type"]
    return kind, nullable


def _accepts(column_type: sa.types.TypeEngine[Any], kind: str) -> bool:
    """Whether the CSV text of this PostgreSQL type, read as Avro ``kind``, parses to the reference path's value."""
    if isinstance(column_type, sa.Boolean):
        return kind == "boolean"
    if isinstance(column_type, sa.Integer):
        return kind in ("int", "long")
    if isinstance(column_type, sa.Float):
        return kind in ("double", "float")
    if isinstance(column_type, sa.Numeric):
        return kind == "decimal"
    if isinstance(column_type, sa.DateTime):
        return kind == ("timestamp-micros" if getattr(column_type, "timezone", False) else "local-timestamp-micros")
    if isinstance(column_type, sa.Date):
        return kind == "date"
    if isinstance(column_type, sa.LargeBinary):
        return kind == "bytes"
    if isinstance(column_type, sa.Enum | sa.String) and not isinstance(column_type, sa.Uuid):
        return kind == "string"
    return False


def plan(columns: list[sa.Column[Any]], fields: list[dict[str, Any]]) -> list[_Column] | None:
    """How each field is parsed from CSV, or ``None`` when some column's type is not parsed exactly here."""
    planned = []
    for column, field in zip(columns, fields, strict=True):
        kind, nullable = _kind(field["type"])
        if not _accepts(column.type, kind):
            return None
        target = arrow_type(field["type"])
        if kind == "float":
            parse_as: pa.DataType = pa.float64()
        elif kind == "bytes" or (kind == "decimal" and isinstance(target, pa.Decimal256Type)):
            parse_as = pa.string()
        else:
            parse_as = target
        planned.append(_Column(field["name"], kind, nullable, parse_as, target))
    return planned


class _CopyStream(io.RawIOBase):
    """The bytes of a COPY in progress as a readable stream (psycopg hands them over a row at a time)."""

    def __init__(self, copy: Any) -> None:
        super().__init__()
        self._copy = copy
        self._buffer = bytearray()
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        buffer = self._buffer
        while not self._done and (size < 0 or len(buffer) < size):
            data = self._copy.read()
            if not data:
                self._done = True
                break
            buffer += data
        if size < 0 or size >= len(buffer):
            out = bytes(buffer)
            buffer.clear()
        else:
            out = bytes(buffer[:size])
            del buffer[:size]
        return out

    def empty(self) -> bool:
        """Whether the COPY sent no row at all (Arrow refuses an empty CSV)."""
        if not self._buffer and not self._done:
            data = self._copy.read()
            if data:
                self._buffer += data
            else:
                self._done = True
        return not self._buffer

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)


def batches(dbapi_connection: Any, select_sql: str, columns: list[_Column]) -> Any:
    """Yield ``(arrays, rows)`` for the rows of ``select_sql``, each array typed as the Avro writer expects.

    Raises :class:`NotExact` (the COPY abandoned, the transaction rolled back) on a value not carried exactly."""
    names = [c.name for c in columns]
    # Serial: the threaded reader reads blocks ahead of the writer, which is the slower side, so it would hold more
    # of the table than one block.
    read_options = pacsv.ReadOptions(column_names=names, block_size=BLOCK_BYTES, use_threads=False)
    # Quoted newlines only come from text columns; without any, Arrow splits blocks faster.
    texts = any(c.parse_as in (pa.string(), pa.large_string()) for c in columns)
    parse_options = pacsv.ParseOptions(newlines_in_values=texts)
    convert_options = pacsv.ConvertOptions(
        column_types={c.name: c.parse_as for c in columns}, null_values=[""], strings_can_be_null=True,
        quoted_strings_can_be_null=False, true_values=["t"], false_values=["f"],
    )
    cursor = dbapi_connection.cursor()
    try:
        for statement in SESSION:
            cursor.execute(statement)
        with cursor.copy(f"COPY ({select_sql}) TO STDOUT WITH (FORMAT csv)") as copy:
            stream = _CopyStream(copy)
            if stream.empty():
                return
            try:
                reader = pacsv.open_csv(stream, read_options=read_options,
                                        parse_options=parse_options, convert_options=convert_options)
                for batch in reader:
                    arrays = [_finish(column, batch.column(index)) for index, column in enumerate(columns)]
                    yield arrays, batch.num_rows
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, ArithmeticError) as error:
                raise NotExact(str(error)) from None
    finally:
        cursor.close()


def _finish(column: _Column, array: pa.Array) -> pa.Array:
    if array.null_count and not column.nullable:
        raise NotExact(f"a NULL in required field {column.name}")
    if column.kind == "bytes":
        return pa.array([None if v is None else _unhex(v) for v in array.to_pylist()], pa.binary())
    if column.kind == "decimal" and column.parse_as != column.target:
        return pa.array([None if v is None else Decimal(v) for v in array.to_pylist()], column.target)
    if column.kind == "float":
        doubles = array.to_numpy(zero_copy_only=False)
        with np.errstate(over="ignore"):
            singles = doubles.astype(np.float32)
        if np.any(np.isinf(singles) & ~np.isinf(doubles)):
            raise NotExact(f"a value of {column.name} beyond an Avro float")
        return pa.array(singles, pa.float32(), mask=array.is_null().to_numpy(zero_copy_only=False))
    return array


def _unhex(text: str) -> bytes:
    if not text.startswith("\\x"):
        raise NotExact("bytea not in hex format")
    return bytes.fromhex(text[2:])
