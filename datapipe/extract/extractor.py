"""The extractor the DAGs run: a table, or one interval of it, into Avro container files.

``python -m datapipe.extract --config CONFIG --table NAME --output URI [--start TS --end TS]`` reads the
table's rows in streaming batches (a server-side cursor where the driver has one) and writes them with the
table's generated schema (``schemas/<table>.avsc``) into ``part-00000.avro``, ``part-00001.avro``, ... under
``URI``: a local folder, ``gs://bucket/prefix/`` or ``s3://bucket/prefix/`` (through pyarrow's file systems).
An incremental run reads ``start <= partition_column < end``. Part files of an earlier try of the same run are
removed first, so a retried run never loads stale rows.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import sqlalchemy as sa
from fastavro.write import Writer
from pyarrow import fs as pafs
from sqlalchemy import Engine

from datapipe.config import Project
from datapipe.errors import InvalidIntervalError, MissingSchemaError, SourceError, UnknownColumnError
from datapipe.reflection import find_column, reflect_table
from datapipe.schema_generation import SchemaFiles
from datapipe.source import connect, shown, source_schema
from datapipe.table_schema import SOURCE_TABLE

DEFAULT_BATCH_SIZE = 10_000
"""Rows fetched from the database per round trip."""
DEFAULT_ROWS_PER_FILE = 1_000_000
"""Rows per Avro part file (BigQuery loads part files in parallel)."""
PART_FILE = "part-{:05d}.avro"


@dataclass(frozen=True)
class Interval:
    """A data interval: ``start <= partition_column < end``; both ends timezone-aware."""

    start: dt.datetime
    end: dt.datetime

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> Interval | None:
        """Parse ISO 8601 ends (as Airflow renders ``data_interval_start``); both or neither must be given."""
        if start is None and end is None:
            return None
        if start is None or end is None:
            raise InvalidIntervalError("give both --start and --end (an interval), or neither (the whole table)")
        bounds = []
        for option, text in (("--start", start), ("--end", end)):
            try:
                value = dt.datetime.fromisoformat(text)
            except ValueError:
                raise InvalidIntervalError(
                    f"{option} {text!r} is not an ISO 8601 timestamp, e.g. 2025-01-31T00:00:00+00:00"
                ) from None
            bounds.append(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
        if bounds[0] >= bounds[1]:
            raise InvalidIntervalError(f"--start {start} is not before --end {end}")
        return cls(bounds[0], bounds[1])


@dataclass
class ExtractResult:
    """What one extraction wrote."""

    rows: int = 0
    files: list[str] = field(default_factory=list)


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
) -> ExtractResult:
    """Extract ``table_name`` (or one interval of it) into Avro part files under ``output``."""
    settings = project.table(table_name)
    files = SchemaFiles.of(project, settings)
    if not files.avsc.is_file():
        raise MissingSchemaError(settings.name, str(files.avsc), str(project.config_path))
    schema = json.loads(files.avsc.read_text(encoding="utf-8"))
    parsed = fastavro.parse_schema(schema)
    engine = engine or connect(project, environ)
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
    statement = sa.select(*columns)
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
        statement = statement.where(partition >= start, partition < end)

    converters = [_converter(f["type"]) for f in schema["fields"]]
    names = [f["name"] for f in schema["fields"]]
    sink = _Sink(output, parsed, rows_per_file)
    try:
        with engine.connect() as connection:
            result = connection.execution_options(stream_results=True, yield_per=batch_size).execute(statement)
            for batch in result.partitions():
                for row in batch:
                    sink.write({n: convert(v) for n, convert, v in zip(names, converters, row, strict=True)})
    except sa.exc.SQLAlchemyError as error:
        raise SourceError(shown(engine.url), str(getattr(error, "orig", error)).strip().splitlines()[0]) from None
    finally:
        sink.close()
    return sink.result


def _bounds(column: sa.Column[Any], interval: Interval) -> tuple[Any, Any]:
    # The database compares like with like: dates with dates, local times with local (UTC) times.
    if isinstance(column.type, sa.DateTime) and not isinstance(column.type, sa.Date):
        if getattr(column.type, "timezone", False):
            return interval.start, interval.end
        return _utc_naive(interval.start), _utc_naive(interval.end)
    if isinstance(column.type, sa.Date):
        return interval.start.astimezone(dt.UTC).date(), interval.end.astimezone(dt.UTC).date()
    raise InvalidIntervalError(
        f"partition column {column.name!r} is {column.type}, not a date or timestamp, so it cannot be read by "
        "a data interval; choose a date or timestamp column as tables[].partition_column"
    )


def _utc_naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None)


class _Sink:
    """Avro part files under one output location, rolled over every ``rows_per_file`` rows."""

    def __init__(self, output: str, schema: Any, rows_per_file: int) -> None:
        self.filesystem, self.base = _filesystem(output)
        self.schema = schema
        self.rows_per_file = rows_per_file
        self.result = ExtractResult()
        self._stream: Any = None
        self._writer: Writer | None = None
        self._rows_in_file = 0
        self.filesystem.create_dir(self.base, recursive=True)
        for info in self.filesystem.get_file_info(pafs.FileSelector(self.base, allow_not_found=True)):
            if info.base_name.startswith("part-") and info.base_name.endswith(".avro"):
                self.filesystem.delete_file(info.path)
        # Even an empty interval gets one (empty) file, so the load job's wildcard always matches.
        self._open()

    def write(self, record: dict[str, Any]) -> None:
        if self._rows_in_file >= self.rows_per_file:
            self._finish()
            self._open()
        assert self._writer is not None
        self._writer.write(record)
        self._rows_in_file += 1
        self.result.rows += 1

    def close(self) -> None:
        self._finish()

    def _open(self) -> None:
        path = f"{self.base.rstrip('/')}/{PART_FILE.format(len(self.result.files))}"
        self._stream = self.filesystem.open_output_stream(path)
        self._writer = Writer(self._stream, self.schema, codec="deflate")
        self._rows_in_file = 0
        self.result.files.append(path)

    def _finish(self) -> None:
        if self._writer is not None:
            self._writer.flush()
            self._stream.close()
            self._writer = None


def _filesystem(output: str) -> tuple[pafs.FileSystem, str]:
    if "://" in output:
        filesystem, path = pafs.FileSystem.from_uri(output)
        return filesystem, path
    return pafs.LocalFileSystem(), str(Path(output).resolve())


def _converter(avro: Any) -> Callable[[Any], Any]:
    """How to turn a database value into what fastavro writes for the Avro type ``avro``."""
    if isinstance(avro, list):
        inner = _converter(next(b for b in avro if b != "null"))
        return lambda v: None if v is None else inner(v)
    kind = avro if isinstance(avro, str) else avro.get("logicalType") or avro["type"]
    return _CONVERTERS.get(kind, _as_is)


def _as_is(value: Any) -> Any:
    return value


def _to_int(value: Any) -> int:
    return int(value)


def _to_decimal(value: Any) -> Decimal:
    # A float from a driver is turned into its shortest exact text first, not its binary expansion.
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _to_text(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, uuid.UUID | int | float):
        return str(value)
    return value if isinstance(value, str) else str(value)


def _to_bytes(value: Any) -> bytes:
    return bytes(value)


def _to_local_timestamp(value: Any) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time())
    return value


def _to_timestamp(value: Any) -> dt.datetime:
    # A zone-less value from a driver is read as UTC, the zone Airflow's intervals are in.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _to_date(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "int": _to_int,
    "long": _to_int,
    "float": float,
    "double": float,
    "boolean": bool,
    "string": _to_text,
    "uuid": _to_text,
    "bytes": _to_bytes,
    "decimal": _to_decimal,
    "date": _to_date,
    "local-timestamp-micros": _to_local_timestamp,
    "timestamp-micros": _to_timestamp,
}
