"""The plan of an upgrade: where each field of the target version comes from, worked out once from the steps.

The declarative operations of consecutive steps (add, copy, rename, remove, promote and the implied fills and
drops) are run symbolically over the source version's field names. What comes out says, for each output field,
where its value comes from: an input field, a constant, or a promotion of an input field. The row, column and
Avro byte implementations each turn the same plan into their own fast code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from versioning.upgrade.operations import (
    Add,
    Copy,
    Drop,
    Fill,
    Promote,
    Remove,
    Rename,
    Step,
    promote_value,
    shared_default,
)


@dataclass(frozen=True)
class InputField:
    """The value of an input field."""

    name: str


@dataclass(frozen=True)
class Constant:
    """A constant (a default or an ``add`` value) as the reference step would give it (copied if mutable)."""

    value: Any


@dataclass(frozen=True)
class Promoted:
    """An input value widened by a ``promote`` operation (None stays None, as in the reference)."""

    value: InputField | Promoted
    source_type: str
    to: str
    field: str


Expression = InputField | Constant | Promoted


def plan_fields(steps: list[Step], source_fields: list[str]) -> dict[str, Expression]:
    """Run declarative steps over field names: each output field (in output order) and where it comes from.

    Operations are replayed in the reference's order (:attr:`Step.up`) with the reference's dict operations, so
    keys come out in the order :meth:`Step.upgrade` would give them. Raises ValueError for a ``call`` step.
    """
    state: dict[str, Expression] = {name: InputField(name) for name in source_fields}
    for step in steps:
        assert step.new is not None
        for op in step.up:
            if isinstance(op, Add):
                state[op.field] = Constant(op.record_value if op.has_value else shared_default(step.new, op.field))
            elif isinstance(op, Copy):
                state[op.field] = state.get(op.source, Constant(None))
            elif isinstance(op, Rename):
                if op.old in state:
                    state[op.new] = state.pop(op.old)
            elif isinstance(op, (Remove, Drop)):
                state.pop(op.field, None)
            elif isinstance(op, Fill):
                state.setdefault(op.field, Constant(shared_default(step.new, op.field)))
            elif isinstance(op, Promote):
                if op.field in state:
                    state[op.field] = _promoted(state[op.field], op)
            else:
                raise ValueError("a call step cannot be planned")
    return state


def _promoted(expr: Expression, op: Promote) -> Expression:
    if isinstance(expr, Constant):
        return Constant(promote_value(expr.value, op.source_type, op.to, op.field))
    return Promoted(expr, op.source_type, op.to, op.field)
