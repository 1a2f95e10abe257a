"""Upgrading rows (lists of dicts) fast, with exactly the results of :meth:`Subject.convert`.

The declarative operations of consecutive steps (add, copy, rename, remove, promote and the implied defaults
and drops) are run once, symbolically, over the source version's field names. What comes out says, for each
field of the target version, where its value comes from: an input field, a constant, or a promotion of an
input field. That plan becomes one small function that builds each output dict in a single expression, so a
record costs one dict display instead of a dict copy and a pass per operation.

The plan holds for records that carry exactly the source version's fields (valid records written by a
producer that fills every field, which is what files hold). Any other record, and every step from the first
``call`` step on, goes the reference way (:meth:`Step.upgrade`), record by record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from versioning.upgrade.operations import Step, promote_value
from versioning.upgrade.plan import Constant, Expression, InputField, plan_fields
from versioning.validation.reference import VERSION_FIELD
from versioning.values import is_mutable, owned

if TYPE_CHECKING:
    from versioning.registry import Subject

Record = dict[str, Any]


Batch = Callable[[list[Record], Callable[[Record], Record]], list[Record]]
"""``fn(records, other)``: the planned records upgraded, any record that does not fit passed to ``other``."""


def compile_plan(plan: dict[str, Expression], version: int, fields: frozenset[str], *, valid: bool) -> Batch:
    """One function that upgrades a list of records as the plan says, stamping each with ``version``.

    A record fits the plan when its keys are exactly ``fields``; with ``valid`` (records already validated,
    so no unknown keys) having as many keys as ``fields`` and no ``schema_version`` says the same, cheaper.

    The function is generated source (as :mod:`dataclasses` generates ``__init__``): a list comprehension
    over one dict display is several times faster than any loop over fields or call per record. Field names
    enter the source only as ``repr`` string literals; values enter as bound constants, never as text.
    """
    bound: dict[str, Any] = {"_promote": promote_value, "_owned": owned, "fields": fields}
    items: list[str] = []

    def source(expr: Expression) -> str:
        if isinstance(expr, InputField):
            return f"r[{expr.name!r}]"
        if isinstance(expr, Constant):
            key = f"c{len(bound)}"
            bound[key] = expr.value
            # A list, map or record default: each record gets its own copy, as in the reference.
            return f"_owned({key})" if is_mutable(expr.value) else key
        inner = source(expr.value)
        return f"_promote({inner}, {expr.source_type!r}, {expr.to!r}, {expr.field!r})"

    for name, expr in plan.items():
        if name != VERSION_FIELD:
            items.append(f"{name!r}: {source(expr)}")
    items.append(f"{VERSION_FIELD!r}: {version!r}")
    display = "{" + ", ".join(items) + "}"
    fits = f"len(r) == {len(fields)} and {VERSION_FIELD!r} not in r" if valid else "r.keys() == fields"
    code = f"lambda records, other: [{display} if {fits} else other(r) for r in records]"
    function: Batch = eval(code, bound)  # source built from literals above
    return function


class RowUpgrader:
    """Moves records of a subject from one version to another; same results as :meth:`Subject.convert`.

    Upward paths of declarative steps are compiled (see the module docs); a downgrade, and the steps from a
    ``call`` step on, run the reference steps record by record.
    """

    def __init__(self, subject: Subject, from_version: int, to_version: int) -> None:
        self.subject = subject
        self.from_version = subject.version_number(from_version)
        self.to_version = subject.version_number(to_version)
        path = subject.path(self.from_version, self.to_version)
        upward = all(up for _, up in path)
        planned: list[Step] = []
        for step, _ in path if upward else []:
            if step.has_callable:
                break
            planned.append(step)
        self.compiled = upward
        """Whether records that fit the plan skip the reference steps (False for a downgrade)."""
        self.rest: list[Step] = [step for step, _ in path][len(planned) :] if upward else []
        """The steps from the first ``call`` step on, run by the reference record by record."""
        # The reference strips the stamp before the steps run, so a field of that name is never an input.
        names = [f for f in subject.schemas[self.from_version].field_names if f != VERSION_FIELD]
        self.source_fields = frozenset(names)
        plan = plan_fields(planned, names)
        # The plan's output is at the version after the planned steps; the rest (if any) take it further.
        self._middle = self.from_version + len(planned)
        self.fallbacks = 0
        """How many records went the reference way so far (those the plan did not fit)."""
        self._any = compile_plan(plan, self._middle, self.source_fields, valid=False)
        self._valid = compile_plan(plan, self._middle, self.source_fields, valid=True)

    def upgrade(self, records: Iterable[Record]) -> list[Record]:
        """Every record moved to ``to_version``, in order; a record's own ``schema_version`` wins, as in convert."""
        if not self.compiled:
            return [self._reference(r) for r in records]
        return self._after_plan(self._any(_as_list(records), self._other))

    def upgrade_valid(self, records: Iterable[Record]) -> list[Record]:
        """As :meth:`upgrade`, for records already valid for ``from_version`` (a cheaper test of fit)."""
        if not self.compiled:
            return self.upgrade(records)
        return self._after_plan(self._valid(_as_list(records), self._other))

    def _other(self, record: Record) -> Record:
        """A record that does not fit the plan as it is: stamped with the source version, or anything else."""
        stamp = record.get(VERSION_FIELD)
        # The stamp decides where a record starts, as in Subject.convert; True == 1, so check the type too.
        if type(stamp) is int and stamp == self.from_version:
            unstamped = {k: v for k, v in record.items() if k != VERSION_FIELD}
            if unstamped.keys() == self.source_fields:
                return self._any([unstamped], self._reference)[0]
        return self._reference(record)

    def _reference(self, record: Record) -> Record:
        self.fallbacks += 1
        return self.subject.convert(record, self.to_version, self.from_version)

    def _after_plan(self, records: list[Record]) -> list[Record]:
        if not self.rest:
            return records
        # Records the reference converted are already at to_version; the planned ones are at the middle.
        return [self._finish(r) if r[VERSION_FIELD] == self._middle else r for r in records]

    def _finish(self, record: Record) -> Record:
        out = {k: v for k, v in record.items() if k != VERSION_FIELD}
        for step in self.rest:
            out = step.upgrade(out)
        out[VERSION_FIELD] = self.to_version
        return out


def _as_list(records: Iterable[Record]) -> list[Record]:
    return records if isinstance(records, list) else list(records)
