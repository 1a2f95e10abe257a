"""What a migration does to a table, step by step, before any SQL dialect is involved.

Each step of a subject becomes a list of :class:`Change` groups, one group per operation, in the order the records
move (see :mod:`versioning.upgrade.operations`): declared operations, then implied fills, then implied drops; a
downgrade plans the inverse operations (``Step.down``), derived from the upgrade as the records' is. Then the
table is reconciled with the target version, so that type and nullability changes that no operation declares (a
field widened from ``int`` to ``long``, a field made optional) reach the table too.

A new column is always added nullable, filled, and only then made ``NOT NULL``. One rule for every case works on
every database: copied columns have no constant to use as a server default, SQLite cannot add a ``NOT NULL``
column without one, and a server default left behind would differ from the table that ``create_table_sql`` makes
for the same version. The fill updates only rows where the column is still null, so it is safe to run again and
satisfies BigQuery's rule that every UPDATE has a WHERE clause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from versioning.migrations.columns import ColumnSpec, column_spec, default_value, sql_value, table_columns
from versioning.migrations.errors import MigrationError
from versioning.registry import Subject
from versioning.schema import Schema
from versioning.upgrade.operations import Add, Copy, Demote, Drop, Fill, Promote, Remove, Rename, Step


@dataclass(frozen=True)
class AddColumn:
    """Add a column, nullable whatever its final nullability (see the module's notes)."""

    column: ColumnSpec


@dataclass(frozen=True)
class FillWithValue:
    """Set a column to a constant in every row where it is null."""

    column: ColumnSpec
    value: Any


@dataclass(frozen=True)
class FillFromColumn:
    """Set a column to another column's value (cast to the column's type) in every row where it is null."""

    column: ColumnSpec
    source: ColumnSpec


@dataclass(frozen=True)
class RenameColumn:
    """Rename a column, keeping its type and data."""

    column: ColumnSpec
    new_name: str


@dataclass(frozen=True)
class DropColumn:
    """Drop a column and its data."""

    column: ColumnSpec


@dataclass(frozen=True)
class ChangeType:
    """Change a column's type, converting its values (a promotion, or a demotion on the way down)."""

    column: ColumnSpec
    new: ColumnSpec


@dataclass(frozen=True)
class RefuseNarrowing:
    """Stop the migration if any row's value would change when the column narrows to ``new``'s type.

    A demotion (``double`` to ``float``, ``long`` to ``int``, ``double`` to ``long``...) may round, wrap or
    fail silently depending on the database; the record path refuses such values, and so must the SQL.
    """

    column: ColumnSpec
    new: ColumnSpec


NARROWINGS = {
    ("long", "int"),
    ("float", "int"),
    ("double", "int"),
    ("float", "long"),
    ("double", "long"),
    ("double", "float"),
}
"""(from, to) column kinds whose type change can alter values."""


@dataclass(frozen=True)
class ChangeNullability:
    """Make a column ``NOT NULL`` or nullable."""

    column: ColumnSpec
    new: ColumnSpec


@dataclass(frozen=True)
class HandWrittenSQL:
    """The step's own SQL from ``subject.yaml``, by dialect (or ``default``), for one direction.

    ``{table}`` in a statement stands for the (qualified) table name. Afterwards the table is taken to be
    as the target version's ``create_table_sql`` makes it.
    """

    statements: dict[str, list[str]]
    target: Schema
    where: str

    def for_dialect(self, dialect: str, table: str) -> list[str]:
        """The statements for ``dialect``; raises :class:`MigrationError` when the step has none for it."""
        chosen = self.statements.get(dialect, self.statements.get("default"))
        if chosen is None:
            raise MigrationError(
                f"its hand-written sql has nothing for {dialect}; add 'sql: {{{dialect}: ...}}' (or 'default:') "
                f"to the step in subject.yaml",
                step=self.where,
            )
        return [statement.replace("{table}", table) for statement in chosen]


Change = (
    AddColumn
    | FillWithValue
    | FillFromColumn
    | RenameColumn
    | DropColumn
    | ChangeType
    | RefuseNarrowing
    | ChangeNullability
    | HandWrittenSQL
)


@dataclass(frozen=True)
class ChangeGroup:
    """The changes one operation makes, with a one-line description for the script's comment."""

    description: str
    changes: list[Change]


@dataclass
class StepPlan:
    """One step (up or down) as table changes."""

    step: Step
    up: bool
    groups: list[ChangeGroup]

    @property
    def title(self) -> str:
        """``v1 -> v2 (upgrade)`` or ``v2 -> v1 (downgrade)``."""
        if self.up:
            return f"v{self.step.from_version} -> v{self.step.to_version} (upgrade)"
        return f"v{self.step.to_version} -> v{self.step.from_version} (downgrade)"


@dataclass
class TableShape:
    """The columns a table has at one point of a migration, in order; renderers need it for full rebuilds."""

    columns: dict[str, ColumnSpec] = field(default_factory=dict)

    @classmethod
    def of(cls, schema: Schema) -> TableShape:
        """The table as ``create_table_sql`` makes it for a version."""
        return cls({c.name: c for c in table_columns(schema)})

    def apply(self, change: Change) -> None:
        """Track one change."""
        if isinstance(change, AddColumn):
            self.columns[change.column.name] = change.column
        elif isinstance(change, RenameColumn):
            self.columns = {
                (change.new_name if name == change.column.name else name): (
                    ColumnSpec(change.new_name, spec.type, spec.nullable, spec.kind)
                    if name == change.column.name
                    else spec
                )
                for name, spec in self.columns.items()
            }
        elif isinstance(change, DropColumn):
            del self.columns[change.column.name]
        elif isinstance(change, (ChangeType, ChangeNullability)):
            self.columns[change.column.name] = change.new
        elif isinstance(change, HandWrittenSQL):
            self.columns = TableShape.of(change.target).columns


def plan_migration(subject: Subject, from_version: int, to_version: int) -> list[StepPlan]:
    """The table changes that move ``subject``'s table between two versions, one :class:`StepPlan` per step."""
    plans = []
    for step, up in subject.path(from_version, to_version):
        plans.append(_Planner(subject, step, up).plan())
    return plans


class _Planner:
    """Plans one step, tracking the table's shape so each change knows the column as it is then."""

    def __init__(self, subject: Subject, step: Step, up: bool) -> None:
        assert step.old is not None and step.new is not None
        self.subject, self.step, self.up = subject, step, up
        self.source, self.target = (step.old, step.new) if up else (step.new, step.old)
        self.shape = TableShape.of(self.source)
        self.groups: list[ChangeGroup] = []
        self.name = f"v{step.from_version}->v{step.to_version}"

    def error(self, message: str, field: str = "") -> MigrationError:
        return MigrationError(message, subject=self.subject.name, step=self.name, field=field)

    def plan(self) -> StepPlan:
        direction = "upgrade" if self.up else "downgrade"
        if self.step.sql:
            by_dialect = {d: ways[direction] for d, ways in self.step.sql.items() if direction in ways}
            if not by_dialect:
                raise self.error(f"its hand-written sql has no {direction}; add '{direction}:' under 'sql:'")
            change = HandWrittenSQL(by_dialect, self.target, f"{self.name} ({self.subject.name})")
            self.emit(f"hand-written SQL ({direction}) from {self.subject.name}/subject.yaml", change)
            return StepPlan(self.step, self.up, self.groups)
        if self.step.has_callable:
            raise self.error(
                "a 'call' operation moves records with Python code, so the SQL for the table cannot be "
                "derived from it; declare the step with add, copy, rename, remove and promote operations, "
                f"or give the step hand-written 'sql:' in {self.subject.name}/subject.yaml"
            )
        self.plan_operations()
        self.reconcile()
        return StepPlan(self.step, self.up, self.groups)

    def emit(self, description: str, *changes: Change) -> None:
        for change in changes:
            self.shape.apply(change)
        self.groups.append(ChangeGroup(description, list(changes)))

    def plan_operations(self) -> None:
        """One table change per record operation: the upgrade's operations, or on the way down their inverses
        (``Step.down``), so the table's downgrade is derived exactly as the records' is."""
        into = f"v{self.step.to_version if self.up else self.step.from_version}"
        for op in self.step.up if self.up else self.step.down:
            if isinstance(op, Add):
                if op.has_value:
                    self.add(op.field, f"add {op.field} = {op.value!r}", op.value, converted=False)
                elif self.up:
                    self.add(op.field, f"add {op.field} (its default)")
                else:  # the inverse of a remove
                    self.add(op.field, f"put back {op.field} (filled with its {into} default)", required_default=True)
            elif isinstance(op, Fill):
                verb = "add" if self.up else "put back"
                self.add(
                    op.field,
                    f"{verb} {op.field} (in {into}, filled with its default)",
                    required_default=not self.up,
                )
            elif isinstance(op, Copy):
                self.copy(op.field, op.source)
            elif isinstance(op, Rename):
                self.emit(f"rename {op.old} to {op.new}", RenameColumn(self.shape.columns[op.old], op.new))
            elif isinstance(op, (Remove, Drop)):
                self.emit(f"remove {op.field} (not in {into})", DropColumn(self.shape.columns[op.field]))
            elif isinstance(op, Promote):
                self.change_type(op.field, f"promote {op.field} from {op.source_type} to {op.to}")
            elif isinstance(op, Demote):
                self.change_type(op.field, f"demote {op.field} from {op.current} back to {op.to}")

    def add(
        self,
        name: str,
        description: str,
        value: Any = None,
        *,
        converted: bool = True,
        required_default: bool = False,
    ) -> None:
        """Add a column, fill it with ``value`` (else the target version's default), then require it if needed."""
        spec = column_spec(self.target, name)
        if converted:
            has_default, value = default_value(self.target, name)
            if not has_default and (required_default or not spec.nullable):
                version = self.step.from_version if not self.up else self.step.to_version
                raise self.error(
                    f"v{version} gives the field no default, so existing rows have no value for it; "
                    f"add a default to v{version}.avsc",
                    name,
                )
        else:
            value = _value_for(self.target, name, value)
        if value is None and not spec.nullable:
            raise self.error(f"the value for existing rows is null but the field is not nullable ({spec.kind})", name)
        changes: list[Change] = [AddColumn(_nullable(spec))]
        if value is not None:
            changes.append(FillWithValue(_nullable(spec), value))
        if not spec.nullable:
            changes.append(ChangeNullability(_nullable(spec), spec))
        self.emit(description, *changes)

    def copy(self, name: str, source: str) -> None:
        spec = column_spec(self.target, name)
        changes: list[Change] = [
            AddColumn(_nullable(spec)),
            FillFromColumn(_nullable(spec), self.shape.columns[source]),
        ]
        if not spec.nullable:
            changes.append(ChangeNullability(_nullable(spec), spec))
        self.emit(f"add {name}, copied from {source}", *changes)

    def change_type(self, name: str, description: str) -> None:
        current = self.shape.columns[name]
        wanted = column_spec(self.target, name)
        wanted = ColumnSpec(name, wanted.type, current.nullable, wanted.kind)
        if not current.same_type(wanted):
            self.emit(description, *_guarded(current, wanted))

    def reconcile(self) -> None:
        """Bring types and nullability in line with the target version where no operation said so."""
        wanted = TableShape.of(self.target).columns
        if set(wanted) != set(self.shape.columns):
            raise self.error(
                f"the planned table has columns {sorted(self.shape.columns)} but v"
                f"{self.step.to_version if self.up else self.step.from_version} has {sorted(wanted)}; "
                "this is a bug in versioning.migrations, please report it"
            )
        for name, spec in wanted.items():
            current = self.shape.columns[name]
            if not current.same_type(spec):
                self.emit(
                    f"change {name} from {current.kind} to {spec.kind}",
                    *_guarded(current, ColumnSpec(name, spec.type, current.nullable, spec.kind)),
                )
                current = self.shape.columns[name]
            if current.nullable != spec.nullable:
                state = "nullable" if spec.nullable else "required (NOT NULL)"
                self.emit(f"make {name} {state}", ChangeNullability(current, spec))


def _guarded(current: ColumnSpec, wanted: ColumnSpec) -> list[Change]:
    """A type change, preceded by a check that no value changes when it narrows."""
    change = ChangeType(current, wanted)
    if (current.kind, wanted.kind) in NARROWINGS:
        return [RefuseNarrowing(current, wanted), change]
    return [change]


def _nullable(spec: ColumnSpec) -> ColumnSpec:
    return ColumnSpec(spec.name, spec.type, True, spec.kind)


def _value_for(schema: Schema, name: str, value: Any) -> Any:
    """A value given in a step (written like a default, in Avro's JSON form) as the column's Python value."""
    parsed = schema.parsed.fields_dict[name].type  # type: ignore[attr-defined]
    return sql_value(parsed, value)
