"""Parquet files, read a batch of rows at a time and written one row group per batch with pyarrow."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from versioning.datafiles.arrow_types import AVRO_SCHEMA_KEY, arrow_schema
from versioning.datafiles.arrow_values import arrow_writer, python_reader
from versioning.datafiles.avro_types import AvroSchema
from versioning.datafiles.batch import Batch
from versioning.datafiles.errors import DataFileError
from versioning.datafiles.progress import Report
from versioning.datafiles.record_check import check_record
from versioning.errors import VersioningError


def open_parquet(path: Path, **options: Any) -> pq.ParquetFile:
    """Open a Parquet file and read its footer; raises :class:`DataFileError` if it is not one.

    Pages that carry a CRC (every file this module writes) are verified as they are read, so a flipped byte in
    them is refused instead of read as a different value.
    """
    try:
        return pq.ParquetFile(path, page_checksum_verification=True, **options)
    except pa.ArrowInvalid as exc:
        raise DataFileError(path, f"not a Parquet file ({exc}); check the file and its --format") from exc
    except OSError as exc:
        raise DataFileError(path, f"cannot be read ({exc}); check the path and its permissions") from exc


_BAD_TEXT = re.compile(r"column (\d+): Invalid: Invalid UTF8 sequence at string index (\d+)")


def check_batch(path: Path, batch: pa.RecordBatch, first: int) -> None:
    """Refuse a batch whose data is not what its types say (text that is not UTF-8, offsets out of range).

    pyarrow reads string pages without checking their bytes; a flipped byte there would come through as a
    broken string, or be written on unchanged by a column-level upgrade. ``first`` is the batch's first
    record number, so the message names the record and the column.
    """
    try:
        batch.validate(full=True)
    except pa.ArrowInvalid as exc:
        found = _BAD_TEXT.search(str(exc))
        if found:
            column, row = int(found.group(1)), int(found.group(2))
            name = batch.schema.names[column] if column < batch.num_columns else None
            raise DataFileError(
                path,
                f"column {name!r} holds text that is not UTF-8; the file is corrupt, restore it from its source",
                position=first + row,
                field=name,
            ) from exc
        raise DataFileError(
            path, f"the Parquet data is corrupt ({exc}); restore the file from its source", position=first
        ) from exc


def read_parquet(
    path: Path, parquet: pq.ParquetFile, *, batch_size: int, schema: AvroSchema | None, report: Report
) -> Iterator[Batch]:
    """Yield the rows of an open Parquet file as records.

    Maps come back as dicts. With an Avro schema (given, or stored in the file by :func:`write_parquet`),
    ``uuid`` strings come back as ``uuid.UUID``, as fastavro reads them.
    """
    schema = schema if schema is not None else _stored_schema(parquet)
    convert = python_reader(schema) if schema is not None else None
    first = 1
    try:
        for batch in parquet.iter_batches(batch_size=batch_size):
            check_batch(path, batch, first)
            records = batch.to_pylist(maps_as_pydicts="strict")
            if convert is not None:
                records = [convert(record) for record in records]
            yield Batch(records, first)
            first += len(records)
            report(first - 1)
    except (pa.ArrowException, OSError) as exc:
        raise DataFileError(
            path,
            f"the Parquet file is truncated or corrupt ({exc}); restore the file from its source",
            position=first,
        ) from exc


def write_parquet(
    path: Path, target: BinaryIO, batches: Iterable[list[dict[str, Any]]], *, schema: AvroSchema, report: Report
) -> int:
    """Write records as Parquet (one row group per batch) with the Arrow form of ``schema``; returns the count.

    The Avro schema is stored in the file's metadata, so reading it back gives fastavro's values.
    """
    arrow = arrow_schema(schema)
    to_arrow = arrow_writer(schema)
    count = 0
    with pq.ParquetWriter(target, arrow, write_page_checksum=True) as writer:
        for records in batches:
            rows = []
            for record in records:
                count += 1
                check_record(record, schema, path, count)
                rows.append(to_arrow(record))
            if rows:
                writer.write_table(_table(path, rows, arrow, first=count - len(rows) + 1))
            report(count)
    return count


def _table(path: Path, rows: list[dict[str, Any]], arrow: pa.Schema, *, first: int) -> pa.Table:
    try:
        return pa.Table.from_pylist(rows, schema=arrow)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        # Rare once fastavro validated the records (e.g. more decimal places than the scale): find the row.
        for offset, row in enumerate(rows):
            try:
                pa.Table.from_pylist([row], schema=arrow)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as row_exc:
                raise DataFileError(
                    path, f"cannot be stored in Parquet ({row_exc}); fix the record", position=first + offset
                ) from row_exc
        raise DataFileError(path, f"cannot be stored in Parquet ({exc})", position=first) from exc


def _stored_schema(parquet: pq.ParquetFile) -> AvroSchema | None:
    stored = (parquet.schema_arrow.metadata or {}).get(AVRO_SCHEMA_KEY)
    if stored is None:
        return None
    try:
        return AvroSchema.parse(json.loads(stored))
    except (ValueError, VersioningError):
        # A foreign or damaged schema only costs the uuid conversion; the data itself still reads.
        return None
