"""The compiled plain-value scan behind RowValidator (versioning/validation/_plain.c), called directly.

Its verdicts inside RowValidator are held to the reference's by tests/versioning/test_validation_contract.py;
here: what it calls plain, that it is built wherever CI runs, and that malformed arguments are errors, not
crashes.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from versioning.validation import rows

pytestmark = pytest.mark.skipif(
    not rows.COMPILED and os.environ.get("CI") != "true", reason="the compiled scan is not built (make builds it)"
)


def test_should_be_built_wherever_ci_runs() -> None:
    # make installs the project, which builds the scan; without it RowValidator is correct but slower.
    assert rows.COMPILED


def _plain(*records: Any) -> bool:
    from versioning.validation import _plain

    return _plain.records_plain(list(records), None, (), (), rows.LEAVES, msgspec.UNSET)


class _Text(str):
    pass


@pytest.mark.parametrize(
    "value",
    [
        "ascii",
        "latin-1 é",
        "two bytes ♥",
        "four bytes 😀",
        "",
        0,
        -(2**63),
        2**64 - 1,
        1.5,
        float("inf"),
        True,
        None,
        b"x",
        bytearray(b"x"),
        dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        dt.date(2024, 1, 1),
        dt.time(1, 2),
        ["a", ["b", {"c": [1, None]}]],
        {"k": {"l": "m"}},
    ],
)
def test_should_call_exact_values_utf8_can_hold_plain(value: Any) -> None:
    assert _plain({"a": value}, {"b": [value, value]})


@pytest.mark.parametrize(
    "value",
    [
        "\ud800",
        "é \udfff",  # one byte per character but for the surrogate: stored two bytes each
        "😀 \udc00",  # four bytes each
        "ok, then \ud83d at the end",
        _Text("x"),
        -(2**63) - 1,
        2**64,
        ("a",),
        {"a"},
        frozenset({"a"}),
        memoryview(b"x"),
        dt.timedelta(1),
        object(),
        ["a", "\ud800"],
        {"\ud800": 1},
        {_Text("k"): 1},
        {1: "int key"},
    ],
)
def test_should_call_anything_else_not_plain(value: Any) -> None:
    assert not _plain({"a": "fine"}, {"a": value})
    assert not _plain({"a": "fine"}, {"a": [value]})


def test_should_take_only_exact_dicts_as_records() -> None:
    class Record(dict):
        pass

    assert not _plain({"a": 1}, Record(a=1))
    assert not _plain(["not a record"])
    assert _plain()


def test_should_send_very_deep_values_to_the_reference_instead_of_recursing() -> None:
    deep: Any = "leaf"
    for _ in range(200):
        deep = [deep]
    assert not _plain({"a": deep})
    shallow: Any = "leaf"
    for _ in range(100):
        shallow = [shallow]
    assert _plain({"a": shallow})


def test_should_refuse_malformed_arguments_with_an_error() -> None:
    from versioning.validation import _plain

    with pytest.raises(TypeError, match="six arguments"):
        _plain.records_plain([])  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="sequence"):
        _plain.records_plain(1, None, (), (), rows.LEAVES, msgspec.UNSET)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="as long as records"):
        _plain.records_plain([{}], [], (), (), rows.LEAVES, msgspec.UNSET)
    with pytest.raises(TypeError, match="pairs"):
        _plain.records_plain([], [], ("a",), (), rows.LEAVES, msgspec.UNSET)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="header"):
        _plain.records_plain([], [], ((0, "a"),), (), rows.LEAVES, msgspec.UNSET)


def test_should_find_the_slot_of_each_field_of_a_struct() -> None:
    from versioning.validation import _plain

    record_type = msgspec.defstruct("R", [("a", str), ("b", str)], gc=False)
    offsets = {name: _plain.slot_offset(record_type, name) for name in ("a", "b")}
    assert len(set(offsets.values())) == 2
    # Reading a slot is what attribute access does: the scan sees the Struct's "a" (a lone surrogate) only
    # through a's offset; the record itself is fine, and is read for the field not named in slots.
    record, converted = {"a": "ok", "b": "ok"}, [record_type(a="\ud800", b="ok")]
    assert not _plain.records_plain([record], converted, ((offsets["a"], "a"),), ("b",), rows.LEAVES, None)
    assert _plain.records_plain([record], converted, ((offsets["b"], "b"),), ("a",), rows.LEAVES, None)
    # Every key of the record is a field: one counted neither as a slot nor as read from the record is not plain.
    assert not _plain.records_plain([record], converted, ((offsets["b"], "b"),), (), rows.LEAVES, None)
    with pytest.raises(AttributeError, match="no field"):
        _plain.slot_offset(record_type, "c")
    with pytest.raises(TypeError, match="not an object slot"):
        _plain.slot_offset(record_type, "__module__")


def test_should_refuse_converted_records_smaller_than_the_slots() -> None:
    from versioning.validation import _plain

    with pytest.raises(TypeError, match="too small"):
        _plain.records_plain([{"a": "x"}], [object()], ((200, "a"),), (), rows.LEAVES, None)


def test_should_not_hash_a_type_whose_metaclass_could_run_python_code() -> None:
    from versioning.validation import _plain

    class Meta(type):
        pass

    class Odd(metaclass=Meta):
        pass

    class Plain:
        pass

    leaves = frozenset({Odd, Plain})
    assert _plain.records_plain([{"a": Plain()}], None, (), (), leaves, None)
    assert not _plain.records_plain([{"a": Odd()}], None, (), (), leaves, None)


def _spec_plain(value: Any, depth: int = 1) -> bool:
    """What the scan's docs promise, written out in Python: the property test's yardstick."""
    kind = type(value)
    if kind is str:
        return not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if kind is int:
        return -(2**63) <= value < 2**64
    if value is None or kind in (float, bool) or kind in rows.LEAVES:
        return True
    if kind is list:
        return depth < 128 and all(_spec_plain(v, depth + 1) for v in value)
    if kind is dict:
        keys_plain = all(type(k) is str and _spec_plain(k) for k in value)
        return depth < 128 and keys_plain and all(_spec_plain(v, depth + 1) for v in value.values())
    return False


_texts = st.text(st.characters(codec=None, categories=None), max_size=6) | st.sampled_from(
    ["\ud800", "é\udfff", "😀\udc00", "ascii", "♥"]
)
_scalars = (
    _texts
    | st.builds(_Text, _texts)
    | st.integers(-(2**65), 2**65)
    | st.floats()
    | st.booleans()
    | st.none()
    | st.binary(max_size=3)
    | st.builds(bytearray, st.binary(max_size=3))
    | st.builds(memoryview, st.binary(max_size=3))
    | st.dates()
    | st.datetimes()
    | st.times()
    | st.timedeltas()
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.builds(tuple, st.lists(inner, max_size=2))
    | st.dictionaries(_texts | st.builds(_Text, _texts) | st.integers(0, 3), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(records=st.lists(st.dictionaries(_texts, _values, max_size=4), max_size=4))
def test_should_call_plain_exactly_what_its_docs_promise(records: list[dict[str, Any]]) -> None:
    expected = all(_spec_plain(record, 1) for record in records)
    assert _plain(*records) is expected
