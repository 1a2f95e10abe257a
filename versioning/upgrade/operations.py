"""Steps: how records move from one version of a subject to the next, and back.

A step sits between two consecutive versions and is a list of operations, declared in ``subject.yaml``.
Declarative operations say what changed (a field added, copied, renamed, removed, promoted to a wider
type), so the library can both move records and write the SQL that moves a table. Where a change cannot be
declared, a ``call`` operation names a Python function for each direction.

Fields that a new version adds with a default and that no operation mentions are filled from that default,
as Avro schema resolution would fill them; fields it drops are removed. Everything else must be declared.

Operations, as written in YAML::

    - add: email                                  # filled with the field's default in the new version
    - add: {field: country, value: "ES"}          # or with a given value
    - copy: {field: updated_at, from: created_at} # a new field taking another field's value
    - rename: {from: mail, to: email}             # the new field should list the old name in its aliases
    - remove: fax                                 # downgrade puts back the old version's default
    - promote: {field: amount, to: double}        # int->long->float->double, string<->bytes
    - call: {upgrade: "pkg.module:function", downgrade: "pkg.module:function"}
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from versioning.errors import Problem, StepError
from versioning.schema import Schema
from versioning.values import NarrowingError, from_json, narrow, owned

Record = dict[str, Any]
RecordFunction = Callable[[Record], Record]

PROMOTIONS = {
    ("int", "long"),
    ("int", "float"),
    ("int", "double"),
    ("long", "float"),
    ("long", "double"),
    ("float", "double"),
    ("string", "bytes"),
    ("bytes", "string"),
}


class _Reversible:
    """What every operation does (Alembic's operation objects): apply itself to a record, and give its inverse.

    ``apply(record, into, step)`` changes ``record`` (a fresh dict the step owns) into the version whose schema is
    ``into`` and returns it; ``reverse()`` is the operation that undoes it, so a step's downgrade is derived from
    its upgrade, never written a second time.
    """


@dataclass(frozen=True)
class Add(_Reversible):
    """A field the new version adds, filled with ``value`` (or the field's default in the version moved into)."""

    field: str
    value: Any = None
    """The value as written in ``subject.yaml`` (Avro's JSON form, like a default)."""
    has_value: bool = False
    record_value: Any = None
    """``value`` as the Python value records hold (bytes, Decimal, date...), set when the step is built."""

    def apply(self, record: Record, into: Schema, step: Step) -> Record:
        record[self.field] = owned(self.record_value) if self.has_value else default_value(into, self.field)
        return record

    def reverse(self) -> Operation:
        return Drop(self.field)


@dataclass(frozen=True)
class Copy(_Reversible):
    """A field the new version adds, filled with the value of ``source`` (e.g. ``updated_at`` from ``created_at``)."""

    field: str
    source: str

    def apply(self, record: Record, into: Schema, step: Step) -> Record:
        record[self.field] = record.get(self.source)
        return record

    def reverse(self) -> Operation:
        return Drop(self.field)


@dataclass(frozen=True)
class Rename(_Reversible):
    """A field renamed from ``old`` to ``new``."""

    old: str
    new: str

    def apply(self, record: Record, into: Schema, step: Step) -> Record:
        if self.old in record:
            record[self.new] = record.pop(self.old)
        return record

    def reverse(self) -> Operation:
        return Rename(self.new, self.old)


@dataclass(frozen=True)
class Remove(_Reversible):
    """A field the new version drops; its inverse puts back the old version's default."""

    field: str

    def apply(self, record: Record, into: Schema, step: Step) -> Record:
        record.pop(self.field, None)
        return record

    def reverse(self) -> Operation:
        return Add(self.field)


@dataclass(frozen=True)
class Fill(_Reversible):
    """A field filled with its default where a record lacks it (implied: a new field no operation mentions)."""

    field: str

    def apply(self, record: Record, into: Schema, step: Step) -> Record:
        if self.field not in record:
            record[self.field] = default_value(into, self.field)
        return record

    def reverse(self) -> Operation:
        return Drop(self.field)


@dataclass(frozen=True)
class Drop(_Reversible):
    """A field dropped (implied: an old field the new version lacks; or the inverse of an add or a copy)."""

    field: str

    def apply(self, record: Record, into: Schema, step: Step) -> Record:
        record.pop(self.field, None)
        return record

    def reverse(self) -> Operation:
        return Fill(self.field)


@dataclass(frozen=True)
class Promote(_Reversible):
    """A field whose type widens (``int`` to ``long``, ``float`` to ``double``, ``string`` to ``bytes``...)."""

    field: str
    to: str
    source_type: str = ""

    def apply(self, record: Record, into: Schema, step: Step) -> Record:
        if self.field in record:
            record[self.field] = promote_value(record[self.field], self.source_type, self.to, self.field)
        return record

    def reverse(self) -> Operation:
        return Demote(self.field, self.source_type, self.to)


@dataclass(frozen=True)
class Demote(_Reversible):
    """The inverse of a promotion: back to ``to`` from ``current``, refusing any change of value."""

    field: str
    to: str
    current: str

    def apply(self, record: Record, into: Schema, step: Step) -> Record:
        if self.field in record:
            record[self.field] = demote_value(record[self.field], self.current, self.to, self.field)
        return record

    def reverse(self) -> Operation:
        return Promote(self.field, self.current, self.to)


@dataclass(frozen=True)
class Call(_Reversible):
    """Python functions (``module:function``) that move one record up, and optionally back down."""

    upgrade: str | None
    downgrade: str | None = None

    def apply(self, record: Record, into: Schema, step: Step) -> Record:
        if self.upgrade is None:
            raise StepError(
                f"step v{step.from_version}->v{step.to_version} has no downgrade function "
                f"(its call operation names only upgrade={self.downgrade!r}); add 'downgrade:' to it"
            )
        return _call(self.upgrade, record, step)

    def reverse(self) -> Operation:
        return Call(self.downgrade, self.upgrade)


Operation = Add | Copy | Rename | Remove | Fill | Drop | Promote | Demote | Call


@dataclass
class Step:
    """The move between two consecutive versions: declared operations plus the implied defaults and drops."""

    from_version: int
    to_version: int
    operations: list[Operation]
    implied_adds: list[str] = field(default_factory=list)
    """New fields with a default that no operation mentions: filled from the default."""
    implied_removes: list[str] = field(default_factory=list)
    """Old fields that no operation mentions and the new version lacks: dropped."""
    old: Schema | None = None
    new: Schema | None = None
    folder: Path | None = None
    """The subject's folder, where a ``call`` operation's module may live."""
    description: str = ""
    """What the step is for, as ``subject.yaml`` says it."""
    sql: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    """Hand-written SQL for the table, by dialect (or ``default``) and direction (``upgrade``/``downgrade``);
    when present it is the step's migration, instead of SQL derived from the operations."""

    @property
    def has_callable(self) -> bool:
        """Whether a Python function takes part (so the step's effect is not fully declared)."""
        return any(isinstance(op, Call) for op in self.operations)

    @property
    def up(self) -> list[Operation]:
        """Every operation of the upgrade, in order: the declared ones, then the implied fills and drops."""
        return [*self.operations, *(Fill(n) for n in self.implied_adds), *(Drop(n) for n in self.implied_removes)]

    @property
    def down(self) -> list[Operation]:
        """The downgrade, derived: the inverse of each upgrade operation, last first."""
        return [op.reverse() for op in reversed(self.up)]

    def upgrade(self, record: Record) -> Record:
        """Move one record from ``from_version`` to ``to_version``; the input is not modified."""
        assert self.new is not None
        out = dict(record)
        for op in self.up:
            out = op.apply(out, self.new, self)
        return out

    def downgrade(self, record: Record) -> Record:
        """Move one record from ``to_version`` back to ``from_version``; the input is not modified."""
        assert self.old is not None
        out = dict(record)
        for op in self.down:
            out = op.apply(out, self.old, self)
        return out


SQL_DIALECTS = ("postgresql", "sqlite", "mysql", "bigquery", "default")


def parse_sql(raw: Any, where: str) -> tuple[dict[str, dict[str, list[str]]], list[Problem]]:
    """Read a step's hand-written ``sql:`` (dialect -> upgrade/downgrade -> statement or list of statements)."""
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        return {}, [Problem(where, f"must map dialects ({', '.join(SQL_DIALECTS)}) to {{upgrade, downgrade}}")]
    found: dict[str, dict[str, list[str]]] = {}
    problems: list[Problem] = []
    for dialect, directions in raw.items():
        at = f"{where}.{dialect}"
        if dialect not in SQL_DIALECTS:
            problems.append(Problem(at, f"unknown dialect; use one of {', '.join(SQL_DIALECTS)}"))
            continue
        if not isinstance(directions, dict) or not set(directions) <= {"upgrade", "downgrade"} or not directions:
            problems.append(Problem(at, "needs 'upgrade' and/or 'downgrade', each a statement or a list of them"))
            continue
        found[dialect] = {}
        for direction, statements in directions.items():
            listed = [statements] if isinstance(statements, str) else statements
            if not isinstance(listed, list) or not all(isinstance(x, str) and x.strip() for x in listed):
                problems.append(Problem(f"{at}.{direction}", "must be a SQL statement or a list of them"))
                continue
            found[dialect][direction] = [x.strip().removesuffix(";").rstrip() for x in listed]
    return found, problems


def parse_operations(raw: Any, where: str) -> tuple[list[Operation], list[Problem]]:
    """Read a step's operation list as written in ``subject.yaml``; returns operations and problems."""
    operations: list[Operation] = []
    problems: list[Problem] = []
    if raw is None:
        return operations, problems
    if not isinstance(raw, list):
        return operations, [Problem(where, "a step's 'upgrade' must be a list of operations")]
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(item, dict) or len(item) != 1:
            problems.append(Problem(at, f"an operation is one of {_OP_NAMES} with its arguments, got {item!r}"))
            continue
        ((name, args),) = item.items()
        try:
            operations.append(_operation(name, args))
        except (TypeError, KeyError, ValueError) as err:
            problems.append(Problem(at, f"{name}: {err}"))
    return operations, problems


_OP_NAMES = "add, copy, rename, remove, promote, call"


def _operation(name: str, args: Any) -> Operation:
    def need(key: str) -> str:
        if not isinstance(args, dict) or not isinstance(args.get(key), str):
            raise KeyError(f"needs '{key}: <name>'")
        return str(args[key])

    if name == "add":
        if isinstance(args, str):
            return Add(args)
        return Add(need("field"), args.get("value"), "value" in args)
    if name == "copy":
        return Copy(need("field"), need("from"))
    if name == "rename":
        return Rename(need("from"), need("to"))
    if name == "remove":
        return Remove(args if isinstance(args, str) else need("field"))
    if name == "promote":
        return Promote(need("field"), need("to"))
    if name == "call":
        return Call(need("upgrade"), args.get("downgrade"))
    raise ValueError(f"unknown operation; use one of {_OP_NAMES}")


def build_step(
    from_version: int, to_version: int, operations: list[Operation], old: Schema, new: Schema, where: str
) -> tuple[Step, list[Problem]]:
    """Check a step's operations against the two schemas and work out the implied adds and drops."""
    if not operations and old.layout is not None and new.layout is not None:
        return _plain_step(from_version, to_version, old, new, where)
    problems: list[Problem] = []
    # Each schema's names read once: a registry builds a step per pair of versions while loading, and
    # ``field_names`` makes a new list on every call.
    old_names = old.field_names
    new_names = new.field_names
    new_set = set(new_names)
    fields = set(old_names)
    new_fields: list[dict[str, Any]] | None = None

    def new_has_default(name: str) -> bool:
        # As ``_has_default(new, name)`` (the first field of that name), without building the by-name index a
        # version proven by its parts would otherwise make for this one look-up.
        nonlocal new_fields
        if new_fields is None:
            new_fields = new.fields
        return "default" in new_fields[new_names.index(name)]

    resolved: list[Operation] = []
    for i, op in enumerate(operations):
        at = f"{where}[{i}]"
        if isinstance(op, Add) and op.has_value and op.field in new_set:
            # Written like a default (Avro's JSON form); records hold the Python value.
            parsed_type = new.parsed.fields_dict[op.field].type  # type: ignore[attr-defined]
            op = Add(op.field, op.value, True, from_json(parsed_type, op.value))
        if isinstance(op, (Add, Copy)):
            if op.field not in new_set:
                problems.append(Problem(at, f"field {op.field!r} is not in v{to_version}; add it to the schema"))
            elif isinstance(op, Add) and not op.has_value and not new_has_default(op.field):
                problems.append(
                    Problem(at, f"field {op.field!r} has no default in v{to_version}; give it one or a 'value'")
                )
            if isinstance(op, Copy) and op.source not in fields:
                problems.append(Problem(at, f"copy source {op.source!r} is not a field of v{from_version}"))
            elif isinstance(op, Copy) and op.field in new_set:
                mismatch = _copy_mismatch(old, op.source, new, op.field, to_version)
                if mismatch:
                    problems.append(Problem(at, mismatch))
            fields.add(op.field)
        elif isinstance(op, Rename):
            if op.old not in fields:
                problems.append(Problem(at, f"rename: {op.old!r} is not a field of v{from_version}"))
            if op.new not in new_set:
                problems.append(Problem(at, f"rename: {op.new!r} is not a field of v{to_version}"))
            fields.discard(op.old)
            fields.add(op.new)
        elif isinstance(op, Remove):
            if op.field not in fields:
                problems.append(Problem(at, f"remove: {op.field!r} is not a field of v{from_version}"))
            fields.discard(op.field)
        elif isinstance(op, Promote):
            source_type = _plain_type(old, op.field)
            if (source_type, op.to) not in PROMOTIONS:
                problems.append(Problem(at, f"promote: {op.field!r} cannot be promoted from {source_type} to {op.to}"))
            op = Promote(op.field, op.to, source_type or "")
        resolved.append(op)
    has_call = any(isinstance(op, Call) for op in operations)
    implied_adds: list[str] = []
    for name in new_names:
        if name in fields:
            continue
        if new_has_default(name):
            implied_adds.append(name)
        elif has_call:
            continue  # the step's function is trusted to produce it; validation checks the result
        else:
            problems.append(_not_filled(where, to_version, name))
    # With a function in the step, fields it consumes are its business; only defaulted ones are implied.
    implied_removes = [name for name in sorted(fields - new_set) if not has_call or _has_default(old, name)]
    step = Step(from_version, to_version, resolved, implied_adds, implied_removes, old, new)
    return step, problems


def _plain_step(from_version: int, to_version: int, old: Schema, new: Schema, where: str) -> tuple[Step, list[Problem]]:
    """:func:`build_step` for a step that declares nothing, between two versions proven by their parts.

    What the general path works out, from the two versions' name sets (made once per version while proving it,
    see :class:`versioning.schema.RecordLayout`) instead of walking both field lists: a registry loading a
    subject builds one step per pair of versions, most of them declaring nothing. A proven layout's names are
    distinct, so the set differences are the general path's loops; the new names are taken in schema order,
    so the problems come in the same order with the same messages.
    """
    assert old.layout is not None and new.layout is not None
    old_set, new_set = old.layout.name_set, new.layout.name_set
    implied_adds: list[str] = []
    problems: list[Problem] = []
    added = new_set - old_set
    if added:
        names, layouts = new.layout.names, new.layout.fields
        # Where the new names stand, in schema order (a few looked up; many found in one pass).
        at = sorted(map(names.index, added)) if len(added) <= 4 else [i for i, n in enumerate(names) if n in added]
        for i in at:
            if "default" in layouts[i].json:
                implied_adds.append(names[i])
            else:
                problems.append(_not_filled(where, to_version, names[i]))
    implied_removes = sorted(old_set - new_set)
    return Step(from_version, to_version, [], implied_adds, implied_removes, old, new), problems


def _not_filled(where: str, to_version: int, name: str) -> Problem:
    return Problem(
        where,
        f"v{to_version} adds field {name!r} without a default and no operation fills it; "
        f"add '- add: {{field: {name}, value: ...}}', '- copy: ...' or a default to the schema",
    )


def _copy_mismatch(old: Schema, source: str, new: Schema, target: str, to_version: int) -> str | None:
    """Why values of ``old.source`` may not be valid ``new.target`` values as they are, or None.

    A copy moves the value unchanged, so the target's type must accept every value of the source's type:
    the same type, or a union holding it. (Avro promotions such as int to long are not enough here, since
    the value is not converted.)
    """
    source_field, target_field = old.field(source), new.field(target)
    if source_field is None or target_field is None:
        return None
    source_types = _branches(source_field["type"])
    target_types = _branches(target_field["type"])
    missing = [t for t in source_types if t not in target_types]
    if missing:
        # A named type is written out once per schema and referred to by name after that (a union holding
        # the very enum the record defines in another field is ["null", "Code"]): compare the parsed types.
        parsed_source = _parsed_branches(old.parsed.fields_dict[source].type)  # type: ignore[attr-defined]
        parsed_target = _parsed_branches(new.parsed.fields_dict[target].type)  # type: ignore[attr-defined]
        missing = [t for t, p in zip(source_types, parsed_source, strict=True) if p not in parsed_target]
    if not missing:
        return None
    shown = ", ".join(json.dumps(t) for t in missing)
    return (
        f"copy: {target!r} in v{to_version} cannot hold every value of {source!r} ({shown}); "
        f"give {target!r} the same type (or a union including it)"
    )


def _branches(kind: Any) -> list[Any]:
    return list(kind) if isinstance(kind, list) else [kind]


def _parsed_branches(kind: Any) -> list[Any]:
    """The branches of a parsed (``avro`` package) type: a union's, else the type itself."""
    return list(kind.schemas) if kind.type == "union" else [kind]


def _has_default(schema: Schema, name: str) -> bool:
    found = schema.field(name)
    return found is not None and "default" in found


def shared_default(schema: Schema, name: str) -> Any:
    """The default of field ``name`` as a Python value, shared: copy it (:func:`owned`) before a record holds it."""
    try:
        return schema.default(name)
    except KeyError:
        raise StepError(f"field {name!r} has no default in {schema.source}, so a record cannot be given one") from None


def default_value(schema: Schema, name: str) -> Any:
    """The default of field ``name`` as a Python value of the record's own (bytes, Decimal, a fresh list...)."""
    return owned(shared_default(schema, name))


def _plain_type(schema: Schema, name: str) -> str | None:
    found = schema.field(name)
    if found is None:
        return None
    kind = found["type"]
    if isinstance(kind, dict) and "logicalType" not in kind:
        kind = kind.get("type")
    return kind if isinstance(kind, str) else None


def promote_value(value: Any, source: str, target: str, name: str) -> Any:
    """A value of type ``source`` in the wider type ``target`` (a ``promote`` operation, upward)."""
    if value is None:
        return None
    if target in ("float", "double"):
        return float(value)
    if source == "string" and target == "bytes":
        return value.encode("utf-8") if isinstance(value, str) else value
    if source == "bytes" and target == "string":
        try:
            return narrow(value, "string")
        except NarrowingError as err:
            raise StepError(f"field {name!r}: {err}") from None
    return value


def demote_value(value: Any, current: str, target: str, name: str) -> Any:
    """A value of the promoted type ``current`` back in ``target``, unchanged, or :class:`StepError`."""
    if value is None:
        return None
    if target == "bytes" and isinstance(value, str):
        return value.encode("utf-8")
    try:
        return narrow(value, target)
    except NarrowingError as err:
        raise StepError(f"field {name!r} cannot go back to {target}: {err}") from None


_functions: dict[str, RecordFunction] = {}


def load_function(reference: str, folder: Path | None = None) -> RecordFunction:
    """Return the function ``module:function`` names, importing the module once.

    A module that is a file in the subject's ``folder`` (``steps.py`` beside the schemas) is loaded from
    there; anything else is imported from the Python path.
    """
    key = f"{folder}|{reference}"
    if key not in _functions:
        module_name, _, attribute = reference.partition(":")
        if not module_name or not attribute:
            raise StepError(f"{reference!r} is not 'package.module:function'")
        local = folder / f"{module_name}.py" if folder is not None else None
        try:
            if local is not None and local.is_file():
                spec = importlib.util.spec_from_file_location(f"_versioning_steps_{abs(hash(local))}", local)
                assert spec is not None and spec.loader is not None
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
            else:
                module = importlib.import_module(module_name)
        except ImportError as err:
            where = f"{local} or the Python path" if local is not None else "the Python path"
            raise StepError(f"cannot import the module of {reference!r} (looked in {where}): {err}") from None
        except Exception as err:  # the module's own code raised while it was imported: say so, with its message
            raise StepError(
                f"the module of {reference!r} raised {type(err).__name__} while being imported: {err}"
            ) from None
        function = getattr(module, attribute, None)
        if function is None:
            raise StepError(f"{reference!r}: the module {module_name!r} has no {attribute!r}; define it there")
        if not callable(function):
            kind = type(function).__name__
            raise StepError(f"{reference!r} names a {kind}, not a function; it must take a record and return one")
        _functions[key] = function
    return _functions[key]


def call_problems(step: Step) -> list[str]:
    """Why each function the step's ``call`` operations name cannot be used (empty: every one loads).

    The registry runs this when it loads, so a missing module, a module that raises while imported, a missing
    or non-callable attribute is a registry problem found by ``check`` and the deploy gate, not a traceback in
    the middle of an upgrade.
    """
    found = []
    for operation in step.operations:
        if not isinstance(operation, Call):
            continue
        for direction, reference in (("upgrade", operation.upgrade), ("downgrade", operation.downgrade)):
            if reference is None:
                continue
            try:
                load_function(reference, step.folder)
            except StepError as err:
                found.append(f"call {direction}: {err}")
    return found


def _call(reference: str, record: Record, step: Step) -> Record:
    function = load_function(reference, step.folder)
    try:
        result = function(dict(record))
    except Exception as err:
        raise StepError(
            f"step v{step.from_version}->v{step.to_version}: {reference} failed on a record: "
            f"{type(err).__name__}: {err}"
        ) from err
    if not isinstance(result, dict):
        raise StepError(f"step function {reference} must return a dict, returned {type(result).__name__}")
    return result
