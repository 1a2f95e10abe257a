"""The upgrade contract, run against every implementation of it.

Implementations: the reference (:meth:`Subject.convert`, record by record), the compiled rows
(:class:`RowUpgrader`), the row pipeline (:func:`upgrade_rows`), and whole files: Avro by record bytes, Avro
decoded, Parquet by Arrow columns (:func:`upgrade_file`). Subjects are generated registry folders: every
declarative operation, defaults of every kind (bytes, fixed, decimal, dates, times, timestamps, uuid, enum,
array, map, record, a union default of a later branch), and sometimes a ``call`` step.

1. Every implementation gives the reference's records.
2. The reference's records are valid for the target version, and fastavro writes and reads them back unchanged.
3. The downgrade, derived from the upgrade's operations, gives back every kept value, or refuses (a
   ``StepError``) only where a promotion could not hold the value exactly or a removed field has no default.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastavro
import pytest
from avro_strategies import full_records, read_back, same, subjects, write_subject_files
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from versioning import Registry, StepError, Subject
from versioning.datafiles import read_batches, write_batches
from versioning.datafiles.upgrade import upgrade_avro, upgrade_file
from versioning.upgrade import RowUpgrader, upgrade_rows

Records = list[dict[str, Any]]


def reference(subject: Subject, records: Records, target: int, folder: Path) -> Records:
    return [subject.convert(r, target, 1) for r in records]


def rows(subject: Subject, records: Records, target: int, folder: Path) -> Records:
    return RowUpgrader(subject, 1, target).upgrade(records)


def pipeline(subject: Subject, records: Records, target: int, folder: Path) -> Records:
    result = upgrade_rows(subject, records, target, 1)
    assert not result.invalid and not result.invalid_output
    return result.records


def _avro(byte_path: bool) -> Callable[[Subject, Records, int, Path], Records]:
    def run(subject: Subject, records: Records, target: int, folder: Path) -> Records:
        source, out = folder / "in.avro", folder / "out.avro"
        with source.open("wb") as handle:
            fastavro.writer(handle, subject.schema(1), records)
        upgrade_avro(subject, source, out, target, 1, byte_path=byte_path)
        with out.open("rb") as handle:
            return list(fastavro.reader(handle))

    return run


def parquet(subject: Subject, records: Records, target: int, folder: Path) -> Records:
    source, out = folder / "in.parquet", folder / "out.parquet"
    write_batches(source, [records], schema=subject.schema(1))
    upgrade_file(subject, source, out, target, 1)
    return [r for batch in read_batches(out, schema=subject.schema(target)) for r in batch.records]


IMPLEMENTATIONS = {
    "reference": reference,
    "rows": rows,
    "pipeline": pipeline,
    "avro bytes": _avro(byte_path=True),
    "avro decoded": _avro(byte_path=False),
    "parquet columns": parquet,
}
WRITES_FILES = {"avro bytes", "avro decoded", "parquet columns"}


def as_read_back(subject: Subject, version: int, records: Records) -> Records:
    schema = subject.schema(version)
    return [read_back(schema, {k: v for k, v in r.items() if k != "schema_version"}) for r in records]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_should_give_the_reference_records_that_fastavro_reads_back_unchanged(
    implementation: str, data: st.DataObject
) -> None:
    files = data.draw(subjects())
    records = data.draw(full_records(files["versions"][0]))
    if implementation == "parquet columns":
        # A Parquet file of no columns holds no rows: a record with no fields is not a Parquet record.
        assume(all(files["versions"]))
    with tempfile.TemporaryDirectory() as root:
        write_subject_files(files, Path(root) / "registry")
        subject = Registry.load(Path(root) / "registry").subject("thing")
        for target in subject.versions[1:]:
            expected = reference(subject, records, target, Path(root))
            assert [e for r in expected for e in subject.validator(target).errors(r)] == []
            buffer = io.BytesIO()
            fastavro.writer(buffer, subject.schema(target), expected)
            buffer.seek(0)
            assert same(list(fastavro.reader(buffer)), as_read_back(subject, target, expected))
            got = IMPLEMENTATIONS[implementation](subject, records, target, Path(root))
            if implementation in WRITES_FILES:
                assert same(got, as_read_back(subject, target, expected))
            else:
                assert same(got, expected)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_should_derive_a_downgrade_that_gives_back_every_kept_value(data: st.DataObject) -> None:
    files = data.draw(subjects())
    records = data.draw(full_records(files["versions"][0]))
    with tempfile.TemporaryDirectory() as root:
        write_subject_files(files, Path(root) / "registry")
        subject = Registry.load(Path(root) / "registry").subject("thing")
        for record in records:
            up = subject.convert(record, subject.latest, 1)
            try:
                down = subject.convert(up, 1)
            except StepError as err:
                # Refused only for a value a promotion did not keep exactly, or a removed field with no default
                # in v1 to put back.
                promoted = [op["promote"]["field"] for op in files["steps"][0]["upgrade"] if "promote" in op]
                assert any(_inexact(record[name]) for name in promoted) or "has no default" in str(err)
                continue
            removed = {f["name"] for f in files["versions"][0]} - _kept(files)
            assert same(
                {k: v for k, v in down.items() if k not in removed | {"schema_version"}},
                {k: v for k, v in record.items() if k not in removed},
            )
            assert down["schema_version"] == 1


def _kept(files: dict[str, Any]) -> set[str]:
    """The v1 fields whose values survive the upgrade (kept, renamed or promoted)."""
    names = {f["name"] for f in files["versions"][1]}
    renamed = {op["rename"]["from"] for op in files["steps"][0]["upgrade"] if "rename" in op}
    return {f["name"] for f in files["versions"][0] if f["name"] in names or f["name"] in renamed}


def _inexact(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and float(value) != value
