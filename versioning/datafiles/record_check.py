"""Check a record against its schema before it is written, so errors name the record and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastavro.validation import ValidationError, validate

from versioning.datafiles.avro_types import AvroSchema, describe_type
from versioning.datafiles.errors import DataFileError


def check_record(record: Any, schema: AvroSchema, path: Path, position: int) -> None:
    """Raise :class:`DataFileError` for ``path``, record ``position`` if fastavro would not write ``record``.

    A field missing from the record is fine when the schema gives it a default (it is written with it).
    """
    try:
        # The boolean check first: with raise_errors=True fastavro builds an exception for every union branch
        # a value does not take, valid or not, which makes writing several times slower.
        if validate(record, schema.parsed, raise_errors=False):
            return
        validate(record, schema.parsed, raise_errors=True)
    except ValidationError as exc:
        raise invalid_record(exc, schema, path, position) from exc
    except ValueError as exc:
        # fastavro checks decimals by converting them, which raises instead of reporting.
        raise DataFileError(path, f"does not fit the schema ({exc}); fix the record", position=position) from exc


def invalid_record(exc: ValidationError, schema: AvroSchema, path: Path, position: int) -> DataFileError:
    """Translate fastavro's validation error into one that says which record and field, and what to do."""
    problem = exc.errors[0] if exc.errors else None
    if problem is None:
        return DataFileError(path, f"does not match the schema ({exc}); fix the record", position=position)
    expected = describe_type(schema.resolve(problem.schema))
    if not problem.field:
        return DataFileError(
            path,
            f"the record is {_shown(problem.datum)}, not a {expected}; fix the record",
            position=position,
        )
    return DataFileError(
        path,
        f"field {problem.field}: {_shown(problem.datum)} is not a {expected}; fix the value "
        "or the step that produced it",
        position=position,
        field=problem.field,
    )


def _shown(value: Any) -> str:
    """A value as a person would want it quoted in a message, cut short if long."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"
