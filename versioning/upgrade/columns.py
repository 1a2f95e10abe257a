"""Upgrading columns (Arrow tables and record batches) with Arrow operations, not Python loops.

Upgrading runs the same plan as the rows fast path (:func:`versioning.upgrade.plan.plan_fields`): an output
column is an input column as it is (a copy or a rename, zero-copy), a constant (a default or an ``add`` value,
one scalar repeated), or a cast (a promotion). A step with a ``call`` operation runs per batch: the batch
becomes Python records, each goes through the reference :meth:`Step.upgrade`, and the results become columns
of the step's target version again.

A column missing from the input whose field has a default is filled with it first (rows can leave such a
field out; columns cannot leave out a value).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa

from versioning.datafiles.defaults import python_default
from versioning.errors import VersioningError
from versioning.upgrade.operations import Step
from versioning.upgrade.plan import Constant, Expression, InputField, Promoted, plan_fields
from versioning.validation.columns import ColumnValidator, InvalidColumnsError
from versioning.validation.reference import VERSION_FIELD

if TYPE_CHECKING:
    from versioning.registry import Subject

Columns = TypeVar("Columns", pa.Table, pa.RecordBatch)


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
        self.vouched = self._passed_through()

    def _passed_through(self) -> frozenset[str]:
        """Target columns the source check already vouches for: with no ``call`` step, those a plan passes on
        as they are (a copy or a rename, the same Arrow array) from a source field under the same value rules."""
        if len(self.segments) != 1 or self.segments[0][0][0].has_callable:
            return frozenset()
        plan = plan_fields(self.segments[0][0], [f.name for f in self.source.arrow])
        vouched = set()
        for name, expr in plan.items():
            if not isinstance(expr, InputField) or name not in self.target.arrow.names:
                continue
            rules = self.target.value_rules(name)
            if rules is not None and rules == self.source.value_rules(expr.name):
                vouched.add(name)
        return frozenset(vouched)

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
        errors = self.target.errors(result, first_row, self.vouched)
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


def _apply_plan(plan: dict[str, Expression], data: Columns, after: ColumnValidator) -> Columns:
    arrays = []
    for target in after.arrow:
        expr = plan.get(target.name)
        if expr is None:  # not planned: a field the step leaves to its default
            arrays.append(_constant(None, target.type, data.num_rows))
        else:
            arrays.append(_column(expr, data, target))
    return _build(data, arrays, after.arrow)


def _column(expr: Expression, data: pa.Table | pa.RecordBatch, target: pa.Field) -> Any:
    if isinstance(expr, InputField):
        column = data.column(expr.name)
        return column if column.type == target.type else column.cast(target.type)
    if isinstance(expr, Constant):
        return _constant(expr.value, target.type, data.num_rows)
    inner = _column(expr.value, data, pa.field(target.name, _source_type(expr, data)))
    # int->float rounds as Python's float() does; bytes->string must be UTF-8, so that cast stays checked.
    return inner.cast(target.type, safe=not pa.types.is_floating(target.type))


def _source_type(expr: Promoted, data: pa.Table | pa.RecordBatch) -> pa.DataType:
    inner = expr.value
    while isinstance(inner, Promoted):
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
