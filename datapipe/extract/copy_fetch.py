"""PostgreSQL rows fetched as columns: ``COPY (SELECT ...) TO STDOUT`` in CSV, parsed in batches by Arrow.

psycopg builds a Python object per value; at a million rows that alone costs more than the whole budget of an
extraction. Here the server writes CSV, psycopg hands over its bytes, and a thread of its own gathers them into
blocks of whole rows (:data:`BLOCK_BYTES`) and has ``pyarrow.csv`` parse each straight into typed Arrow columns,
while the caller encodes the previous block: at most a few blocks are held, whatever the table size. The columns
then go to the Avro block writer unchanged.

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

import contextlib
import queue
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa

from datapipe.extract.avro_columns import arrow_type

BLOCK_BYTES = 4 << 20
"""CSV bytes parsed per batch (about 25,000 rows of a 12-column table): with the blocks in flight (one being read,
one parsed and waiting, one being encoded, one being deflated), the bound on what is held in memory."""

STOP_GRACE_SECONDS = 1.0
"""How long a stopped fetch thread may wait for the server before its query is cancelled."""

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


class _CopyRows:
    """The rows of a COPY in progress, gathered into blocks (:meth:`fill`).

    psycopg's ``Copy.read()`` costs about a microsecond and a half a row in Python (a generator and its wait loop
    per call), as much as parsing and encoding the row. libpq receives many rows per network read, so the rows it
    already holds are taken straight from it (``PGconn.get_copy_data`` without waiting); only when it holds none
    does ``Copy.read()`` wait for more (without the GIL). When libpq reports the end of the COPY itself, the COPY's
    final result is read here and an error in it raised as psycopg raises it."""

    def __init__(self, copy: Any, pgconn: Any) -> None:
        self._copy = copy
        self._pgconn = pgconn

    def fill(self, block: bytearray, size: int) -> bool:
        """Append whole rows to ``block`` until it holds ``size`` bytes (True) or the COPY has ended (False)."""
        take = self._pgconn.get_copy_data
        read = self._copy.read
        while len(block) < size:
            count, data = take(1)
            if count > 0:
                block += data
            elif count == 0:
                data = read()
                if not data:
                    return False
                block += data
            else:
                self._end()
                return False
        return True

    def _end(self) -> None:
        import psycopg  # only PostgreSQL extractions get here: other sources do not import it

        pgconn = self._pgconn
        pgconn.consume_input()
        while pgconn.is_busy():
            select.select([pgconn.socket], [], [])
            pgconn.consume_input()
        results = []
        while (result := pgconn.get_result()) is not None:
            results.append(result)
        for result in results:
            if result.status != psycopg.pq.ExecStatus.COMMAND_OK:
                raise psycopg.errors.error_from_result(result, encoding=pgconn._encoding)


class _Blocks:
    """The COPY read and parsed in a thread of its own, one block at a time, while the caller encodes the previous
    one: :meth:`get` returns the next ``(arrays, rows)``, ``None`` at the end, or raises what the thread raised.

    The thread holds at most one parsed block waiting (a queue of one) and the block it is reading: memory stays
    bounded by a few blocks whatever the table size. (``pyarrow.csv``'s streaming reader, used before, reads its
    input ahead on Arrow's I/O thread without such a bound: with the Avro side slower than the server, it held
    dozens of blocks.) PostgreSQL sends each row of a COPY in a message of its own, so a block of whole messages
    is a block of whole rows, quoted newlines included: each is parsed on its own."""

    _END = object()

    def __init__(self, rows: Any, columns: list[_Column], block_bytes: int,
                 cancel: Callable[[], Any] | None = None) -> None:
        self._rows = rows
        self._cancel = cancel
        self._columns = columns
        self._block_bytes = block_bytes
        names = [c.name for c in columns]
        # Quoted newlines only come from text columns; without any, Arrow splits a block faster.
        texts = any(c.parse_as in (pa.string(), pa.large_string()) for c in columns)
        self._parse_options = pacsv.ParseOptions(newlines_in_values=texts)
        self._convert_options = pacsv.ConvertOptions(
            column_types={c.name: c.parse_as for c in columns}, null_values=[""], strings_can_be_null=True,
            quoted_strings_can_be_null=False, true_values=["t"], false_values=["f"],
        )
        self._names = names
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="datapipe-copy-fetch", daemon=True)
        self._thread.start()

    def get(self) -> tuple[list[pa.Array], int] | None:
        item = self._queue.get()
        if item is self._END:
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    def stop(self) -> None:
        """Stop the thread and wait for it: the connection is the caller's again.

        The thread looks at the request between blocks; one left waiting for rows the server is slow to send (a
        long query, a lock) is freed by cancelling the query (``cancel``) after :data:`STOP_GRACE_SECONDS`."""
        self._stopping = True
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        cancel = self._cancel  # once
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get_nowait()  # unblock a put
            self._thread.join(0.05)
            if cancel is not None and time.monotonic() > deadline:
                with contextlib.suppress(Exception):  # best effort: the thread's read then fails and it ends
                    cancel()
                cancel = None

    def _run(self) -> None:
        try:
            more = True
            while more and not self._stopping:
                block = bytearray()
                more = self._rows.fill(block, self._block_bytes)
                if block and not self._put(self._parse(block)):
                    return
            self._put(self._END)
        except BaseException as error:  # re-raised by get() in the caller's thread
            self._put(error)

    def _put(self, item: Any) -> bool:
        while not self._stopping:
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _parse(self, block: bytearray) -> tuple[list[pa.Array], int]:
        # One read of the whole block: the block size given to Arrow is larger than the block.
        read_options = pacsv.ReadOptions(column_names=self._names, block_size=len(block) + 1, use_threads=False)
        try:
            table = pacsv.read_csv(pa.py_buffer(block), read_options=read_options,
                                   parse_options=self._parse_options, convert_options=self._convert_options)
            arrays = [_finish(column, _single(table.column(index))) for index, column in enumerate(self._columns)]
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, ArithmeticError) as error:
            raise NotExact(str(error)) from None
        return arrays, table.num_rows


def _single(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def batches(dbapi_connection: Any, select_sql: str, columns: list[_Column], *,
            block_bytes: int | None = None) -> Any:
    """Yield ``(arrays, rows)`` for the rows of ``select_sql``, each array typed as the Avro writer expects.

    Raises :class:`NotExact` (the COPY abandoned, the transaction rolled back) on a value not carried exactly."""
    cursor = dbapi_connection.cursor()
    try:
        for statement in SESSION:
            cursor.execute(statement)
        with cursor.copy(f"COPY ({select_sql}) TO STDOUT WITH (FORMAT csv)") as copy:
            rows = _CopyRows(copy, dbapi_connection.pgconn)
            blocks = _Blocks(rows, columns, BLOCK_BYTES if block_bytes is None else block_bytes,
                             cancel=dbapi_connection.cancel_safe)
            try:
                while (item := blocks.get()) is not None:
                    yield item
            finally:
                # Before the COPY is left (and, on an error, cancelled by psycopg): the thread must be done with it.
                blocks.stop()
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
