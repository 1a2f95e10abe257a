"""Validating and upgrading columns (Arrow tables and record batches) with Arrow operations, not Python loops.

Validation of a column is a type check against the Arrow form of the version's Avro schema (see
:func:`versioning.datafiles.arrow_types.arrow_schema`) plus null counts where the schema allows no null, so it
costs the same for ten rows or ten million. Upgrading runs the same plan as the rows fast path
(:func:`versioning.fast.row_upgrade.plan_fields`): an output column is an input column as it is (a copy or a
rename, zero-copy), a constant (a default or an ``add`` value, one scalar repeated), or a cast (a promotion).
A step with a ``call`` operation runs per batch: the batch becomes Python records, each goes through the
reference :meth:`Step.upgrade`, and the results become columns of the step's target version again.

A column missing from the input whose field has a default is filled with it first (rows can leave such a
field out; columns cannot leave out a value).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from versioning.datafiles.arrow_types import arrow_schema
from versioning.datafiles.avro_types import AvroSchema
from versioning.datafiles.defaults import python_default
from versioning.errors import VersioningError
from versioning.fast.row_upgrade import _Const, _Expr, _Field, _Promoted, plan_fields
from versioning.registry import VERSION_FIELD, Subject
from versioning.schema import Schema
from versioning.steps import Step

Columns = TypeVar("Columns", pa.Table, pa.RecordBatch)

SHOWN_ROWS = 5
"""How many row numbers an error lists."""


@dataclass(frozen=True)
class ColumnError:
    """One thing wrong with a column: its field path, what is wrong, and some of the rows where.

    Rows are numbered from the ``first_row`` the check was given: 0 (Arrow's index) for a table in memory,
    the 1-based record number in the file for a batch of a file."""

    path: str
    message: str
    rows: tuple[int, ...] = field(default=())

    def __str__(self) -> str:
        where = f" (rows {', '.join(map(str, self.rows))}{', ...' if len(self.rows) == SHOWN_ROWS else ''})"
        return f"{self.path}: {self.message}{where if self.rows else ''}"


class InvalidColumnsError(VersioningError):
    """Columns do not match a subject version; :attr:`errors` lists every problem."""

    def __init__(self, subject: str, version: int, errors: list[ColumnError]) -> None:
        self.subject, self.version, self.errors = subject, version, errors
        lines = [f"the columns do not match v{version} of {subject!r}:", *(f"  - {e}" for e in errors)]
        super().__init__("\n".join(lines))


class ColumnValidator:
    """A subject version's schema as Arrow types, to check whole columns at once."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.avro = AvroSchema.parse(schema.json, where=schema.source)
        self.arrow = arrow_schema(self.avro)
        self.defaults = {f["name"]: f["default"] for f in schema.fields if "default" in f}

    def errors(self, data: pa.Table | pa.RecordBatch, first_row: int = 0) -> list[ColumnError]:
        """Every problem with the columns: missing, unexpected or of the wrong type, nulls where none may be."""
        found: list[ColumnError] = []
        names = set(data.schema.names)
        for expected in self.arrow:
            if expected.name not in names:
                if expected.name not in self.defaults:
                    found.append(ColumnError(expected.name, "missing column (the field has no default); add it"))
                continue
            column = data.column(expected.name)
            if not _same_type(column.type, expected.type):
                found.append(
                    ColumnError(
                        expected.name,
                        f"is {column.type} but {self.schema.source} says {expected.type}; cast the column",
                    )
                )
                continue
            found.extend(_nulls(column, expected.type, expected.nullable, expected.name, first_row))
        for name in data.schema.names:
            if name not in self.arrow.names and name != VERSION_FIELD:
                found.append(ColumnError(name, f"unexpected column (not in {self.schema.source}); drop it"))
        return found


def _same_type(actual: pa.DataType, expected: pa.DataType) -> bool:
    """Equal types, whatever the nested fields say about nulls (null counts are checked separately)."""
    return _nullable_everywhere(actual) == _nullable_everywhere(expected)


def _nullable_everywhere(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_struct(kind):
        return pa.struct([pa.field(f.name, _nullable_everywhere(f.type)) for f in kind])
    if pa.types.is_map(kind):
        return pa.map_(kind.key_type, _nullable_everywhere(kind.item_type))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return pa.list_(_nullable_everywhere(kind.value_type))
    return kind


def _nulls(column: Any, kind: pa.DataType, nullable: bool, path: str, first_row: int = 0) -> list[ColumnError]:
    """Nulls where the schema allows none, in the column and (for present parents) in its nested fields."""
    found: list[ColumnError] = []
    if not nullable and column.null_count:
        rows = [first_row + i for i in pc.indices_nonzero(pc.is_null(column)).to_pylist()[:SHOWN_ROWS]]
        found.append(
            ColumnError(path, "null where the schema allows none; fill it or make the field nullable", tuple(rows))
        )
    if pa.types.is_struct(kind):
        chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        for i, child in enumerate(kind):
            if child.nullable or not any(chunk.field(i).null_count for chunk in chunks):
                for chunk in chunks:
                    found.extend(_nested(chunk.field(i), child, f"{path}.{child.name}"))
                continue
            found.append(
                ColumnError(f"{path}.{child.name}", "null where the schema allows none; fill it or make it nullable")
            )
    elif pa.types.is_list(kind):
        chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        item = kind.value_field
        for chunk in chunks:
            found.extend(_nulls(chunk.flatten(), item.type, item.nullable, f"{path}[]"))
    return found


def _nested(child: pa.Array, field_: pa.Field, path: str) -> list[ColumnError]:
    return _nulls(child, field_.type, True, path) if pa.types.is_nested(field_.type) else []


class ColumnUpgrader:
    """Moves Arrow tables or record batches of a subject from one version up to another, as Arrow operations."""

    def __init__(self, subject: Subject, from_version: int, to_version: int) -> None:
        self.subject = subject
        self.from_version = subject.version_number(from_version)
        self.to_version = subject.version_number(to_version)
        if self.to_version < self.from_version:
            raise VersioningError(
                f"columns of {subject.name!r} move up only (v{self.from_version} to v{self.to_version} was asked); "
                "downgrade rows with Subject.convert"
            )
        self.source = ColumnValidator(subject.schemas[self.from_version])
        self.target = ColumnValidator(subject.schemas[self.to_version])
        # Runs of declarative steps become one plan each; a step with a call runs on its own, per batch.
        self.segments: list[tuple[list[Step], ColumnValidator]] = []
        run: list[Step] = []
        for step, _ in subject.path(self.from_version, self.to_version):
            if step.has_callable:
                if run:
                    self.segments.append((run, ColumnValidator(subject.schemas[step.from_version])))
                self.segments.append(([step], ColumnValidator(subject.schemas[step.to_version])))
                run = []
            else:
                run.append(step)
        if run:
            self.segments.append((run, self.target))

    def validate(self, data: pa.Table | pa.RecordBatch, first_row: int = 0) -> None:
        """Raise :class:`InvalidColumnsError` if the columns do not match the source version."""
        errors = self.source.errors(data, first_row)
        if errors:
            raise InvalidColumnsError(self.subject.name, self.from_version, errors)

    def upgrade(self, data: Columns, first_row: int = 0) -> Columns:
        """The columns validated against the source version and moved to the target version.

        The result has exactly the target version's Arrow schema (its columns in schema order, the Avro schema
        in the metadata); a ``schema_version`` column is dropped, since the schema says the version. Errors
        number rows from ``first_row``.
        """
        self.validate(data, first_row)
        current = self._fill_defaults(data, self.source)
        for steps, after in self.segments:
            if steps[0].has_callable:
                current = _call_step(steps[0], current, after)
            else:
                names = [n for n in current.schema.names if n != VERSION_FIELD]
                current = _apply_plan(plan_fields(steps, names), current, after)
        result: Columns = current
        errors = self.target.errors(result, first_row)
        if errors:
            raise InvalidColumnsError(self.subject.name, self.to_version, errors)
        return result

    def _fill_defaults(self, data: Columns, validator: ColumnValidator) -> Columns:
        missing = [f for f in validator.arrow if f.name not in data.schema.names]
        if not missing:
            return data
        arrays = [data.column(n) for n in data.schema.names]
        fields = list(data.schema)
        for f in missing:
            value = python_default(
                validator.avro,
                validator.avro.parsed["fields"][validator.arrow.get_field_index(f.name)]["type"],
                validator.defaults[f.name],
            )
            arrays.append(_constant(value, f.type, data.num_rows))
            fields.append(f)
        return _build(data, arrays, pa.schema(fields))


def _apply_plan(plan: dict[str, _Expr], data: Columns, after: ColumnValidator) -> Columns:
    arrays = []
    for target in after.arrow:
        expr = plan.get(target.name)
        if expr is None:  # not planned: a field the step leaves to its default
            arrays.append(_constant(None, target.type, data.num_rows))
        else:
            arrays.append(_column(expr, data, target))
    return _build(data, arrays, after.arrow)


def _column(expr: _Expr, data: pa.Table | pa.RecordBatch, target: pa.Field) -> Any:
    if isinstance(expr, _Field):
        column = data.column(expr.name)
        return column if column.type == target.type else column.cast(target.type)
    if isinstance(expr, _Const):
        return _constant(expr.value, target.type, data.num_rows)
    inner = _column(expr.value, data, pa.field(target.name, _source_type(expr, data)))
    # int->float rounds as Python's float() does; bytes->string must be UTF-8, so that cast stays checked.
    return inner.cast(target.type, safe=not pa.types.is_floating(target.type))


def _source_type(expr: _Promoted, data: pa.Table | pa.RecordBatch) -> pa.DataType:
    inner = expr.value
    while isinstance(inner, _Promoted):
        inner = inner.value
    return data.schema.field(inner.name).type


def _constant(value: Any, kind: pa.DataType, rows: int) -> pa.Array:
    if value is None:
        return pa.nulls(rows, kind)
    try:
        return pa.repeat(pa.scalar(value, kind), rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as err:
        raise VersioningError(f"the value {value!r} cannot fill a column of type {kind}: {err}") from None


def _call_step(step: Step, data: Columns, after: ColumnValidator) -> Columns:
    records = data.to_pylist()
    upgraded = [step.upgrade({k: v for k, v in r.items() if k != VERSION_FIELD}) for r in records]
    rows = [{name: r.get(name) for name in after.arrow.names} for r in upgraded]
    if isinstance(data, pa.Table):
        return pa.Table.from_pylist(rows, schema=after.arrow)
    return pa.RecordBatch.from_pylist(rows, schema=after.arrow)


def _build(like: Columns, arrays: list[Any], schema: pa.Schema) -> Columns:
    if isinstance(like, pa.Table):
        return pa.Table.from_arrays(arrays, schema=schema)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
