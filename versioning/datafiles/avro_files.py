"""Avro object container files, read lazily block by block and written in blocks with fastavro."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import fastavro

from versioning.datafiles.avro_types import AvroSchema
from versioning.datafiles.batch import Batch
from versioning.datafiles.errors import DataFileError
from versioning.datafiles.progress import Report
from versioning.datafiles.record_check import check_record

CODEC = "deflate"
"""Block compression for written files: zlib, in every Avro implementation and in the standard library."""


def read_avro(path: Path, source: BinaryIO, *, batch_size: int, report: Report) -> Iterator[Batch]:
    """Yield the records of an open Avro container file, decoded with the schema in its header.

    Corruption (bad magic, a truncated block, a wrong sync marker, undecodable data) raises
    :class:`DataFileError` naming the first record that could not be read.
    """
    try:
        reader = fastavro.reader(source)
    except Exception as exc:  # fastavro raises assorted errors for a bad header; all mean "not Avro"
        raise DataFileError(
            path,
            f"not an Avro object container file ({_reason(exc)}); check the file and its --format",
        ) from exc
    records: list[dict[str, Any]] = []
    first = 1
    position = 0
    records_iter = iter(reader)
    while True:
        try:
            record = next(records_iter)
        except StopIteration:
            break
        except Exception as exc:  # decoding errors come as ValueError, EOFError, UnicodeDecodeError, zlib...
            raise DataFileError(
                path,
                f"the Avro file is truncated or corrupt ({_reason(exc)}); the records before this one were "
                "readable, restore the file from its source",
                position=position + 1,
            ) from exc
        position += 1
        if not isinstance(record, dict):
            raise DataFileError(
                path,
                f"holds a {type(record).__name__} value, not a record; the file's schema must be an Avro record",
                position=position,
            )
        records.append(record)
        if len(records) >= batch_size:
            yield Batch(records, first)
            report(source.tell())
            first, records = position + 1, []
    if records:
        yield Batch(records, first)
    report(source.tell())


def write_avro(
    path: Path, target: BinaryIO, batches: Iterable[list[dict[str, Any]]], *, schema: AvroSchema, report: Report
) -> int:
    """Write an Avro container file (deflate blocks) with ``schema`` in its header; returns the count."""
    writer = fastavro.write.Writer(target, schema.parsed, codec=CODEC)
    count = 0
    for records in batches:
        for record in records:
            count += 1
            check_record(record, schema, path, count)
            try:
                writer.write(record)
            except (TypeError, ValueError, OverflowError, AttributeError) as exc:
                raise DataFileError(
                    path, f"cannot be written with the schema ({_reason(exc)}); fix the record", position=count
                ) from exc
        report(count)
    writer.flush()
    return count


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
