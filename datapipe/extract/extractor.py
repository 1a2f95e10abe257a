"""The extractor the DAGs run: a table, or one interval of it, into Avro container files.

``python -m datapipe.extract --config CONFIG --table NAME --output URI [--start TS --end TS]`` reads the
table's rows in streaming batches (a server-side cursor where the driver has one) and writes them with the
table's generated schema (``schemas/<table>.avsc``) into ``part-00000.avro``, ``part-00001.avro``, ... under
``URI``: a local folder or ``gs://bucket/prefix/`` (through pyarrow's file systems, reached within a timeout).
An incremental run reads ``start <= partition_column < end``.

Values are read raw from the driver (no SQLAlchemy result processing) and converted by
:mod:`datapipe.extract.values`, which refuses any value the Avro type cannot hold exactly. Part files are written
under temporary names and renamed into place only when the whole extraction succeeded: a failed run leaves no
partial file, and part files of an earlier try are replaced only then, so a retried run never loads stale rows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import pyarrow as pa
import sqlalchemy as sa
from pyarrow import fs as pafs
from sqlalchemy import Engine

from datapipe.config import Project, TableSettings
from datapipe.errors import (
    InvalidIntervalError,
    MissingSchemaError,
    OutputError,
    SourceError,
    UnknownColumnError,
    ValueOverflowError,
)
from datapipe.extract import copy_fetch
from datapipe.extract.avro_columns import AvroColumnWriter, arrow_type
from datapipe.extract.values import ValueNotRepresentable, converter
from datapipe.reflection import find_column, reflect_table
from datapipe.schema_generation import SchemaFiles
from datapipe.source import connect, shown, source_schema
from datapipe.table_schema import SOURCE_TABLE

DEFAULT_BATCH_SIZE = 10_000
"""Rows fetched from the database per round trip."""
DEFAULT_ROWS_PER_FILE = 1_000_000
"""Rows per Avro part file (BigQuery loads part files in parallel)."""
PART_FILE = "part-{:05d}.avro"
TEMPORARY_PREFIX = "_tmp-"
"""Part files are written as ``_tmp-part-*.avro`` and renamed when the extraction succeeded."""
DEFAULT_STORAGE_TIMEOUT_SECONDS = 60.0
"""How long reaching the output location (credentials, bucket) may take before the extraction gives up."""
SUPPORTED_OUTPUTS = ("a local folder", "gs://bucket/prefix/")


@dataclass(frozen=True)
class Interval:
    """A data interval: ``start <= partition_column < end``; both ends timezone-aware.

    Without a ``start`` (``--start ''``) the interval is the table's whole history up to ``end``: every row before
    ``end``, and the rows whose partition column is NULL (which no bounded interval ever reads). The DAG's first
    run, and any run triggered with ``full_history``, reads that way."""

    start: dt.datetime | None
    end: dt.datetime

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> Interval | None:
        """Parse ISO 8601 ends (as Airflow renders ``data_interval_start``); both or neither must be given; an
        empty ``start`` means the whole history before ``end``."""
        if start is None and end is None:
            return None
        if start is None or end is None:
            raise InvalidIntervalError(
                "give both --start and --end (an interval; --start '' for the whole history before --end), or "
                "neither (the whole table)"
            )
        end_value = cls._parse("--end", end)
        if not start.strip():
            return cls(None, end_value)
        start_value = cls._parse("--start", start)
        if start_value >= end_value:
            raise InvalidIntervalError(f"--start {start} is not before --end {end}")
        return cls(start_value, end_value)

    @staticmethod
    def _parse(option: str, text: str) -> dt.datetime:
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise InvalidIntervalError(
                f"{option} {text!r} is not an ISO 8601 timestamp, e.g. 2025-01-31T00:00:00+00:00"
            ) from None
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass
class ExtractResult:
    """What one extraction wrote."""

    rows: int = 0
    files: list[str] = field(default_factory=list)
    fetch: str = "cursor"
    """How rows were read: ``"copy"`` (PostgreSQL CSV parsed by Arrow, :mod:`datapipe.extract.copy_fetch`) or
    ``"cursor"`` (the driver's streaming cursor and the reference converters)."""


def extract_table(
    project: Project,
    table_name: str,
    output: str,
    interval: Interval | None = None,
    *,
    engine: Engine | None = None,
    environ: Mapping[str, str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    rows_per_file: int = DEFAULT_ROWS_PER_FILE,
    storage_timeout: float = DEFAULT_STORAGE_TIMEOUT_SECONDS,
) -> ExtractResult:
    """Extract ``table_name`` (or one interval of it) into Avro part files under ``output``."""
    settings = project.table(table_name)
    files = SchemaFiles.of(project, settings)
    if not files.avsc.is_file():
        raise MissingSchemaError(settings.name, str(files.avsc), str(project.config_path))
    schema = json.loads(files.avsc.read_text(encoding="utf-8"))
    fastavro.parse_schema(schema)  # a broken .avsc is reported before anything is read
    target = _Output.open(output, storage_timeout)
    if engine is not None:
        return _extract(project, settings, files, schema, target, engine, interval, environ, batch_size,
                        rows_per_file)
    owned = connect(project, environ)
    try:
        return _extract(project, settings, files, schema, target, owned, interval, environ, batch_size,
                        rows_per_file)
    finally:
        owned.dispose()


def _extract(
    project: Project, settings: TableSettings, files: SchemaFiles, schema: dict[str, Any],
    target: _Output, engine: Engine, interval: Interval | None, environ: Mapping[str, str] | None,
    batch_size: int, rows_per_file: int,
) -> ExtractResult:
    table = reflect_table(engine, schema.get(SOURCE_TABLE, settings.name), source_schema(project, environ))

    columns = []
    for avro_field in schema["fields"]:
        column = find_column(table, avro_field["name"])
        if column is None:
            raise UnknownColumnError(
                f"{files.avsc}#/fields/{avro_field['name']}", avro_field["name"], table.name,
                [c.name for c in table.columns],
            )
        columns.append(column)
    # Raw driver values: NullType has no result processor (SQLAlchemy's would round MySQL DOUBLE, parse SQLite
    # text and turn numbers into floats); datapipe.extract.values converts them exactly or refuses.
    statement = sa.select(*(_selected(c, engine.dialect.name) for c in columns))
    if interval is not None:
        if settings.partition_column is None:
            raise InvalidIntervalError(
                f"table {settings.name!r} has no partition_column in the config, so it cannot be read by "
                "interval; drop --start/--end or set tables[].partition_column"
            )
        partition = find_column(table, settings.partition_column)
        if partition is None:
            raise UnknownColumnError(
                f"tables[{settings.name}].partition_column", settings.partition_column, table.name,
                [c.name for c in table.columns],
            )
        start, end = _bounds(partition, interval)
        if start is None:
            statement = statement.where(sa.or_(partition < end, partition.is_(None)))
        else:
            statement = statement.where(partition >= start, partition < end)

    converters = [ColumnConverter(f["name"], f["type"]) for f in schema["fields"]]
    copy_plan = copy_fetch.plan(columns, schema["fields"]) if engine.dialect.name == "postgresql" else None
    sink = _Sink(target, schema, rows_per_file)
    try:
        with engine.connect() as connection:
            # The interval bounds are rendered as literals.
            sql = str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
            dbapi_connection = connection.connection.dbapi_connection
            if copy_plan is not None:
                try:
                    for arrays, rows in copy_fetch.batches(dbapi_connection, sql, copy_plan):
                        sink.write_batch(arrays, rows)
                    sink.commit()
                    sink.result.fetch = "copy"
                    return sink.result
                except copy_fetch.NotExact:
                    # Some value has no exact CSV reading here: start again by the reference path, which writes
                    # it exactly or refuses it with its message.
                    sink.abort()
                    connection.rollback()
                    sink = _Sink(target, schema, rows_per_file)
            # The driver's own streaming cursor: rows as plain tuples, without SQLAlchemy's per-row objects (which
            # cost more than the rest of a row's way to Avro).
            cursor = _streaming_cursor(dbapi_connection, engine.dialect.name, batch_size)
            try:
                cursor.execute(sql)
                while batch := cursor.fetchmany(batch_size):
                    values = list(zip(*batch, strict=True))
                    arrays = [convert.array(column_values, settings.name) for convert, column_values in
                              zip(converters, values, strict=True)]
                    sink.write_batch(arrays, len(batch))
            finally:
                with contextlib.suppress(Exception):  # a failed statement may leave nothing to close
                    cursor.close()
        sink.commit()
    except (sa.exc.SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as error:
        sink.abort()
        raise SourceError(shown(engine.url), str(getattr(error, "orig", error)).strip().splitlines()[0]) from None
    except BaseException:
        sink.abort()
        raise
    return sink.result


def _selected(column: sa.Column[Any], dialect: str) -> sa.ColumnElement[Any]:
    """The column as read: raw, and, for MySQL/MariaDB ``FLOAT``, widened to a double first, because their text
    protocol prints a FLOAT with 6 significant digits (1234567.125 arrives as 1234570) but a DOUBLE exactly."""
    expression: sa.ColumnElement[Any] = column
    if dialect in ("mysql", "mariadb") and isinstance(column.type, sa.Float) and not isinstance(column.type, sa.Double):
        expression = column + sa.literal_column("0E0")
    return sa.type_coerce(expression, sa.types.NullType()).label(column.name)


def _streaming_cursor(dbapi_connection: Any, dialect: str, batch_size: int) -> Any:
    """A cursor that fetches ``batch_size`` rows per round trip without holding the whole result."""
    if dialect == "postgresql":
        cursor = dbapi_connection.cursor(name="datapipe_extract")  # server-side
        cursor.itersize = batch_size
    elif dialect in ("mysql", "mariadb"):
        import pymysql.cursors

        cursor = dbapi_connection.cursor(pymysql.cursors.SSCursor)  # unbuffered
    else:
        cursor = dbapi_connection.cursor()  # sqlite3 and python-oracledb stream by arraysize
    cursor.arraysize = batch_size
    return cursor


class ColumnConverter:
    """One field's values of a batch as an Arrow array holding exactly what the Avro file gets.

    The fast path hands the driver's values to Arrow when their Python types are the ones Arrow converts with the
    same rules as :mod:`datapipe.extract.values` (``int`` for a long, ``Decimal`` for a decimal, which Arrow
    refuses to round, ...). Any other batch goes through the reference converters value by value, which also name
    the value that does not fit. Both give the same array or the same refusal."""

    def __init__(self, name: str, avro: Any) -> None:
        self.name = name
        self.convert = converter(avro)
        self.arrow = arrow_type(avro)
        branch = next(b for b in avro if b != "null") if isinstance(avro, list) else avro
        self.kind = branch if isinstance(branch, str) else branch.get("logicalType") or branch["type"]
        self.fast_types = _FAST_TYPES.get(self.kind)

    def array(self, values: tuple[Any, ...], table: str) -> pa.Array:
        if self.fast_types is not None:
            types = set(map(type, values))
            types.discard(type(None))
            if types <= self.fast_types and not (
                self.kind == "local-timestamp-micros" and any(v.tzinfo for v in values if v is not None)
            ):
                try:
                    return pa.array(values, self.arrow)
                except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                    pass  # the reference path says which value and why
        try:
            converted = [self.convert(v) for v in values]
        except ValueNotRepresentable as error:
            raise ValueOverflowError(table, self.name, error.reason) from None
        try:
            return pa.array(converted, self.arrow)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
            raise ValueOverflowError(table, self.name, str(error)) from None


# The driver types Arrow converts exactly as datapipe.extract.values does, per Avro type. (Avro float is left to
# the reference path: Arrow turns an out-of-range double into infinity instead of refusing it.)
_FAST_TYPES: dict[str, set[type]] = {
    "long": {int},
    "int": {int},
    "double": {float},
    "boolean": {bool},
    "string": {str},
    "bytes": {bytes},
    "decimal": {Decimal},
    "date": {dt.date},
    "timestamp-micros": {dt.datetime},
    "local-timestamp-micros": {dt.datetime},
}


def _bounds(column: sa.Column[Any], interval: Interval) -> tuple[Any, Any]:
    # The database compares like with like: dates with dates, local times with local (UTC) times.
    def each(convert: Callable[[dt.datetime], Any]) -> tuple[Any, Any]:
        return (None if interval.start is None else convert(interval.start)), convert(interval.end)

    if isinstance(column.type, sa.DateTime) and not isinstance(column.type, sa.Date):
        if getattr(column.type, "timezone", False):
            return each(lambda value: value)
        return each(_utc_naive)
    if isinstance(column.type, sa.Date):
        return each(lambda value: value.astimezone(dt.UTC).date())
    raise InvalidIntervalError(
        f"partition column {column.name!r} is {column.type}, not a date or timestamp, so it cannot be read by "
        "a data interval; choose a date or timestamp column as tables[].partition_column"
    )


def _utc_naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None)


@dataclass
class _Output:
    """An output location, checked reachable (within a timeout) before anything is read from the source."""

    uri: str
    filesystem: pafs.FileSystem
    base: str

    @classmethod
    def open(cls, output: str, timeout: float) -> _Output:
        scheme = output.split("://", 1)[0].lower() if "://" in output else ""
        if scheme in ("", "file"):
            local = output.split("://", 1)[1] if scheme else output
            filesystem: pafs.FileSystem = pafs.LocalFileSystem()
            base = str(Path(local).resolve())
        elif scheme in ("gs", "gcs"):
            bucket_path = output.split("://", 1)[1]
            if not bucket_path.strip("/"):
                raise OutputError(output, "names no bucket; write gs://BUCKET/PREFIX/")
            filesystem = pafs.GcsFileSystem(retry_time_limit=dt.timedelta(seconds=timeout))
            base = bucket_path.rstrip("/")
        else:
            raise OutputError(
                output, f"the {scheme}:// scheme is not supported; write to {' or '.join(SUPPORTED_OUTPUTS)}"
            )
        target = cls(output, filesystem, base)
        target.call(lambda: filesystem.create_dir(base, recursive=True), timeout)
        target.call(lambda: filesystem.get_file_info(pafs.FileSelector(base, allow_not_found=True)), timeout)
        return target

    def call(self, operation: Callable[[], Any], timeout: float | None = None) -> Any:
        """Run a storage operation; a failure or (with ``timeout``) a hang becomes an :class:`OutputError`."""
        if timeout is None:
            try:
                return operation()
            except (OSError, pa.ArrowException) as error:
                raise OutputError(self.uri, _first_line(error)) from None
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = operation()
            except BaseException as error:  # reported below, in the caller's thread
                outcome["error"] = error

        # A daemon thread: an unreachable store (no credentials, no route) may block far longer than the timeout.
        worker = threading.Thread(target=run, name="datapipe-output-probe", daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            raise OutputError(
                self.uri, f"not reachable within {timeout:g} s; check the credentials (Workload Identity or "
                "GOOGLE_APPLICATION_CREDENTIALS) and the bucket name"
            )
        if "error" in outcome:
            failure = outcome["error"]
            if isinstance(failure, OSError | pa.ArrowException):
                raise OutputError(self.uri, _first_line(failure))
            raise failure
        return outcome.get("value")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:500] if text else type(error).__name__


class _Sink:
    """Avro part files under one output location, rolled over every ``rows_per_file`` rows, written under
    temporary names and renamed into place by :meth:`commit`."""

    def __init__(self, target: _Output, schema: dict[str, Any], rows_per_file: int) -> None:
        self.target = target
        self.filesystem = target.filesystem
        self.base = target.base
        self.schema = schema
        self.rows_per_file = rows_per_file
        self.result = ExtractResult()
        self._temporary: list[str] = []
        self._stream: Any = None
        self._writer: AvroColumnWriter | None = None
        self._rows_in_file = 0
        # Even an empty interval gets one (empty) file, so the load job's wildcard always matches.
        self._open()

    def write_batch(self, columns: list[pa.Array], rows: int) -> None:
        at = 0
        while at < rows:
            if self._rows_in_file >= self.rows_per_file:
                self._finish()
                self._open()
            count = min(self.rows_per_file - self._rows_in_file, rows - at)
            chunk = columns if count == rows else [c.slice(at, count) for c in columns]
            assert self._writer is not None
            writer = self._writer
            self.target.call(functools.partial(writer.write, chunk, count))
            self._rows_in_file += count
            self.result.rows += count
            at += count

    def commit(self) -> None:
        """Close the last file, remove the part files of an earlier try, and move the new ones into place."""
        self._finish()
        for info in self.target.call(
            lambda: self.filesystem.get_file_info(pafs.FileSelector(self.base, allow_not_found=True))
        ):
            if info.base_name.startswith("part-") and info.base_name.endswith(".avro"):
                self.target.call(functools.partial(self.filesystem.delete_file, info.path))
        for index, temporary in enumerate(self._temporary):
            final = f"{self.base}/{PART_FILE.format(index)}"
            self.target.call(functools.partial(self.filesystem.move, temporary, final))
            self.result.files.append(final)
        self._temporary = []

    def abort(self) -> None:
        """Close and delete every temporary file: a failed extraction leaves nothing behind."""
        with contextlib.suppress(Exception):  # the stream is being discarded anyway
            self._finish()
        for temporary in self._temporary:
            # Best effort: temporary names are never loaded (the load job reads part-*.avro).
            with contextlib.suppress(OSError):
                self.filesystem.delete_file(temporary)
        self._temporary = []

    def _open(self) -> None:
        path = f"{self.base}/{TEMPORARY_PREFIX}{PART_FILE.format(len(self._temporary))}"
        self._stream = self.target.call(lambda: self.filesystem.open_output_stream(path))
        self._writer = AvroColumnWriter(self._stream, self.schema, background=True)
        self._rows_in_file = 0
        self._temporary.append(path)

    def _finish(self) -> None:
        if self._writer is not None:
            stream, writer = self._stream, self._writer
            self._writer = None
            try:
                self.target.call(writer.close)  # the block still being written in the background
            finally:
                self.target.call(stream.close)
