"""The compiled row upgrade gives exactly Subject.convert's records; the row pipeline the reference's errors.

Subjects are generated as real registry folders (v1 and v2 and a step between them built from add, copy,
rename, remove and promote operations, sometimes a ``call`` step to v3) and loaded with ``Registry.load``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from avro_strategies import evolve_fields
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from versioning.errors import VersioningError
from versioning.registry import Registry, Subject
from versioning.upgrade import RowUpgrader
from versioning.upgrade.pipeline import upgrade_rows

VALUES = {
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(allow_nan=False, width=32),
    "string": st.text(max_size=4),
    "bytes": st.binary(max_size=4),
    "boolean": st.booleans(),
}
PROMOTIONS = {"int": ["long", "float", "double"], "long": ["float", "double"], "string": ["bytes"], "bytes": ["string"]}

CALL_MODULE = """
def shout(record):
    out = dict(record)
    out["note"] = str(out.get("note")).upper()
    return out
"""


@st.composite
def subjects(draw: st.DrawFn) -> dict[str, Any]:
    """A subject's files: v1, v2, maybe v3, and subject.yaml with the steps."""
    count = draw(st.integers(1, 5))
    v1 = [
        {"name": f"f{i}", "type": t}
        for i, t in enumerate(draw(st.lists(st.sampled_from(sorted(VALUES)), min_size=count, max_size=count)))
    ]
    for field in v1:
        if draw(st.booleans()):
            field["type"] = ["null", field["type"]]
            field["default"] = None
    v2, ops = evolve_fields(draw, v1, PROMOTIONS)
    if draw(st.booleans()):
        v2.append({"name": "added", "type": ["null", "string"], "default": None})
    if draw(st.booleans()):
        v2.append({"name": "given", "type": "string", "default": "d"})
        ops.append({"add": {"field": "given", "value": "g"}})
    steps = [{"from": 1, "to": 2, "upgrade": ops}]
    versions = [v1, v2]
    if draw(st.booleans()):
        v3 = [*v2, {"name": "note", "type": "string", "default": ""}]
        versions.append(v3)
        steps.append({"from": 2, "to": 3, "upgrade": [{"call": {"upgrade": "steps:shout"}}]})
    return {"versions": versions, "steps": steps}


def _load(files: dict[str, Any], root: Path) -> Subject:
    folder = root / "thing"
    folder.mkdir()
    for number, fields in enumerate(files["versions"], 1):
        schema = {"type": "record", "name": "Thing", "fields": fields}
        (folder / f"v{number}.avsc").write_text(json.dumps(schema))
    (folder / "subject.yaml").write_text(yaml.safe_dump({"compatibility": "NONE", "steps": files["steps"]}))
    (folder / "steps.py").write_text(CALL_MODULE)
    return Registry.load(root).subject("thing")


@st.composite
def v1_records(draw: st.DrawFn, files: dict[str, Any]) -> list[dict[str, Any]]:
    records = []
    for _ in range(draw(st.integers(0, 8))):
        record: dict[str, Any] = {}
        for field in files["versions"][0]:
            kind = field["type"]
            if isinstance(kind, list):
                if draw(st.integers(0, 3)) == 0:
                    continue  # a field with a default may be missing
                record[field["name"]] = draw(st.one_of(st.none(), VALUES[kind[1]]))
            else:
                record[field["name"]] = draw(VALUES[kind])
        extra = draw(st.integers(0, 9))
        if extra == 0:
            record["schema_version"] = draw(st.sampled_from([1, "v1", True, 2]))
        elif extra == 1:
            record["unknown"] = 1
        elif extra == 2 and record:
            record.pop(next(iter(record)))
        records.append(record)
    return records


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_should_give_exactly_what_subject_convert_gives(data: st.DataObject) -> None:
    files = data.draw(subjects())
    with tempfile.TemporaryDirectory() as root:
        subject = _load(files, Path(root))
        records = data.draw(v1_records(files))
        for target in subject.versions:
            expected = _outcome(lambda: [subject.convert(r, target, 1) for r in records])  # noqa: B023
            got = _outcome(lambda: RowUpgrader(subject, 1, target).upgrade(records))  # noqa: B023
            assert got == expected
            if got[0] == "ok":  # the same key order too
                assert [list(r) for r in got[1]] == [list(r) for r in expected[1]]


def _outcome(run: Callable[[], Any]) -> tuple[str, Any]:
    """What a call returned, or the error it raised (type and message), so errors compare as results."""
    try:
        return "ok", run()
    except Exception as err:
        return "error", (type(err), str(err))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_should_report_the_reference_errors_and_upgrade_only_valid_records(data: st.DataObject) -> None:
    files = data.draw(subjects())
    with tempfile.TemporaryDirectory() as root:
        subject = _load(files, Path(root))
        records = data.draw(v1_records(files))
        target = subject.latest

        def reference() -> tuple[Any, ...]:
            invalid = list(subject.validator(1).invalid(records, 10))
            bad = {e.position - 10 for e in invalid}
            upgraded, cannot_move = [], 0
            for i, r in enumerate(records):
                if i in bad:
                    continue
                try:  # a record that cannot move (an unknown schema_version, say) is rejected, not fatal
                    upgraded.append(subject.convert(r, target, 1))
                except VersioningError:
                    cannot_move += 1
            # Every upgraded record is checked here; the fast path checks only those nothing vouches for.
            return invalid, upgraded, cannot_move + len(list(subject.validator(target).invalid(upgraded)))

        def fast() -> tuple[Any, ...]:
            result = upgrade_rows(subject, records, target, 1, first_position=10)
            return result.invalid, result.records, len(result.invalid_output)

        assert _outcome(fast) == _outcome(reference)


def test_should_upgrade_the_users_subject_from_v1_to_v3() -> None:
    subject = Registry.load("schemas").subject("users")
    records = [{"id": "u1", "name": "Ann", "created_at": "2024-01-01"}, {"id": "u2", "name": "Bo"}]
    result = upgrade_rows(subject, records, 3, 1)
    assert result.records == [
        {
            "id": "u1",
            "name": "Ann",
            "created_at": "2024-01-01",
            "email": None,
            "updated_at": "2024-01-01",
            "phone": None,
            "schema_version": 3,
        }
    ]
    assert [(e.position, [str(f) for f in e.errors]) for e in result.invalid] == [
        (2, ["created_at: missing required field"])
    ]


def test_should_downgrade_through_the_reference_steps() -> None:
    subject = Registry.load("schemas").subject("users")
    record = {"id": "u1", "name": "Ann", "created_at": "t", "email": "a@b", "updated_at": "t", "phone": None}
    upgrader = RowUpgrader(subject, 3, 1)
    assert not upgrader.compiled
    assert upgrader.upgrade([record]) == [{"id": "u1", "name": "Ann", "created_at": "t", "schema_version": 1}]
